// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Instruction probes: the table covers what the issue lists and each probe's bytes belong
 * to its feature (Zydis); on this machine every verdict agrees with CPUID and XCR0; the
 * runner survives faulting, crashing and hanging probes; a CPUID dump lacking a feature
 * this machine executes makes it masked.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "analysis/attrib.h"
#include "capture/capture.h"
#include "formats/dumpfmt.h"
#include "core/log.h"
#include "capture/probe.h"
#include "core/snapshot.h"

TestSuite(probe);

static const struct probe_def *find_probe(const char *name)
{
	for (size_t i = 0; i < probe_table_len; i++)
		if (!strcmp(probe_table[i].feature, name))
			return &probe_table[i];
	return NULL;
}

Test(probe, table_covers_the_issue_list)
{
	static const char *const want[] = {
		"pni",
		"ssse3",
		"sse4_1",
		"sse4_2",
		"sse4a",
		"popcnt",
		"abm",
		"movbe",
		"aes",
		"pclmulqdq",
		"avx",
		"avx2",
		"fma",
		"f16c",
		"bmi1",
		"bmi2",
		"adx",
		"rdrand",
		"rdseed",
		"sha_ni",
		"avx512f",
		"avx512cd",
		"avx512bw",
		"avx512dq",
		"avx512vl",
		"avx512ifma",
		"avx512vbmi",
		"avx512_vbmi2",
		"avx512_vnni",
		"avx512_bitalg",
		"avx512_vpopcntdq",
		"avx512_bf16",
		"avx512_fp16",
		"avx512_vp2intersect",
		"avx_vnni",
		"avx_ifma",
		"avx_vnni_int8",
		"avx_ne_convert",
		"gfni",
		"vaes",
		"vpclmulqdq",
		"amx_tile",
		"amx_int8",
		"amx_bf16",
		"amx_fp16",
		"clflushopt",
		"clwb",
		"rdpid",
		"rdtscp",
		"fsgsbase",
		"movdiri",
		"movdir64b",
		"serialize",
		"waitpkg",
		"pku",
		"rtm",
		"xop",
		"fma4",
		"tbm",
		"3dnow",
		"clzero",
		"rdpru",
		"mwaitx",
		"cmpccxadd",
		"sha512",
		"sm3",
		"sm4",
		"cx16",
		"lahf_lm",
		"xsaveopt",
		"xsavec",
		"uintr",
		"enqcmd",
		"hreset",
		"cldemote",
	};
	size_t probes = 0;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_expect(find_probe(want[i]), "no probe row for %s", want[i]);
	for (size_t i = 0; i < probe_table_len; i++) {
		const struct probe_def *p = &probe_table[i];

		cr_expect_geq(feature_lookup(p->feature), 0, "%s is not in the feature table",
			      p->feature);
		for (size_t j = 0; j < i; j++)
			cr_expect(strcmp(probe_table[j].feature, p->feature), "%s listed twice",
				  p->feature);
		if (!p->fn) {
			cr_expect(p->unprobeable && *p->unprobeable, "%s: no probe, no reason",
				  p->feature);
			continue;
		}
		probes++;
		cr_expect(probe_insn_len(p) >= 1 && probe_insn_len(p) <= 15,
			  "%s: instruction is %zu bytes", p->feature, probe_insn_len(p));
	}
	cr_expect_geq(probes, 70, "only %zu executable probes", probes);
}

/* The instruction must need the feature, or a fault would not mean the feature is gone. */
Test(probe, every_instruction_belongs_to_its_feature)
{
	for (size_t i = 0; i < probe_table_len; i++) {
		const struct probe_def *p = &probe_table[i];
		int id = feature_lookup(p->feature);
		struct attribution a;
		int ret;

		if (!p->fn || id < 0)
			continue;
		ret = attrib_decode(p->insn, probe_insn_len(p), &a);
		if (p->flags & PROBE_DECODER_GAP) {
			/* Zydis 4.0 predates it: it must not decode as something else. */
			if (ret || !a.decoded || a.isa_set[0] == '\0' ||
			    !strcmp(a.isa_set, "INVALID"))
				continue;
		}
		cr_expect_eq(ret, 0, "%s: %s does not decode", p->feature, p->mnemonic);
		if (ret)
			continue;
		cr_expect_eq(a.len, probe_insn_len(p), "%s: decoded %u of %zu bytes (%s)",
			     p->feature, a.len, probe_insn_len(p), a.text);
		cr_expect(featset_has(&a.features, id), "%s: %s has ISA set %s, not this feature",
			  p->feature, a.text, a.isa_set);
	}
}

