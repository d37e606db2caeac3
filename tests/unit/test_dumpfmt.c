// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Dump import and export: every format parses into the right leaves, libcpuid reads what
 * we export, hostile input ends in an error naming its line, and libcpuid's own test
 * corpus imports and decodes like libcpuid does (where libcpuid is right).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <libcpuid/libcpuid.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/decode.h"
#include "capture/capture.h"
#include "formats/dumpfmt.h"
#include "formats/lcdump.h"
#include "core/log.h"
#include "formats/snapjson.h"

#define FIXTURES CPUDRIFT_SRCDIR "/tests/fixtures/dumps/"

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;

	*len = 0;
	if (!f)
		return NULL;
	for (;;) {
		buf = realloc(buf, cap + 65536 + 1);
		cr_assert(buf);
		size_t n = fread(buf + *len, 1, 65536, f);

		cap += 65536;
		*len += n;
		if (!n)
			break;
	}
	fclose(f);
	buf[*len] = 0;
	return buf;
}

static struct snapshot *import_fixture(const char *name)
{
	struct snapshot *s = NULL;
	struct errbuf err = { "" };
	char path[512];

	snprintf(path, sizeof(path), FIXTURES "%s", name);
	cr_assert_eq(dump_import_file(path, &s, &err), 0, "import %s: %s", name, err.msg);
	return s;
}

static const uint32_t *leaf(const struct snapshot *s, int vcpu, uint32_t l, uint32_t sub)
{
	const struct leafval *v = vcpu_dump_get(&s->vcpus[vcpu], l, sub);

	return v ? v->r : NULL;
}

static bool same_leaves(const struct vcpu_dump *a, const struct vcpu_dump *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (memcmp(&a->leaves[i], &b->leaves[i], sizeof(a->leaves[i])))
			return false;
	return true;
}

/* --- formats --------------------------------------------------------------------------- */

static const struct {
	const char *file;
	enum dump_format fmt;
	int nvcpus;
} fixtures[] = {
	{ "libcpuid-epyc-kvm-all.txt", DUMP_LIBCPUID, 2 },
	{ "libcpuid-epyc-kvm-one.txt", DUMP_LIBCPUID, 1 },
	{ "libcpuid-handmade.txt", DUMP_LIBCPUID, 1 },
	{ "cpuid-r-epyc-kvm.txt", DUMP_CPUID_R, 2 },
	{ "cpuid-r1-epyc-kvm.txt", DUMP_CPUID_R, 1 },
	{ "aida64-epyc-kvm.txt", DUMP_AIDA64, 2 },
	{ "aida64-handmade.txt", DUMP_AIDA64, 2 },
	{ "aida64-untagged.txt", DUMP_AIDA64, 2 },
};
#define NFIXTURES (sizeof(fixtures) / sizeof(fixtures[0]))

Test(dumpfmt, detects_each_format)
{
	static const char json[] = "  \n{ \"format\": \"cpudrift-snapshot\" }";

	for (size_t i = 0; i < NFIXTURES; i++) {
		size_t len;
		char path[512];
		char *buf;

		snprintf(path, sizeof(path), FIXTURES "%s", fixtures[i].file);
		buf = read_all(path, &len);
		cr_assert(buf, "missing fixture %s", path);
		cr_expect_eq(dump_detect(buf, len), fixtures[i].fmt, "%s detected as %s",
			     fixtures[i].file, dump_format_name(dump_detect(buf, len)));
		free(buf);
	}
	cr_expect_eq(dump_detect(json, strlen(json)), DUMP_JSON);
	cr_expect_eq(dump_detect("hello\nworld\n", 12), DUMP_UNKNOWN);
	cr_expect_eq(dump_detect("", 0), DUMP_UNKNOWN);
}

Test(dumpfmt, every_fixture_imports_with_its_vcpus)
{
	for (size_t i = 0; i < NFIXTURES; i++) {
		struct snapshot *s = import_fixture(fixtures[i].file);
		char want[256];

		cr_expect_eq(s->nvcpus, fixtures[i].nvcpus, "%s: %d vCPUs", fixtures[i].file,
			     s->nvcpus);
		snprintf(want, sizeof(want), "(%s)", dump_format_name(fixtures[i].fmt));
		cr_expect(strstr(s->source, "import:") == s->source && strstr(s->source, want),
			  "source '%s'", s->source);
		snapshot__free(s);
	}
}

