// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fallback attribution: its table is what the generator makes of Intel XED's patterns,
 * it covers the extensions Zydis 4.0 does not know, it matches only valid encodings and
 * only where Zydis has no answer, and no bytes make it read past the length it is given.
 * Encodings below are the corpus's (tests/fixtures/attrib_corpus.txt), as GNU as 2.40
 * assembles them or as built there from XED's patterns.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "analysis/isafallback.h"
#include "analysis/attrib.h"
#include "analysis/faultevent.h"
#include "core/features.h"

#define GENERATOR CPUDRIFT_SRCDIR "/detector/analysis/gen_isafallback.py"
#define XED_ISA CPUDRIFT_SRCDIR "/../shared/data/xed-isa"

TestSuite(isafallback);

struct sample {
	const char *hex, *mnemonic, *features;
};

/* One or more of each of the sixteen ISA sets, reg and memory forms, with SIB, disp8,
 * disp32, RIP-relative operands and immediates. */
static const struct sample valid[] = {
	{ "c4e2f1b4c2", "vpmadd52luq", "avx_ifma" },
	{ "c402b5b544da40", "vpmadd52huq", "avx_ifma" },
	{ "c4e27350c2", "vpdpbssd", "avx_vnni_int8" },
	{ "c4e24a502d00010000", "vpdpbsud", "avx_vnni_int8" },
	{ "c4e27451442408", "vpdpbuuds", "avx_vnni_int8" },
	{ "c4e272d2c2", "vpdpwsud", "avx_vnni_int16" },
	{ "c4e274d30520000000", "vpdpwuuds", "avx_vnni_int16" },
	{ "c4e27ab100", "vbcstnebf162ps", "avx_ne_convert" },
	{ "c4e27e72c1", "vcvtneps2bf16", "avx_ne_convert" },
	{ "c4e27cb01451", "vcvtneoph2ps", "avx_ne_convert" },
	{ "c4e26b5cc1", "tdpfp16ps", "amx_tile amx_fp16" },
	{ "c4e2696cc1", "tcmmimfp16ps", "amx_complex" },
	{ "c4e269e008", "cmpoxadd", "cmpccxadd" },
	{ "c4e269ef8c9800010000", "cmpnlexadd", "cmpccxadd" },
	{ "c4c2e9ee0c24", "cmplexadd", "cmpccxadd" },
	{ "0f183d10000000", "prefetchit0", "prefetchiti" },
	{ "0f183500000000", "prefetchit1", "prefetchiti" },
	{ "0f38fc08", "aadd", "rao_int" },
	{ "f34c0f38fc0424", "axor", "rao_int" },
	{ "0f01c6", "wrmsrns", "wrmsrns" },
	{ "f20f01c6", "rdmsrlist", "msrlist" },
	{ "f30f01c6", "wrmsrlist", "msrlist" },
	{ "c4e27fccc1", "vsha512msg1", "sha512 avx" },
	{ "c4e277cbc2", "vsha512rnds2", "sha512 avx" },
	{ "c4e371dec205", "vsm3rnds2", "sm3 avx" },
	{ "c4e277da0498", "vsm4rnds4", "sm4 avx" },
	{ "0f01c7", "pbndkb", "pbndkb" },
	{ "c4e77bf8c034120000", "urdmsr", "user_msr" },
	{ "f30f38f8c1", "uwrmsr", "user_msr" },
	/* Prefix rules: the last of F2/F3 is the mandatory prefix; 66 yields to it; REX
	 * before a legacy prefix is ignored; segment overrides change nothing. */
	{ "f3f20f01c6", "rdmsrlist", "msrlist" },
	{ "66f30f38fc08", "axor", "rao_int" },
	{ "48f20f01c6", "rdmsrlist", "msrlist" },
	{ "2e0f183d10000000", "prefetchit0", "prefetchiti" },
};

