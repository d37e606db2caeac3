// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The evidence tracker, the one producer of cpuid.*, probe.* and fault.sigill: on the
 * project machine's own dump (tests/fixtures/dumps/cpuid-r-epyc-kvm.txt), with features
 * removed by clearing their CPUID bits through the feature table.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "analysis/decode.h"
#include "analysis/tracker.h"
#include "core/log.h"
#include "formats/dumpfmt.h"

#define DUMP CPUDRIFT_SRCDIR "/tests/fixtures/dumps/cpuid-r-epyc-kvm.txt"

TestSuite(tracker);

/* The project machine at @mono, without @drop (NULL-terminated names). */
static struct snapshot *machine(int64_t mono, const char *const *drop)
{
	struct errbuf err = { "" };
	struct snapshot *s = NULL;

	cr_assert_eq(dump_import_file(DUMP, &s, &err), 0, "%s", err.msg);
	for (; drop && *drop; drop++) {
		const struct feature *f = &feature_table[feature_lookup(*drop)];

		for (int i = 0; i < s->nvcpus; i++) {
			struct vcpu_dump *v = &s->vcpus[i];

			for (size_t k = 0; k < v->n; k++)
				if (v->leaves[k].leaf == f->leaf &&
				    v->leaves[k].subleaf == f->subleaf)
					v->leaves[k].r[f->reg] &= ~(1u << f->bit);
		}
	}
	cr_assert_eq(decode_snapshot(s, &err), 0, "%s", err.msg);
	s->monotonic_ns = mono;
	s->realtime_ns = 1000000000000000000LL + mono;
	return s;
}

static const char *body_str(const struct event *e, const char *key)
{
	struct json_object *v;

	cr_assert(json_object_object_get_ex(e->body, key, &v), "no %s in %s", key,
		  json_object_to_json_string(e->body));
	return json_object_get_string(v);
}

static bool set_has(const struct event *e, const char *key, const char *name)
{
	struct json_object *a;

	if (!json_object_object_get_ex(e->body, key, &a))
		return false;
	for (size_t i = 0; i < json_object_array_length(a); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(a, i)), name))
			return true;
	return false;
}

/* vaddps ymm0, ymm1, ymm2: needs AVX. */
static struct fault avx_fault(int64_t mono, int64_t start)
{
	struct fault f = { .pid = 4242,
			   .tid = 4242,
			   .cpu = 1,
			   .sig = 4,
			   .si_code = 2,
			   .trap_nr = 6,
			   .nbytes = 4,
			   .bytes = { 0xc5, 0xf4, 0x58, 0xc2 },
			   .comm = "java",
			   .mono_ns = mono,
			   .real_ns = mono,
			   .boot_ns = mono,
			   .start_ns = (uint64_t)start,
			   .count = 1 };
	return f;
}

Test(tracker, first_snapshot_is_the_baseline_and_drift_is_stamped_with_the_capture)
{
	static const char *const lose[] = { "avx2", "avx", NULL };
	struct tracker *t = tracker__new();
	struct evlist l = { 0 };
	const struct event *e;

	cr_assert_eq(tracker_snapshot(t, machine(10, NULL), &l), 0);
	cr_assert_not_null(tracker_baseline(t), "the first snapshot did not become the baseline");
	evlist_free(&l);
	cr_assert_eq(tracker_snapshot(t, machine(500, lose), &l), 0);
	cr_assert_eq(l.n, 1, "one drift event expected, got %zu", l.n);
	e = l.v[0];
	cr_expect_eq(e->kind, EV_CPUID_DRIFT);
	cr_expect_eq(e->sev, SEV_CRITICAL);
	cr_expect_eq(e->monotonic_ns, 500, "not stamped with the capture's time");
	cr_expect(set_has(e, "removed", "avx2") && set_has(e, "removed", "avx"));
	cr_expect_str_eq(e->subject, "avx");
	cr_expect(json_object_object_get_ex(e->body, "diff", NULL));
	cr_expect_str_eq(body_str(e, "level_after"), "2"); /* x86-64-v3 needs AVX2 */
	evlist_free(&l);
	tracker__free(t);
}