Test(dumpfmt, aida64_subleaf_is_hex)
{
	struct snapshot *s = import_fixture("aida64-handmade.txt");

	cr_assert_eq(s->nvcpus, 2);
	cr_expect_eq(s->vcpus[0].cpu, 0);
	cr_expect_eq(s->vcpus[1].cpu, 1);
	/* "[SL 0A]" is subleaf 10 and must not overwrite subleaf 0 (libcpuid's mistake). */
	cr_assert(leaf(s, 0, 0xd, 10));
	cr_expect_eq(leaf(s, 0, 0xd, 10)[0], 0x8);
	cr_assert(leaf(s, 0, 0xd, 11));
	cr_expect_eq(leaf(s, 0, 0xd, 11)[0], 0x10);
	cr_expect_eq(leaf(s, 0, 0xd, 0)[0], 0x1f);
	cr_expect_null(leaf(s, 0, 0xd, 0xa0));
	cr_expect(leaf(s, 0, 4, 1) && !leaf(s, 0, 4, 2));
	/* Report text around the dump is ignored, the trailing [L1D: 32 KB] too. */
	cr_expect_eq(s->vcpus[0].n, 12);
	cr_expect_eq(s->vcpus[1].n, 5);
	snapshot__free(s);
}

Test(dumpfmt, aida64_untagged_repeats_are_subleaves)
{
	struct snapshot *s = import_fixture("aida64-untagged.txt");

	cr_assert_eq(s->nvcpus, 2);
	cr_expect_eq(s->vcpus[0].cpu, 1, "header number kept");
	cr_expect_eq(s->vcpus[1].cpu, 2);
	cr_assert(leaf(s, 0, 4, 0) && leaf(s, 0, 4, 1) && leaf(s, 0, 4, 2));
	cr_expect_eq(leaf(s, 0, 4, 1)[0], 0x122);
	cr_expect_null(leaf(s, 1, 4, 0));
	snapshot__free(s);
}

Test(dumpfmt, cpuid_r_and_aida64_of_one_capture_agree)
{
	struct snapshot *r = import_fixture("cpuid-r-epyc-kvm.txt");
	struct snapshot *a = import_fixture("aida64-epyc-kvm.txt");

	cr_assert_eq(r->nvcpus, a->nvcpus);
	for (int i = 0; i < r->nvcpus; i++) {
		cr_expect_eq(r->vcpus[i].cpu, i);
		cr_expect(same_leaves(&r->vcpus[i], &a->vcpus[i]), "vCPU %d differs", i);
	}
	/* The subleaves `cpuid -r` lists are kept: 7.1 and 0xD.1 carry features. */
	cr_expect(leaf(r, 0, 7, 1) && leaf(r, 0, 0xd, 1));
	cr_expect(featset_equal(&r->features, &a->features));
	snapshot__free(r);
	snapshot__free(a);
}

Test(dumpfmt, libcpuid_arrays_keep_only_real_leaves)
{
	struct snapshot *s = import_fixture("libcpuid-handmade.txt");

	cr_assert_eq(s->nvcpus, 1);
	/* Entries past leaf 0's and 0x80000000's maxima are garbage in a full array. */
	cr_expect(leaf(s, 0, 0xb, 0) && !leaf(s, 0, 0xc, 0) && !leaf(s, 0, 0x14, 0));
	cr_expect(leaf(s, 0, 0x80000008, 0) && !leaf(s, 0, 0x80000009, 0));
	/* Subleaves stop where each leaf's rule stops them. */
	cr_expect(leaf(s, 0, 4, 0) && leaf(s, 0, 4, 1) && leaf(s, 0, 4, 2));
	cr_expect_null(leaf(s, 0, 4, 3));
	cr_expect_null(leaf(s, 0, 4, 4), "cache after the terminator");
	cr_expect(leaf(s, 0, 0xb, 1) && !leaf(s, 0, 0xb, 2));
	cr_expect_null(leaf(s, 0, 0x8000001d, 0), "leaf beyond the extended maximum");
	cr_expect_eq(leaf(s, 0, 4, 2)[0], 0x1c004143);
	snapshot__free(s);
}

Test(dumpfmt, libcpuid_multi_cpu_form)
{
	struct snapshot *l = import_fixture("libcpuid-epyc-kvm-all.txt");
	struct snapshot *r = import_fixture("cpuid-r-epyc-kvm.txt");
	uint32_t maxb, maxe;

	cr_assert_eq(l->nvcpus, 2);
	maxb = leaf(l, 0, 0, 0)[0];
	maxe = leaf(l, 0, 0x80000000, 0)[0];
	for (int i = 0; i < l->nvcpus; i++) {
		const struct vcpu_dump *v = &l->vcpus[i];

		cr_expect_eq(v->cpu, i);
		for (size_t k = 0; k < v->n; k++) {
			uint32_t lf = v->leaves[k].leaf;

			cr_expect(lf < 0x80000000 ? lf <= maxb && lf < 32 :
						    lf <= maxe && lf < 0x80000020,
				  "leaf 0x%x outside libcpuid's arrays or the CPU's range", lf);
		}
	}
	/* Same machine as the `cpuid -r` fixture: the leaves that do not vary agree. */
	cr_expect_arr_eq(leaf(l, 0, 0, 0), leaf(r, 0, 0, 0), 16);
	cr_expect_arr_eq(leaf(l, 0, 7, 0), leaf(r, 0, 7, 0), 16);
	cr_expect_arr_eq(leaf(l, 0, 0x80000001, 0), leaf(r, 0, 0x80000001, 0), 16);
	snapshot__free(l);
	snapshot__free(r);
}