Test(probe, classify_rules)
{
	cr_expect_eq(probe_classify(true, true, true, PROBE_EXECUTED), PROBE_R_OK);
	cr_expect_eq(probe_classify(true, true, true, PROBE_FAULTED), PROBE_R_MISMATCH);
	cr_expect_eq(probe_classify(true, true, true, PROBE_LEGACY), PROBE_R_MISMATCH);
	cr_expect_eq(probe_classify(true, false, true, PROBE_EXECUTED), PROBE_R_MASKED);
	cr_expect_eq(probe_classify(true, false, true, PROBE_FAULTED), PROBE_R_ABSENT);
	cr_expect_eq(probe_classify(true, true, false, PROBE_FAULTED), PROBE_R_OS_DISABLED);
	cr_expect_eq(probe_classify(true, false, false, PROBE_FAULTED), PROBE_R_OS_DISABLED);
	cr_expect_eq(probe_classify(true, true, true, PROBE_PERM_REFUSED), PROBE_R_OS_DISABLED);
	cr_expect_eq(probe_classify(false, true, true, PROBE_NOT_RUN), PROBE_R_UNPROBEABLE);
	cr_expect_eq(probe_classify(true, true, true, PROBE_CRASHED), PROBE_R_ERROR);
	cr_expect_eq(probe_classify(true, true, true, PROBE_HUNG), PROBE_R_ERROR);
	cr_expect_str_eq(probe_result_name(PROBE_R_OS_DISABLED), "os-disabled");
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h;
}

Test(probe, shadow_hash_is_fnv1a_of_sorted_names)
{
	struct featset s = { 0 };
	int a = feature_lookup("sse4a"), b = feature_lookup("abm"), c = feature_lookup("rdpid");
	char buf[17];

	cr_assert(a >= 0 && b >= 0 && c >= 0);
	cr_expect_eq(featset_hash(&s), 0xcbf29ce484222325ull);
	cr_expect_eq(fnv1a("a"), 0xaf63dc4c8601ec8cull); /* published FNV-1a 64 test vector */
	featset_add(&s, a);
	featset_add(&s, c);
	featset_add(&s, b);
	cr_expect_eq(featset_hash(&s), fnv1a("abm,rdpid,sse4a"));
	featset_hash_str(&s, buf);
	cr_expect_eq(strlen(buf), 16);
	cr_expect_eq(strtoull(buf, NULL, 16), fnv1a("abm,rdpid,sse4a"));
}

static struct snapshot *live(void)
{
	struct capture_opts co = { .only_cpu = -1 };
	struct errbuf err = { "" };
	struct snapshot *s = NULL;

	cr_assert_eq(capture_snapshot(&s, &co, &err), 0, "capture: %s", err.msg);
	return s;
}