Test(tracker, a_fault_before_the_next_snapshot_is_judged_by_cpuid_now)
{
	static const char *const lose[] = { "avx", NULL };
	struct tracker *t = tracker__new();
	struct snapshot *now = machine(0, lose);
	struct evlist l = { 0 };
	struct fault f = avx_fault(100, 5);

	cr_assert_eq(tracker_snapshot(t, machine(10, NULL), &l), 0);
	evlist_free(&l);
	/* The VM moved; vCPU 1 no longer advertises AVX, the last snapshot still does. */
	tracker_cpuid_now(t, &f, &now->features, "vcpu1");
	cr_assert_eq(tracker_fault(t, &f, &l), 0);
	cr_assert_eq(l.n, 1);
	cr_expect_str_eq(body_str(l.v[0], "class"), "feature-lost");
	cr_expect_str_eq(body_str(l.v[0], "lost_now_from"), "vcpu1");
	cr_expect(set_has(l.v[0], "lost_now", "avx"));
	cr_expect_eq(l.v[0]->monotonic_ns, 100, "not stamped with the fault's time");
	evlist_free(&l);
	/* Without the reading, the same fault contradicts CPUID: advertised yet faulting. */
	f = avx_fault(200, 5);
	cr_assert_eq(tracker_fault(t, &f, &l), 0);
	cr_expect_str_eq(body_str(l.v[0], "class"), "advertised-but-faulting");
	evlist_free(&l);
	snapshot__free(now);
	tracker__free(t);
}

Test(tracker, a_process_started_before_a_change_had_the_features_before_it)
{
	static const char *const lose[] = { "avx", NULL };
	struct tracker *t = tracker__new();
	struct evlist l = { 0 };
	struct fault f;

	/* Baseline without AVX, then a snapshot with it, then it is gone again. */
	cr_assert_eq(tracker_snapshot(t, machine(10, lose), &l), 0);
	cr_assert_eq(tracker_snapshot(t, machine(20, NULL), &l), 0);
	cr_assert_eq(tracker_snapshot(t, machine(300, lose), &l), 0);
	evlist_free(&l);
	f = avx_fault(400, 25); /* started at 25, between the gain and the loss */
	cr_assert_eq(tracker_fault(t, &f, &l), 0);
	cr_expect_str_eq(body_str(l.v[0], "class"), "feature-lost");
	evlist_free(&l);
	f = avx_fault(400, 350); /* started after the loss: it never saw AVX */
	cr_assert_eq(tracker_fault(t, &f, &l), 0);
	cr_expect_str_eq(body_str(l.v[0], "class"), "never-advertised");
	evlist_free(&l);
	tracker__free(t);
}

Test(tracker, probe_runs_give_mismatch_and_shadow_drift_with_the_daemons_keys)
{
	struct tracker *t = tracker__new();
	struct probe_summary a = { .mono_ns = 1 }, b = { .mono_ns = 2 };
	struct evlist l = { 0 };

	featset_add(&a.shadow, feature_lookup("rdseed"));
	featset_add(&a.shadow, feature_lookup("rdpid"));
	cr_assert_eq(tracker_probes(t, &a, &l), 0);
	cr_expect_eq(l.n, 0, "a first clean run is not news");
	featset_add(&b.shadow, feature_lookup("rdpid"));
	featset_add(&b.shadow, feature_lookup("sha_ni"));
	featset_add(&b.mismatch, feature_lookup("avx2"));
	cr_assert_eq(tracker_probes(t, &b, &l), 0);
	cr_assert_eq(l.n, 2);
	cr_expect_eq(l.v[0]->kind, EV_PROBE_MISMATCH);
	cr_expect(set_has(l.v[0], "features", "avx2"));
	cr_expect_eq(l.v[1]->kind, EV_PROBE_SHADOW_DRIFT);
	cr_expect(set_has(l.v[1], "removed", "rdseed"));
	cr_expect(set_has(l.v[1], "added", "sha_ni"));
	cr_expect_eq(l.v[1]->monotonic_ns, 2);
	evlist_free(&l);
	/* The same mismatch again is not a new event. */
	cr_assert_eq(tracker_probes(t, &b, &l), 0);
	cr_expect_eq(l.n, 0);
	evlist_free(&l);
	tracker__free(t);
}