/* Look-alikes that are not these instructions: invalid encodings, or other forms. */
static const char *const not_matched[] = {
	"66c4e2f1b4c2", /* 66 before VEX: #UD */
	"f2c4e27350c2", /* F2 before VEX */
	"48c4e27350c2", /* REX before VEX */
	"f00f38fc08", /* LOCK aadd: #UD */
	"c4e271b4c2", /* vpmadd52luq with W0: AVX-IFMA is W1 only */
	"c4e26de008", /* cmpoxadd with L1 */
	"c4e269e0c8", /* cmpoxadd with a register operand */
	"c4e277ccc1", /* vsha512msg1 with a register in vvvv (NOVSR) */
	"c4e26f5cc1", /* tdpfp16ps with L1 */
	"0f1838", /* 0F 18 /7 [rax]: a NOP hint, not prefetchit0 */
	"0f183c2500000000", /* 0F 18 /7 [disp32] through SIB: not RIP-relative either */
	"0f18f8", /* 0F 18 /7 with a register operand */
	"0f01c5", /* 0F 01 /0 rm 5 */
	"660f01c6", /* 66 wrmsrns: no such instruction */
	"660f38f8c1", /* 66 0F 38 F8 with a register: neither MOVDIR64B nor USER-MSR */
	"c4e77bf8c834120000", /* urdmsr with ModRM.reg 1 */
	"c4e27150c2", /* vpdpbusd: AVX-VNNI, which Zydis knows; not in the table */
	"62f27e0872c1", /* EVEX vcvtneps2bf16: AVX512-BF16 */
	"0f0b", /* ud2 */
	"90",
};

static size_t unhex(const char *hex, uint8_t *out, size_t max)
{
	size_t n = 0;

	for (const char *p = hex; p[0] && p[1] && n < max;) {
		unsigned v;

		if (*p == ' ') {
			p++;
			continue;
		}
		cr_assert_eq(sscanf(p, "%2x", &v), 1, "bad hex in %s", hex);
		out[n++] = (uint8_t)v;
		p += 2;
	}
	return n;
}

Test(isafallback, matches_each_extension_with_its_length)
{
	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		struct isafallback_match m;
		struct featset want = { 0 };
		uint8_t b[32];
		size_t n = unhex(valid[i].hex, b, sizeof(b));

		cr_assert_eq(attrib_resolve(valid[i].features, &want, NULL, 0), 0);
		cr_expect_eq(isafallback_lookup(b, n, &m), 0, "%s does not match", valid[i].hex);
		cr_expect_str_eq(m.mnemonic ? m.mnemonic : "", valid[i].mnemonic, "%s",
				 valid[i].hex);
		cr_expect_eq(m.len, n, "%s: length %u, want %zu", valid[i].hex, m.len, n);
		cr_expect(featset_equal(&m.features, &want), "%s: features %s, want %s",
			  valid[i].hex, m.names ? m.names : "", valid[i].features);
		/* Bytes after the instruction are the next instruction's, never ours. */
		memset(b + n, 0xcc, sizeof(b) - n);
		cr_expect_eq(isafallback_lookup(b, 16, &m), 0);
		cr_expect_eq(m.len, n, "%s with bytes after it: length %u", valid[i].hex, m.len);
		/* Cut anywhere before its end, it is not an instruction. */
		for (size_t k = 0; k < n; k++)
			cr_expect_neq(isafallback_lookup(b, k, &m), 0,
				      "%s cut to %zu bytes matches", valid[i].hex, k);
	}
}

Test(isafallback, leaves_look_alikes_alone)
{
	for (size_t i = 0; i < sizeof(not_matched) / sizeof(not_matched[0]); i++) {
		struct isafallback_match m;
		uint8_t b[32];
		size_t n = unhex(not_matched[i], b, sizeof(b));

		cr_expect_eq(isafallback_lookup(b, n, &m), -ENOENT, "%s matches %s", not_matched[i],
			     m.mnemonic ? m.mnemonic : "?");
	}
}

Test(isafallback, refuses_more_than_fifteen_bytes)
{
	/* Eleven segment prefixes, then wrmsrlist's four bytes: 15, and one more is 16. */
	uint8_t b[32];
	struct isafallback_match m;

	memset(b, 0x2e, 11);
	memcpy(b + 11, "\xf3\x0f\x01\xc6", 4);
	cr_expect_eq(isafallback_lookup(b, 15, &m), 0);
	cr_expect_eq(m.len, 15);
	memset(b, 0x2e, 12);
	memcpy(b + 12, "\xf3\x0f\x01\xc6", 4);
	cr_expect_eq(isafallback_lookup(b, 16, &m), -EINVAL);
	memset(b, 0x2e, sizeof(b));
	cr_expect_eq(isafallback_lookup(b, sizeof(b), &m), -EINVAL);
	cr_expect_eq(isafallback_lookup(NULL, 4, &m), -EINVAL);
}