Test(dumpfmt, json_snapshot_imports)
{
	struct snapshot *a = import_fixture("cpuid-r-epyc-kvm.txt"), *b = NULL;
	struct json_object *o = snapshot_to_json(a);
	const char *txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	struct errbuf err = { "" };

	cr_assert_eq(dump_detect(txt, strlen(txt)), DUMP_JSON);
	cr_assert_eq(dump_import(txt, strlen(txt), "snap.json", &b, &err), 0, "%s", err.msg);
	cr_assert_eq(b->nvcpus, a->nvcpus);
	for (int i = 0; i < a->nvcpus; i++)
		cr_expect(same_leaves(&a->vcpus[i], &b->vcpus[i]));
	cr_expect_str_eq(b->source, "import:snap.json (json)");
	json_object_put(o);
	snapshot__free(a);
	snapshot__free(b);
}

/* --- export ---------------------------------------------------------------------------- */

static struct snapshot *live_or_skip(void)
{
	struct capture_opts co = { .only_cpu = -1, .skip_extra = true };
	struct snapshot *s = NULL;
	struct errbuf err = { "" };

	if (capture_snapshot(&s, &co, &err))
		cr_skip_test("cannot capture this machine: %s", err.msg);
	return s;
}

static char *export_to_file(const struct snapshot *s, int vcpu)
{
	char *path = strdup("/tmp/cpudrift-dumpfmt-XXXXXX");
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	cr_assert(f);
	cr_assert_eq(lcdump_export(s, vcpu, f), 0);
	cr_assert_eq(fclose(f), 0);
	return path;
}

/* libcpuid reads each array entry as the leaf (or subleaf) we hold, zero elsewhere. */
static void check_libcpuid_reads(const struct vcpu_dump *v, const struct cpu_raw_data_t *raw)
{
	static const uint32_t zero[4];
	static const struct {
		uint32_t leaf;
		bool indexed;
		int n;
		size_t off;
	} arrays[] = {
		{ 0, true, MAX_CPUID_LEVEL, offsetof(struct cpu_raw_data_t, basic_cpuid) },
		{ 0x80000000, true, MAX_EXT_CPUID_LEVEL,
		  offsetof(struct cpu_raw_data_t, ext_cpuid) },
		{ 4, false, MAX_INTELFN4_LEVEL, offsetof(struct cpu_raw_data_t, intel_fn4) },
		{ 0xb, false, MAX_INTELFN11_LEVEL, offsetof(struct cpu_raw_data_t, intel_fn11) },
		{ 0x12, false, MAX_INTELFN12H_LEVEL, offsetof(struct cpu_raw_data_t, intel_fn12h) },
		{ 0x14, false, MAX_INTELFN14H_LEVEL, offsetof(struct cpu_raw_data_t, intel_fn14h) },
		{ 0x8000001d, false, MAX_AMDFN8000001DH_LEVEL,
		  offsetof(struct cpu_raw_data_t, amd_fn8000001dh) },
	};
	int held = 0;

	for (size_t a = 0; a < sizeof(arrays) / sizeof(arrays[0]); a++) {
		const uint32_t(*arr)[NUM_REGS] = (const void *)((const char *)raw + arrays[a].off);

		for (int i = 0; i < arrays[a].n; i++) {
			uint32_t l = arrays[a].indexed ? arrays[a].leaf + i : arrays[a].leaf;
			uint32_t sub = arrays[a].indexed ? 0 : i;
			const struct leafval *lv = vcpu_dump_get(v, l, sub);
			const uint32_t *want = lv && lcdump_holds(v, l, sub) ? lv->r : zero;

			held += want != zero;
			cr_expect_arr_eq(arr[i], want, 16, "leaf 0x%x.%u: libcpuid read %08x %08x",
					 l, sub, arr[i][0], arr[i][1]);
		}
	}
	cr_expect_gt(held, 0, "export wrote nothing");
}

/*
 * Every leaf the format can hold comes back unchanged.  Nothing else comes back, except
 * zeros for leaves within range that the source lacked: fixed arrays cannot say "absent".
 */