/* Expectations derived from this machine's CPUID and XCR0, never from a CPU model. */
Test(probe, results_agree_with_cpuid_and_xcr0_here)
{
	struct snapshot *s = live();
	struct probe_report *r = NULL;
	struct errbuf err = { "" };

	cr_assert_eq(probe_run(s, NULL, &r, &err), 0, "%s", err.msg);
	cr_expect_eq(r->n, probe_table_len);
	cr_expect_eq(r->crashed, 0, "a probe crashed or hung its child");
	for (size_t i = 0; i < r->n; i++) {
		const struct probe_row *row = &r->rows[i];
		const char *name = row->def->feature;

		if (!row->def->fn) {
			cr_expect_eq(row->result, PROBE_R_UNPROBEABLE, "%s", name);
			continue;
		}
		cr_expect(row->obs.outcome != PROBE_CRASHED && row->obs.outcome != PROBE_HUNG &&
				  row->obs.outcome != PROBE_NOT_RUN,
			  "%s: %s", name, probe_outcome_name(row->obs.outcome));
		if (row->advertised && row->os_enabled)
			cr_expect_eq(row->result, PROBE_R_OK,
				     "%s advertised and enabled but %s (%s)", name,
				     probe_result_name(row->result),
				     probe_outcome_name(row->obs.outcome));
		else if (row->obs.outcome == PROBE_EXECUTED)
			/* what we could not see enabled (kernel flags can be filtered) but ran */
			cr_expect_eq(row->result, row->advertised ? PROBE_R_OK : PROBE_R_MASKED,
				     "%s ran but is %s", name, probe_result_name(row->result));
		else if (!row->os_enabled)
			cr_expect_eq(row->result, PROBE_R_OS_DISABLED, "%s not enabled but %s",
				     name, probe_result_name(row->result));
		else if (row->obs.outcome == PROBE_PERM_REFUSED)
			cr_expect_eq(row->result, PROBE_R_OS_DISABLED, "%s", name);
		else
			cr_expect_eq(row->result, PROBE_R_ABSENT,
				     "%s not advertised, faults, but %s", name,
				     probe_result_name(row->result));
	}
	cr_expect_not(probe_report_has_mismatch(r));
	probe_report__free(r);
	snapshot__free(s);
}

/* Injected probes: the runner must survive whatever a probe does. */
static int p_nop(void *scratch)
{
	(void)scratch;
	return 1;
}

static int p_ud2(void *scratch)
{
	(void)scratch;
	__asm__ volatile("ud2");
	return 1;
}

static int p_crash(void *scratch)
{
	(void)scratch;
	/* si_code SI_TKILL: not a probe fault, so the guard lets the child die. */
	raise(SIGSEGV);
	return 1;
}

static int p_hang(void *scratch)
{
	(void)scratch;
	for (;;)
		__asm__ volatile("pause");
	return 1;
}

static int p_legacy(void *scratch)
{
	(void)scratch;
	return 0;
}

static const struct probe_def injected[] = {
	{ .feature = "sse", .fn = p_nop },    { .feature = "sse2", .fn = p_ud2 },
	{ .feature = "cmov", .fn = p_crash }, { .feature = "cx8", .fn = p_nop },
	{ .feature = "mmx", .fn = p_hang },   { .feature = "fxsr", .fn = p_legacy },
	{ .feature = "fpu", .fn = p_nop },
};

Test(probe, faults_crashes_and_hangs_are_reported_and_the_run_goes_on)
{
	struct probe_exec_opts o = { .timeout_ms = 5000, .stall_ms = 200 };
	size_t n = sizeof(injected) / sizeof(injected[0]);
	struct probe_obs obs[sizeof(injected) / sizeof(injected[0])];
	int deaths = probe_execute(injected, n, NULL, obs, &o);

	cr_assert_eq(deaths, 2, "children lost: %d", deaths);
	cr_expect_eq(obs[0].outcome, PROBE_EXECUTED);
	cr_expect_eq(obs[1].outcome, PROBE_FAULTED);
	cr_expect_eq(obs[1].sig, SIGILL);
	cr_expect_eq(obs[2].outcome, PROBE_CRASHED);
	cr_expect_eq(obs[2].sig, SIGSEGV);
	cr_expect_eq(obs[3].outcome, PROBE_EXECUTED, "the run did not resume after the crash");
	cr_expect_eq(obs[4].outcome, PROBE_HUNG);
	cr_expect_eq(obs[5].outcome, PROBE_LEGACY, "the run did not resume after the hang");
	cr_expect_eq(obs[6].outcome, PROBE_EXECUTED);
}