Test(isafallback, covers_the_extensions_zydis_4_0_lacks)
{
	static const char *const sets[] = {
		"AVX_IFMA", "AVX_VNNI_INT8", "AVX_VNNI_INT16", "AVX_NE_CONVERT",
		"AMX_FP16", "AMX_COMPLEX",   "CMPCCXADD",      "SHA512",
		"SM3",	    "SM4",	     "RAO_INT",	       "ICACHE_PREFETCH",
		"MSRLIST",  "WRMSRNS",	     "USER_MSR",       "PBNDKB",
	};
	const char *mn, *set, *names;

	for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
		int rows = 0;

		for (int i = 0; !isafallback_row(i, &mn, &set, &names); i++)
			rows += !strcmp(set, sets[s]);
		cr_expect_gt(rows, 0, "no fallback row for %s", sets[s]);
	}
	for (int i = 0; !isafallback_row(i, &mn, &set, &names); i++) {
		struct featset f = { 0 };
		char unknown[48] = "";

		cr_expect_eq(attrib_resolve(names, &f, unknown, sizeof(unknown)), 0,
			     "isafallback.def %s names \"%s\", which features.def lacks", mn,
			     unknown);
		cr_expect_gt(featset_count(&f), 0, "isafallback.def %s names no feature", mn);
	}
}

Test(isafallback, table_is_what_the_generator_writes)
{
	char cmd[1024];
	int st;

	if (access(XED_ISA, R_OK))
		cr_skip_test("no XED reference data at %s", XED_ISA);
	if (system("command -v python3 >/dev/null"))
		cr_skip_test("python3 is not installed");
	snprintf(cmd, sizeof(cmd), "python3 %s --check", GENERATOR);
	st = system(cmd);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "isafallback.def differs from what %s --check generates (run it without --check)",
		  GENERATOR);
}

/* --- attrib: the fallback only where Zydis has no answer -------------------------------- */

static void decode_hex(const char *hex, struct attribution *a)
{
	uint8_t b[32];
	size_t n = unhex(hex, b, sizeof(b));

	attrib_decode(b, n, a);
}

Test(isafallback, attrib_uses_it_where_zydis_rejects_or_sees_a_nop)
{
	struct attribution a;

	decode_hex("c4e27350c2", &a); /* Zydis 4.0 rejects it */
	cr_expect(a.decoded);
	cr_expect_str_eq(a.decoder, "fallback");
	cr_expect_str_eq(a.mnemonic, "vpdpbssd");
	cr_expect_str_eq(a.isa_set, "AVX_VNNI_INT8");
	cr_expect_eq(a.len, 5);
	cr_expect(featset_has(&a.features, feature_lookup("avx_vnni_int8")));

	decode_hex("0f183d10000000", &a); /* Zydis 4.0: nop [rip+0x10] */
	cr_expect_str_eq(a.decoder, "fallback");
	cr_expect_str_eq(a.mnemonic, "prefetchit0");
	cr_expect_eq(featset_count(&a.features), 1);
	cr_expect(featset_has(&a.features, feature_lookup("prefetchiti")));

	decode_hex("0f1838", &a); /* a NOP hint that matches no pattern stays Zydis's NOP */
	cr_expect_str_eq(a.decoder, "zydis");
	cr_expect_eq(featset_count(&a.features), 0);

	decode_hex("c4e27150c2", &a); /* vpdpbusd: Zydis knows it */
	cr_expect_str_eq(a.decoder, "zydis");
	cr_expect_str_eq(a.mnemonic, "vpdpbusd");

	decode_hex("c4e271b4c2", &a); /* neither knows it: undecodable, as before */
	cr_expect_not(a.decoded);
	cr_expect_str_eq(a.decoder, "");
}

Test(isafallback, explain_says_fallback)
{
	const char *build = getenv("CPUDRIFT_BUILD");
	char cmd[512], out[4096] = "";
	size_t len;
	FILE *p;

	if (!build)
		cr_skip_test("CPUDRIFT_BUILD is not set (run through make test)");
	snprintf(cmd, sizeof(cmd), "%s/cpudrift explain --json --no-probe c4e27350c2", build);
	p = popen(cmd, "r");
	cr_assert(p);
	len = fread(out, 1, sizeof(out) - 1, p);
	out[len] = '\0';
	pclose(p);
	cr_expect(strstr(out, "\"decoder\": \"fallback\""), "explain printed:\n%s", out);
	cr_expect(strstr(out, "\"avx_vnni_int8\""), "explain printed:\n%s", out);
	cr_expect(strstr(out, "\"isa_set\": \"AVX_VNNI_INT8\""), "explain printed:\n%s", out);
}