static void check_round_trip(const struct vcpu_dump *orig, const struct vcpu_dump *back)
{
	static const uint32_t zero[4];

	for (size_t i = 0; i < orig->n; i++) {
		const struct leafval *o = &orig->leaves[i];
		const struct leafval *b = vcpu_dump_get(back, o->leaf, o->subleaf);

		if (!lcdump_holds(orig, o->leaf, o->subleaf))
			continue;
		cr_expect(b && !memcmp(b->r, o->r, sizeof(o->r)), "leaf 0x%x.%u lost", o->leaf,
			  o->subleaf);
	}
	for (size_t i = 0; i < back->n; i++) {
		const struct leafval *b = &back->leaves[i];
		const struct leafval *o = vcpu_dump_get(orig, b->leaf, b->subleaf);

		if (!o) {
			cr_expect_arr_eq(b->r, zero, sizeof(zero), "leaf 0x%x.%u invented", b->leaf,
					 b->subleaf);
			continue;
		}
		cr_expect(lcdump_holds(orig, b->leaf, b->subleaf) &&
				  !memcmp(b->r, o->r, sizeof(o->r)),
			  "leaf 0x%x.%u changed", b->leaf, b->subleaf);
	}
}

static void check_export(const struct snapshot *s, const char *what)
{
	for (int i = 0; i < s->nvcpus; i++) {
		char *path = export_to_file(s, i);
		struct cpu_raw_data_t raw;
		struct snapshot *back = NULL;
		struct errbuf err = { "" };

		cr_assert_eq(cpuid_deserialize_raw_data(&raw, path), 0, "%s: libcpuid: %s", what,
			     cpuid_error());
		check_libcpuid_reads(&s->vcpus[i], &raw);
		cr_assert_eq(dump_import_file(path, &back, &err), 0, "%s: %s", what, err.msg);
		cr_assert_eq(back->nvcpus, 1);
		check_round_trip(&s->vcpus[i], &back->vcpus[0]);
		snapshot__free(back);
		unlink(path);
		free(path);
	}
}

Test(dumpfmt, export_is_read_by_libcpuid_and_round_trips)
{
	for (size_t i = 0; i < NFIXTURES; i++) {
		struct snapshot *s = import_fixture(fixtures[i].file);

		check_export(s, fixtures[i].file);
		snapshot__free(s);
	}
}

Test(dumpfmt, export_of_live_capture_round_trips)
{
	struct snapshot *s = live_or_skip();

	check_export(s, "live");
	snapshot__free(s);
}

Test(dumpfmt, export_all_vcpus_is_libcpuids_multi_cpu_form)
{
	struct snapshot *s = import_fixture("cpuid-r-epyc-kvm.txt"), *back = NULL;
	struct cpu_raw_data_array_t arr;
	struct errbuf err = { "" };
	char *path = export_to_file(s, -1);

	cr_assert_eq(cpuid_deserialize_all_raw_data(&arr, path), 0, "%s", cpuid_error());
	cr_expect_eq((int)arr.num_raw, s->nvcpus);
	for (int i = 0; i < s->nvcpus && i < (int)arr.num_raw; i++)
		check_libcpuid_reads(&s->vcpus[i], &arr.raw[i]);
	cpuid_free_raw_data_array(&arr);
	cr_assert_eq(dump_import_file(path, &back, &err), 0, "%s", err.msg);
	cr_assert_eq(back->nvcpus, s->nvcpus);
	for (int i = 0; i < s->nvcpus; i++)
		check_round_trip(&s->vcpus[i], &back->vcpus[i]);
	cr_expect_eq(lcdump_export(s, s->nvcpus, stdout), -EINVAL);
	snapshot__free(back);
	snapshot__free(s);
	unlink(path);
	free(path);
}

/* --- hostile input ----------------------------------------------------------------------- */

/* The error names the input and, for text formats, the line: "NAME:LINE: what". */
static void expect_line_error(int ret, const struct errbuf *err, const char *name, int line)
{
	char want[128];

	cr_expect_lt(ret, 0, "accepted bad input");
	if (line > 0) {
		snprintf(want, sizeof(want), "%s:%d: ", name, line);
		cr_expect(!strncmp(err->msg, want, strlen(want)), "'%s' is not at '%s'", err->msg,
			  want);
	}
}