Test(probe, ud2_advertised_is_a_mismatch)
{
	struct snapshot *s = live();
	struct probe_opts po = { .table = injected, .n = 2, .exec = { .stall_ms = 200 } };
	struct probe_report *r = NULL;
	struct errbuf err = { "" };

	cr_assert_eq(probe_run(s, &po, &r, &err), 0, "%s", err.msg);
	cr_assert_eq(r->n, 2);
	cr_assert(r->rows[1].advertised, "sse2 not advertised on x86-64?");
	cr_expect_eq(r->rows[1].result, PROBE_R_MISMATCH);
	cr_expect(probe_report_has_mismatch(r));
	probe_report__free(r);
	snapshot__free(s);
}

Test(probe, whole_run_timeout_bounds_a_run_of_hangs)
{
	static const struct probe_def hangs[] = {
		{ .feature = "sse", .fn = p_hang },
		{ .feature = "sse2", .fn = p_hang },
		{ .feature = "cmov", .fn = p_hang },
	};
	struct probe_exec_opts o = { .timeout_ms = 300, .stall_ms = 200 };
	struct probe_obs obs[3];

	probe_execute(hangs, 3, NULL, obs, &o);
	cr_expect_eq(obs[0].outcome, PROBE_HUNG);
	cr_expect_eq(obs[2].outcome, PROBE_NOT_RUN, "ran past the run's deadline");
}

/*
 * This machine's CPUID as `cpuid -r` prints it, with @feature's bit cleared in every leaf
 * line that holds it, imported like any foreign dump.
 */
static struct snapshot *import_without(int feature)
{
	const struct feature *f = &feature_table[feature];
	static const char *const regs[] = { "eax=0x", "ebx=0x", "ecx=0x", "edx=0x" };
	char key[32], line[512], *buf = NULL;
	struct snapshot *out = NULL;
	struct errbuf err = { "" };
	size_t len = 0;
	FILE *in, *mem;

	in = popen("cpuid -r -1 2>/dev/null", "r");
	if (!in)
		return NULL;
	mem = open_memstream(&buf, &len);
	snprintf(key, sizeof(key), "0x%08x 0x%02x:", f->leaf, f->subleaf);
	while (fgets(line, sizeof(line), in)) {
		char *p;

		if (strstr(line, key) && (p = strstr(line, regs[f->reg]))) {
			char *v = p + strlen(regs[f->reg]);
			uint32_t x = (uint32_t)strtoul(v, NULL, 16) & ~(1u << f->bit);
			char hex[9];

			snprintf(hex, sizeof(hex), "%08x", x);
			memcpy(v, hex, 8);
		}
		fputs(line, mem);
	}
	/* open_memstream publishes buf and len on fclose */
	fclose(mem);
	if (pclose(in) != 0 || len == 0) {
		free(buf);
		return NULL;
	}
	cr_assert_eq(dump_import(buf, len, "cpuid -r (edited)", &out, &err), 0, "%s", err.msg);
	free(buf);
	return out;
}

Test(probe, a_dump_lacking_a_feature_this_machine_runs_makes_it_masked)
{
	int id = feature_lookup("avx2");
	struct snapshot *here = live(), *sim;
	struct probe_report *r = NULL;
	struct errbuf err = { "" };
	struct featset only = { 0 };
	struct probe_opts po = { .only = &only };

	cr_assert_geq(id, 0);
	if (!featset_has(&here->features, id) ||
	    !feature_xstate_enabled(id, here->has_xcr0, here->xcr0)) {
		snapshot__free(here);
		cr_skip_test("this machine does not run avx2");
	}
	snapshot__free(here);
	sim = import_without(id);
	if (!sim)
		cr_skip_test("the cpuid tool (Debian package cpuid) is not installed");
	cr_assert_not(featset_has(&sim->features, id), "the edited dump still has avx2");
	featset_add(&only, id);
	cr_assert_eq(probe_run(sim, &po, &r, &err), 0, "%s", err.msg);
	cr_assert_eq(r->n, 1);
	cr_expect_eq(r->rows[0].result, PROBE_R_MASKED, "avx2 is %s",
		     probe_result_name(r->rows[0].result));
	cr_expect(featset_has(&r->shadow, id));
	probe_report__free(r);
	snapshot__free(sim);
}