/* A SIGILL at vpdpbssd on a machine that never had AVX-VNNI-INT8: the fault JSON names the
 * feature, the class and the decoder (the bytes as the fault watcher would record them). */
Test(isafallback, fault_event_names_the_feature_and_the_decoder)
{
	static const uint8_t insn[] = { 0xc4, 0xe2, 0x73, 0x50, 0xc2, 0xcc, 0xcc, 0xcc };
	struct fault f = { .pid = 42,
			   .tid = 42,
			   .sig = SIGILL,
			   .si_code = 2,
			   .trap_nr = 6,
			   .nbytes = sizeof(insn),
			   .comm = "victim" };
	struct featset none = { 0 };
	struct classify_input in = { .advertised = &none, .has_xcr0 = true, .xcr0 = 0x7 };
	struct classification c;
	struct attribution a;
	struct json_object *body;
	struct event *e;
	const char *json;

	memcpy(f.bytes, insn, sizeof(insn));
	faultevent_classify(&f, &in, &a, &c);
	cr_expect_eq(c.cls, FC_NEVER_ADVERTISED, "class %s", fault_class_name(c.cls));
	e = faultevent_new(&f, &a, &c);
	cr_assert(e);
	body = e->body;
	json = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
	cr_expect(strstr(json, "\"decoder\":\"fallback\""), "%s", json);
	cr_expect(strstr(json, "\"feature\":\"avx_vnni_int8\""), "%s", json);
	cr_expect(strstr(json, "\"class\":\"never-advertised\""), "%s", json);
	cr_expect(strstr(json, "\"mnemonic\":\"vpdpbssd\""), "%s", json);
	event__free(e);
}

/* --- hostile bytes --------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Random bytes, half of them from the ones the parser branches on, so that deep paths
 * (prefix runs, VEX/EVEX, escapes, SIB) are reached often. */
static uint8_t fuzz_byte(void)
{
	static const uint8_t hot[] = { 0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x2e, 0x3e, 0x64, 0x40,
				       0x48, 0x4f, 0xc4, 0xc5, 0x62, 0x0f, 0x38, 0x3a, 0x01,
				       0x18, 0xfc, 0xf8, 0xe2, 0xe3, 0xe7, 0x04, 0x05, 0x3d,
				       0x44, 0x84, 0xc1, 0xc6, 0xc7, 0xff, 0x00 };
	uint64_t r = rng();

	return r & 1 ? hot[(r >> 8) % sizeof(hot)] : (uint8_t)(r >> 16);
}

/*
 * The bytes end right before a PROT_NONE page: a read past the length given is a crash.
 * The table's encodings with a random tail and random cuts, then plain random bytes.
 */
Test(isafallback, never_reads_past_the_length_given)
{
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *map =
		mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *end, buf[16];
	unsigned matched = 0;

	cr_assert_neq(map, MAP_FAILED);
	cr_assert_eq(mprotect(map + page, page, PROT_NONE), 0);
	end = map + page;
	for (int iter = 0; iter < 400000; iter++) {
		struct isafallback_match m;
		size_t n = rng() % 17;

		for (size_t k = 0; k < sizeof(buf); k++)
			buf[k] = fuzz_byte();
		if (iter % 4 == 0) {
			const struct sample *s = &valid[rng() % (sizeof(valid) / sizeof(valid[0]))];

			unhex(s->hex, buf, sizeof(buf));
		}
		memcpy(end - n, buf, n);
		if (!isafallback_lookup(end - n, n, &m)) {
			matched++;
			cr_assert_leq(m.len, n);
			cr_assert_leq(m.len, 15);
		}
		if (iter % 8 == 0) {
			struct attribution a;

			attrib_decode(end - n, n, &a);
			cr_assert_leq(a.len, n);
		}
	}
	cr_log_info("fuzz: %u of 400000 inputs matched a row", matched);
	cr_expect_gt(matched, 1000, "the fuzzer rarely reached a match (%u)", matched);
	munmap(map, 2 * page);
}
