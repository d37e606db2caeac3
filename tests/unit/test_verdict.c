// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The migration verdict: recorded series end to end (timing rules + evidence + fuse), and
 * the fuse itself on hand-built events: what raises confidence, what never does alone,
 * the window.  How a stream of evidence becomes incidents is test_incidents.c's.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "core/log.h"
#include "formats/recording.h"
#include "analysis/verdict.h"

#define REC(name) CPUDRIFT_SRCDIR "/tests/fixtures/recordings/" name

TestSuite(verdict);

struct best {
	enum confidence conf;
	int verdicts;
	struct json_object *reasons; /* of the strongest verdict */
};

static enum confidence conf_of(const struct event *e)
{
	struct json_object *v;

	cr_assert(json_object_object_get_ex(e->body, "confidence", &v));
	for (int c = CONF_NONE; c <= CONF_HIGH; c++)
		if (!strcmp(verdict_confidence_name(c), json_object_get_string(v)))
			return c;
	cr_assert_fail("unknown confidence %s", json_object_get_string(v));
	return CONF_NONE;
}

static int keep_best(void *ctx, const struct event *e)
{
	struct best *b = ctx;
	struct json_object *r;
	enum confidence c;

	if (e->kind != EV_MIGRATION_SUSPECTED)
		return 0;
	b->verdicts++;
	c = conf_of(e);
	if (c >= b->conf) {
		b->conf = c;
		json_object_put(b->reasons);
		json_object_object_get_ex(e->body, "reasons", &r);
		b->reasons = json_object_get(r);
	}
	return 0;
}

static struct best replay(const char *path)
{
	struct best b = { 0 };
	struct errbuf err = { { 0 } };

	cr_assert_eq(recording_replay(path, NULL, keep_best, &b, NULL, &err), 0, "%s", err.msg);
	return b;
}

static bool has_reason(const struct best *b, const char *key)
{
	size_t n = b->reasons ? json_object_array_length(b->reasons) : 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *k;

		json_object_object_get_ex(json_object_array_get_idx(b->reasons, i), "reason", &k);
		if (!strcmp(json_object_get_string(k), key))
			return true;
	}
	return false;
}

Test(verdict, feature_drift_with_fault_burst_is_high)
{
	struct best b = replay(REC("feature_drift.jsonl"));

	cr_expect_eq(b.conf, CONF_HIGH);
	cr_expect(has_reason(&b, "cpuid.drift"));
	cr_expect(has_reason(&b, "fault.sigill/migration"));
	/* twenty faults are one reason, counted, not twenty */
	cr_expect_eq(json_object_array_length(b.reasons), 2);
	json_object_put(b.reasons);
}

Test(verdict, paused_migration_without_hardware_evidence_is_low)
{
	struct best b = replay(REC("paused_migration.jsonl"));

	/* The VM stood still (RTC jump, then NTP's step), but nothing says its CPU changed. */
	cr_expect_eq(b.conf, CONF_LOW);
	cr_expect(has_reason(&b, "timing.clock_step/host"));
	json_object_put(b.reasons);
}

Test(verdict, tsc_rate_change_is_at_least_medium)
{
	struct best b = replay(REC("tsc_rate.jsonl"));

	cr_expect_geq(b.conf, CONF_MEDIUM);
	cr_expect(has_reason(&b, "timing.tsc_rate"));
	json_object_put(b.reasons);
}

Test(verdict, noise_gives_no_verdict)
{
	struct best b = replay(REC("noise.jsonl"));

	cr_expect_eq(b.verdicts, 0);
	json_object_put(b.reasons);
}

Test(verdict, a_lone_clock_step_or_stall_gives_no_verdict)
{
	struct best b = replay(REC("clock_step.jsonl")), c = replay(REC("stall_vm.jsonl")),
		    d = replay(REC("stall_vcpu.jsonl"));

	cr_expect_eq(b.verdicts, 0);
	cr_expect_eq(c.verdicts, 0);
	cr_expect_eq(d.verdicts, 0);
}

/* --- the fuse on hand-built events ---------------------------------------------------------- */

static struct event *ev(enum event_kind k, int64_t t_s, const char *subject, const char *key,
			const char *val)
{
	struct event *e = event__new(k, SEV_WARNING);

	e->monotonic_ns = t_s * 1000000000LL;
	e->realtime_ns = e->monotonic_ns + 1700000000000000000LL;
	snprintf(e->subject, sizeof(e->subject), "%s", subject);
	if (key)
		json_object_object_add(e->body, key, json_object_new_string(val));
	return e;
}

static enum confidence fuse(struct event **v, size_t n)
{
	struct verdict_opts o;
	struct verdict_result r;
	enum confidence c;

	verdict_opts_default(&o);
	cr_assert_eq(verdict_fuse(v, n, &o, &r), 0);
	c = r.conf;
	verdict_result_clear(&r);
	for (size_t i = 0; i < n; i++)
		event__free(v[i]);
	return c;
}

Test(verdict, faults_outside_the_migration_classes_do_not_count)
{
	struct event *v[] = {
		ev(EV_FAULT_SIGILL, 10, "x", "class", "not-feature-related"),
		ev(EV_FAULT_SIGILL, 11, "x", "class", "never-advertised"),
		ev(EV_FAULT_SIGILL, 12, "x", "class", "os-disabled"),
	};

	cr_expect_eq(fuse(v, 3), CONF_NONE);
}