static bool has_line_number(const char *msg, const char *name)
{
	size_t n = strlen(name);
	const char *p = msg + n + 1;

	if (strncmp(msg, name, n) || msg[n] != ':' || *p < '1' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9')
		p++;
	return !strncmp(p, ": ", 2);
}

Test(dumpfmt, malformed_lines_name_their_line)
{
	static const struct {
		enum dump_format fmt;
		const char *text;
		int line;
	} cases[] = {
		{ DUMP_AIDA64, "CPUID 00000000: 0000000D-756E6547-6C65746E-49656E6Z\n", 1 },
		{ DUMP_AIDA64, "junk\nCPUID 00000000: 0000000D-756E6547-6C65746E\n", 2 },
		{ DUMP_AIDA64, "CPUID 00000000: 0000000D-756E6547-6C65746E-49656E69 [SL 0G]\n", 1 },
		{ DUMP_AIDA64, "CPUID 000000000: 0000000D-756E6547-6C65746E-49656E69\n", 1 },
		{ DUMP_AIDA64, "CPUID 00000000: 123456789-0-0-0\n", 1 },
		{ DUMP_AIDA64, "CPUID 00000000: 1-2-3-4\nCPUID 00000000: 1-2-3-5 [SL 00]\n", 2 },
		{ DUMP_AIDA64, "CPUID 00000001: 1-2-3-4\n", 1 },
		{ DUMP_AIDA64, "CPUID 00000000: 1-2-3-4\nCPU#0x1 AffMask: 0x2\n", 2 },
		{ DUMP_AIDA64, "CPUID 00000000: 1-2-3-4\n------[ Logical CPU #99999999 ]------\n",
		  2 },
		{ DUMP_AIDA64, "CPUID 00000000: 1-2-3-4\n\x01\n", 2 },
		{ DUMP_AIDA64, "a\nb\n", 2 },
		{ DUMP_AIDA64, "", 1 },
		{ DUMP_CPUID_R, "CPU 0:\n   0x00000000 0x00: eax=0x1 ebx=0x2 ecx=0x3\n", 2 },
		{ DUMP_CPUID_R, "CPU 0:\n   0x00000000 0x00: eax=0x1 ebx=0x2 ecx=0x3 edx=0xq\n",
		  2 },
		{ DUMP_CPUID_R, "CPU 0:\n   0x00000000 0x00 eax=0x1 ebx=0x2 ecx=0x3 edx=0x4\n", 2 },
		{ DUMP_CPUID_R, "CPU 0:\n   0x00000000 0x00: eax=0x1 ebx=0x2 ecx=0x3 edx=0x4 x\n",
		  2 },
		{ DUMP_CPUID_R, "CPU zero:\n", 1 },
		{ DUMP_CPUID_R, "CPU 0:\nhello\n", 2 },
		{ DUMP_LIBCPUID, "version=0.6.2\nbasic_cpuid[0]=1 2 3\n", 2 },
		{ DUMP_LIBCPUID, "basic_cpuid[0]=1 2 3 4\nbasic_cpuid[x]=1 2 3 4\n", 2 },
		{ DUMP_LIBCPUID, "basic_cpuid[0]=1 2 3 4\nbasic_cpuid[99999]=1 2 3 4\n", 2 },
		{ DUMP_LIBCPUID, "basic_cpuid[0]=1 2 3 4\nfoo_cpuid[1]=1 2 3 4\n", 2 },
		{ DUMP_LIBCPUID, "basic_cpuid[0]=1 2 3 4\nbasic_cpuid[0]=1 2 3 5\n", 2 },
		{ DUMP_LIBCPUID, "basic_cpuid[0]=1 2 3 4\next_cpuid[0]=1 2 3 4 5\n", 2 },
		{ DUMP_LIBCPUID, "version=1\n_________________ Logical CPU #x _________________\n",
		  2 },
		{ DUMP_LIBCPUID, "version=1\n_________________ Logical CPU #0 _________________\n",
		  2 },
		{ DUMP_LIBCPUID, "version=1\narm_midr=00000000410fd493\n", 2 },
		{ DUMP_LIBCPUID, "basic_cpuid[0]=1 2 3 4\nbasic_cpuid[1]=1 2 3 4\0\n", 2 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct snapshot *s = NULL;
		struct errbuf err = { "" };
		size_t len = strlen(cases[i].text);
		int ret;

		/* The NUL case: its length runs past the embedded NUL. */
		if (strstr(cases[i].text, "4\n") && cases[i].text[len - 1] == '4')
			len += 2;
		ret = dump_parse(cases[i].text, len, cases[i].fmt, "bad", &s, &err);
		expect_line_error(ret, &err, "bad", cases[i].line);
		cr_expect_null(s);
		snapshot__free(s);
	}
}

Test(dumpfmt, nul_and_overlong_lines)
{
	char line[DUMP_MAX_LINE + 64];
	struct snapshot *s = NULL;
	struct errbuf err = { "" };
	static const char nul[] = "CPUID 00000000: 1-2-3-4\nCPUID 00000001: 1-2\0-3-4\n";

	expect_line_error(dump_parse(nul, sizeof(nul) - 1, DUMP_AIDA64, "nul", &s, &err), &err,
			  "nul", 2);
	cr_expect(strstr(err.msg, "NUL"), "%s", err.msg);
	memset(line, 'A', sizeof(line));
	memcpy(line, "CPUID 00000000: ", 16);
	for (enum dump_format f = DUMP_LIBCPUID; f <= DUMP_CPUID_R; f++) {
		expect_line_error(dump_parse(line, sizeof(line), f, "long", &s, &err), &err, "long",
				  1);
		cr_expect(strstr(err.msg, "longer"), "%s", err.msg);
	}
	expect_line_error(dump_parse("{\"a\":\0}", 7, DUMP_JSON, "j", &s, &err), &err, "j", 1);
	expect_line_error(dump_parse("{\n\"a\": [1,\n", 11, DUMP_JSON, "j", &s, &err), &err, "j",
			  3);
	expect_line_error(dump_parse("{}\n}", 4, DUMP_JSON, "j", &s, &err), &err, "j", 2);
	expect_line_error(dump_parse("[1]", 3, DUMP_JSON, "j", &s, &err), &err, "j", 1);
	cr_expect_null(s);
}

Test(dumpfmt, absurd_sizes_are_refused)
{
	size_t big = DUMP_MAX_BYTES + 1ul, n = 0;
	char *buf = malloc(big), *p;
	struct snapshot *s = NULL;
	struct errbuf err = { "" };

	cr_assert(buf);
	memset(buf, 'A', big);
	cr_expect_eq(dump_import(buf, big, "huge", &s, &err), -EFBIG);
	cr_expect(strstr(err.msg, "huge:") == err.msg && strstr(err.msg, "MiB"), "%s", err.msg);
	/* One vCPU too many, each with a valid leaf 0. */
	for (p = buf; n <= DUMP_MAX_VCPUS; n++)
		p += sprintf(p, "CPU %zu:\n   0x00000000 0x00: eax=0x1 ebx=0x2 ecx=0x3 edx=0x4\n",
			     n);
	expect_line_error(dump_parse(buf, p - buf, DUMP_CPUID_R, "vcpus", &s, &err), &err, "vcpus",
			  2 * DUMP_MAX_VCPUS + 1);
	/* One leaf too many in a vCPU. */
	p = buf;
	for (n = 0; n <= DUMP_MAX_LEAVES; n++)
		p += sprintf(p, "CPUID %08zX: 00000001-2-3-4\n", n);
	expect_line_error(dump_parse(buf, p - buf, DUMP_AIDA64, "leaves", &s, &err), &err, "leaves",
			  DUMP_MAX_LEAVES + 1);
	cr_expect_null(s);
	free(buf);
}

/* xorshift64*: the same inputs on every run. */
static uint64_t rnd_state = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 0x2545f4914f6cdd1dull;
}

Test(dumpfmt, random_bytes_end_in_a_line_error)
{
	static char buf[4096];
	int n = 0;

	for (int i = 0; i < 3000; i++) {
		size_t len = rnd() % sizeof(buf);

		for (size_t k = 0; k < len; k++)
			buf[k] = (char)rnd();
		for (enum dump_format f = DUMP_UNKNOWN; f <= DUMP_JSON; f++) {
			struct snapshot *s = NULL;
			struct errbuf err = { "" };
			int ret = dump_parse(buf, len, f, "rnd", &s, &err);

			cr_assert_lt(ret, 0, "random input accepted as %s", dump_format_name(f));
			cr_assert(has_line_number(err.msg, "rnd"), "no line number: %s", err.msg);
			n++;
		}
	}
	cr_log_info("%d random inputs refused with a line number", n);
}

/* Flip, delete, duplicate, truncate: never a crash; a refusal names its line. */
Test(dumpfmt, mutated_dumps_never_crash)
{
	int refused = 0, accepted = 0;

	for (size_t i = 0; i < NFIXTURES; i++) {
		char path[512];
		size_t len;
		char *orig, *buf;

		snprintf(path, sizeof(path), FIXTURES "%s", fixtures[i].file);
		orig = read_all(path, &len);
		cr_assert(orig);
		buf = malloc(2 * len + 16);
		for (int m = 0; m < 300; m++) {
			size_t n = len, at = rnd() % len, k = 1 + rnd() % 64;
			struct snapshot *s = NULL;
			struct errbuf err = { "" };

			memcpy(buf, orig, len);
			switch (rnd() % 5) {
			case 0:
				buf[at] = (char)rnd();
				break;
			case 1:
				buf[at] ^= 1 << (rnd() % 8);
				break;
			case 2:
				k = at + k > len ? len - at : k;
				memmove(buf + at, buf + at + k, len - at - k);
				n -= k;
				break;
			case 3:
				k = at + k > len ? len - at : k;
				memmove(buf + at + k, buf + at, len - at);
				n += k;
				break;
			default:
				n = at;
			}
			if (dump_import(buf, n, "mut", &s, &err)) {
				refused++;
				cr_expect(has_line_number(err.msg, "mut") ||
						  !strncmp(err.msg, "mut: ", 5),
					  "%s", err.msg);
			} else {
				accepted++;
				cr_expect_gt(s->nvcpus, 0);
			}
			snapshot__free(s);
		}
		free(buf);
		free(orig);
	}
	cr_expect_gt(refused, 0, "no mutation was refused: the parsers check nothing");
	cr_log_info("mutations: %d refused, %d still valid dumps", refused, accepted);
}

/* --- libcpuid's test corpus ---------------------------------------------------------------- */

#define CORPUS CPUDRIFT_SRCDIR "/../shared/data/libcpuid-tests"

/*
 * libcpuid's flag names where Linux spells the same CPUID bit differently; lx NULL: the
 * names match but the bits do not, so the flag cannot be compared.
 */
static const struct {
	const char *lc, *lx;
} name_map[] = {
	{ "pclmul", "pclmulqdq" },
	{ "fma3", "fma" },
	{ "xd", "nx" }, /* libcpuid says xd on Intel, nx on AMD: one bit, 0x80000001 EDX[20] */
	{ "dts64", "dtes64" },
	{ "cid", "cnxt_id" },
	{ "avx512vnni", "avx512_vnni" },
	{ "avx512vbmi2", "avx512_vbmi2" },
	{ "avx512bitalg", "avx512_bitalg" },
	{ "avx512vpopcntdq", "avx512_vpopcntdq" },
	{ "avx512bf16", "avx512_bf16" },
	{ "hwpstate", "hw_pstate" },
	/* libcpuid: 0x80000007 EDX[10] (AMD EffFreqRO); Linux: leaf 6 ECX[0]. */
	{ "aperfmperf", NULL },
};

static const char *to_linux(const char *lc)
{
	for (size_t i = 0; i < sizeof(name_map) / sizeof(name_map[0]); i++)
		if (!strcmp(lc, name_map[i].lc))
			return name_map[i].lx;
	return lc;
}

static bool has_word(const char *list, const char *w)
{
	size_t n = strlen(w);

	for (const char *p = list; (p = strstr(p, w)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return true;
	return false;
}

/* Whether libcpuid's @flags list names Linux feature @lx under any of its spellings. */
static bool lc_lists(const char *flags, const char *lx)
{
	if (has_word(flags, lx))
		return true;
	for (size_t i = 0; i < sizeof(name_map) / sizeof(name_map[0]); i++)
		if (name_map[i].lx && !strcmp(lx, name_map[i].lx) &&
		    has_word(flags, name_map[i].lc))
			return true;
	return false;
}

/* The flags libcpuid decodes for every vendor (load_features_common() in cpuid_main.c). */
static const char lc_common[] =
	"fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr "
	"sse sse2 ht pni pclmulqdq monitor ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave "
	"osxsave avx f16c rdrand hypervisor bmi1 avx2 bmi2 rdseed adx sha_ni syscall rdtscp lm "
	"lahf_lm abm constant_tsc";

/*
 * Where libcpuid's expected flags are wrong, not ours (by Linux name).  @vendor NULL: any
 * vendor.  @lc_lacks: libcpuid omits a flag whose CPUID bit is set (else: it claims a flag
 * whose bit is clear).  @not_common: only flags outside libcpuid's common table.
 */
static const struct lc_mistake {
	const char *flag_prefix;
	const char *vendor;
	bool lc_lacks, not_common;
	const char *why;
	int seen;
} lc_mistakes_init[] = {
	{ "avx512", "AuthenticAMD", true, false,
	  "libcpuid 0.6.2 decodes AVX-512 only in its Intel path: cpu_identify() of "
	  "libcpuid-epyc-kvm-one.txt says no avx512f.  The corpus lists come from a newer "
	  "libcpuid, so it may not show here" },
	{ "3dnowprefetch", "GenuineIntel", true, false,
	  "libcpuid decodes 0x80000001 ECX[8] (PREFETCHW) only for AMD; Intel sets it since "
	  "Broadwell" },
	{ "ht", "GenuineIntel", true, false,
	  "libcpuid clears ht on Intel when leaf 1 EBX reports one logical CPU; the bit is set" },
	{ "", "CentaurHauls", true, true,
	  "libcpuid runs only its common flag table for VIA and Zhaoxin (CentaurHauls): their "
	  "vendor-specific bits are not decoded" },
	{ NULL, NULL, false, false, NULL },
};

static struct lc_mistake lc_mistakes[sizeof(lc_mistakes_init) / sizeof(lc_mistakes_init[0])];

static bool lc_excused(const char *flag, const char *vendor, bool lc_lacks)
{
	for (struct lc_mistake *m = lc_mistakes; m->flag_prefix; m++) {
		if (strncmp(flag, m->flag_prefix, strlen(m->flag_prefix)) ||
		    m->lc_lacks != lc_lacks)
			continue;
		if (m->vendor && !strstr(vendor, m->vendor))
			continue;
		if (m->not_common && has_word(lc_common, flag))
			continue;
		m->seen++;
		return true;
	}
	return false;
}

static struct {
	int files, arm, imported, compared, agreed, excused, disagreed;
	bool lc_knows[FEAT__COUNT];
} corpus;

static void corpus_compare(const char *path, const struct snapshot *s, const char *flags)
{
	struct featset any = { 0 }, one;

	/* libcpuid decodes one vCPU: compare its "yes" with any vCPU, its "no" with all. */
	for (int i = 0; i < s->nvcpus; i++) {
		decode_vcpu_features(&s->vcpus[i], &one);
		for (int k = 0; k < FEATSET_WORDS; k++)
			any.w[k] |= one.w[k];
	}
	for (const char *p = flags; *p;) {
		char name[64];
		size_t n = strcspn(p, " ");
		int id;

		snprintf(name, sizeof(name), "%.*s", (int)(n < 63 ? n : 63), p);
		p += n + (p[n] == ' ');
		if (!to_linux(name) || (id = feature_lookup(to_linux(name))) < 0)
			continue;
		corpus.compared++;
		if (featset_has(&any, id))
			corpus.agreed++;
		else if (lc_excused(to_linux(name), s->id.vendor, false))
			corpus.excused++;
		else {
			corpus.disagreed++;
			cr_log_error("%s: libcpuid says %s, our decode does not", path, name);
		}
	}
	for (int id = 0; id < FEAT__COUNT; id++) {
		const char *lx = feature_table[id].name;

		if (!corpus.lc_knows[id] || !featset_has(&s->features, id))
			continue;
		corpus.compared++;
		if (lc_lists(flags, lx)) {
			corpus.agreed++;
		} else if (lc_excused(lx, s->id.vendor, true)) {
			corpus.excused++;
		} else {
			corpus.disagreed++;
			cr_log_error("%s: CPUID sets %s, libcpuid's list lacks it", path, lx);
		}
	}
}

static int corpus_file(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	static const char dashes[] = "\n----------------------------------------"
				     "----------------------------------------\n";
	struct snapshot *s = NULL;
	struct errbuf err = { "" };
	char *buf, *cut, *last;
	size_t len;

	(void)st;
	(void)ftw;
	if (type != FTW_F || !strstr(path, ".test"))
		return 0;
	corpus.files++;
	buf = read_all(path, &len);
	cr_assert(buf);
	cut = strstr(buf, dashes);
	cr_assert(cut, "%s: no line of dashes", path);
	*cut = 0;
	if (strstr(path, "/arm/")) {
		/* libcpuid's ARM dumps: no CPUID to decode, refused with the reason. */
		cr_expect_neq(dump_import(buf, cut - buf, path, &s, &err), 0);
		cr_expect(strstr(err.msg, "ARM"), "%s", err.msg);
		corpus.arm++;
		free(buf);
		return 0;
	}
	if (dump_import(buf, cut - buf, path, &s, &err)) {
		cr_log_error("%s", err.msg);
		cr_expect_fail("a corpus dump failed to import");
		free(buf);
		return 0;
	}
	corpus.imported++;
	cut += strlen(dashes);
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = 0;
	last = strrchr(cut, '\n');
	corpus_compare(path, s, last ? last + 1 : cut);
	snapshot__free(s);
	free(buf);
	return 0;
}

Test(dumpfmt, libcpuid_corpus_imports_and_agrees)
{
	if (access(CORPUS, R_OK))
		cr_skip_test("libcpuid test corpus not found at %s", CORPUS);
	memcpy(lc_mistakes, lc_mistakes_init, sizeof(lc_mistakes));
	memset(&corpus, 0, sizeof(corpus));
	/* The flags libcpuid 0.6.2 can report at all; the others are not compared. */
	for (int i = 0; i < NUM_CPU_FEATURES; i++) {
		const char *lc = cpu_feature_str(i);
		int id = lc && to_linux(lc) ? feature_lookup(to_linux(lc)) : -1;

		if (id >= 0)
			corpus.lc_knows[id] = true;
	}
	cr_assert_eq(nftw(CORPUS, corpus_file, 16, FTW_PHYS), 0);
	cr_expect_gt(corpus.files, 0);
	cr_expect_eq(corpus.imported + corpus.arm, corpus.files);
	cr_log_info("libcpuid corpus: %d files, %d x86 imported, %d ARM refused (no CPUID)",
		    corpus.files, corpus.imported, corpus.arm);
	cr_log_info("flags: %d compared, %d agree, %d known libcpuid mistakes, %d disagree",
		    corpus.compared, corpus.agreed, corpus.excused, corpus.disagreed);
	for (struct lc_mistake *m = lc_mistakes; m->flag_prefix; m++)
		cr_log_info("  %d x %s* (%s): %s", m->seen, m->flag_prefix,
			    m->vendor ? m->vendor : "any vendor", m->why);
	cr_expect_eq(corpus.disagreed, 0);
}