Test(verdict, a_feature_lost_fault_alone_is_high)
{
	struct event *v[] = { ev(EV_FAULT_SIGILL, 10, "x", "class", "feature-lost") };

	cr_expect_eq(fuse(v, 1), CONF_HIGH);
}

/*
 * Advertised but faulting rests on the bytes read after the fault: alone it is no verdict
 * until a probe faults on the same feature; confirmed, it is high.
 */
Test(verdict, advertised_but_faulting_counts_once_a_probe_confirms_it)
{
	struct event *alone[] = { ev(EV_FAULT_SIGILL, 10, "x", "class",
				     "advertised-but-faulting") };
	struct event *probed[] = { ev(EV_FAULT_SIGILL, 10, "x", "class",
				      "advertised-but-faulting") };

	cr_expect_eq(fuse(alone, 1), CONF_NONE);
	json_object_object_add(probed[0]->body, "probe_confirms", json_object_new_boolean(true));
	cr_expect_eq(fuse(probed, 1), CONF_HIGH);
}

Test(verdict, faults_of_a_traced_process_weigh_nothing)
{
	struct event *v[] = { ev(EV_FAULT_SIGILL, 10, "x", "class", "advertised-but-faulting"),
			      ev(EV_FAULT_SIGILL, 11, "x", "class", "feature-lost"),
			      ev(EV_WATCHER_FORGED, 12, "forge", NULL, NULL),
			      ev(EV_WATCHER_LOSS, 13, "spray", NULL, NULL) };

	/* A tracer may have injected the signal or written the bytes. */
	json_object_object_add(v[0]->body, "origin", json_object_new_string("traced"));
	json_object_object_add(v[1]->body, "origin", json_object_new_string("traced"));
	cr_expect_eq(fuse(v, 4), CONF_NONE);
}

Test(verdict, evidence_outside_the_window_does_not_fuse)
{
	struct event *far[] = {
		ev(EV_TIMING_CLOCK_STEP, 10, "rtc0", NULL, NULL),
		ev(EV_TIMING_CLOCK_STEP, 10 + 3600, "realtime", NULL, NULL),
	};
	struct event *near[] = {
		ev(EV_CPUID_DRIFT, 10, "avx2", NULL, NULL),
		ev(EV_TIMING_CLOCK_STEP, 40, "realtime", NULL, NULL),
	};

	cr_expect_eq(fuse(far, 2), CONF_NONE);
	cr_expect_eq(fuse(near, 2), CONF_MEDIUM);
}

Test(verdict, timing_alone_stays_low)
{
	/* host step 2 + realtime step 1 + VM-wide stall 1 = 4, but no hardware evidence */
	struct event *v[] = {
		ev(EV_TIMING_CLOCK_STEP, 10, "rtc0", NULL, NULL),
		ev(EV_TIMING_CLOCK_STEP, 12, "realtime", NULL, NULL),
		ev(EV_TIMING_STALL, 10, "vm", "scope", "vm"),
	};
	struct event *with_cpuid[] = {
		ev(EV_TIMING_CLOCK_STEP, 10, "rtc0", NULL, NULL),
		ev(EV_CPUID_DRIFT, 11, "avx2", NULL, NULL),
	};

	cr_expect_eq(fuse(v, 3), CONF_LOW);
	cr_expect_eq(fuse(with_cpuid, 2), CONF_HIGH);
}

Test(verdict, repeats_of_one_reason_count_once)
{
	struct event *v[] = {
		ev(EV_TIMING_STALL, 10, "vm", "scope", "vm"),
		ev(EV_TIMING_STALL, 20, "vm", "scope", "vm"),
		ev(EV_TIMING_STALL, 30, "vm", "scope", "vm"),
		ev(EV_TIMING_STALL, 40, "cpu1", "scope", "vcpu"),
	};

	cr_expect_eq(fuse(v, 4), CONF_NONE);
}

Test(verdict, the_verdict_names_its_change_time_and_reasons)
{
	struct event *v[] = {
		ev(EV_CPUID_DRIFT, 50, "cpuid", NULL, NULL),
		ev(EV_TIMING_CLOCK_STEP, 20, "rtc0", NULL, NULL),
	};
	struct verdict_opts o;
	struct verdict_result r;
	struct event *e;
	struct json_object *x;

	verdict_opts_default(&o);
	cr_assert_eq(verdict_fuse(v, 2, &o, &r), 0);
	e = verdict_event(&r, &o);
	cr_assert(json_object_object_get_ex(e->body, "change_mono_ns", &x));
	cr_expect_eq(json_object_get_int64(x), 20 * 1000000000LL, "the earliest evidence");
	cr_assert(json_object_object_get_ex(e->body, "reasons", &x));
	cr_expect_eq(json_object_array_length(x), 2);
	/* high, but nothing critical among the evidence (features gained): a warning */
	cr_expect_eq(r.conf, CONF_HIGH);
	cr_expect_eq(e->sev, SEV_WARNING);
	event__free(e);
	verdict_result_clear(&r);

	/* a critical drift (a feature removed) makes the verdict critical */
	v[0]->sev = SEV_CRITICAL;
	cr_assert_eq(verdict_fuse(v, 2, &o, &r), 0);
	e = verdict_event(&r, &o);
	cr_expect_eq(e->sev, SEV_CRITICAL);
	event__free(e);
	verdict_result_clear(&r);
	event__free(v[0]);
	event__free(v[1]);
}
