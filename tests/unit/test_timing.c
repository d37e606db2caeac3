// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Timing rules on recorded series (tests/fixtures/recordings, see its README) and on
 * hand-built observations: each anomaly gives its one event with the measured values,
 * and the noise of a healthy machine gives none that matters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "capture/clocks.h"
#include "core/log.h"
#include "core/observe.h"
#include "formats/recording.h"
#include "analysis/timing.h"
#include "analysis/verdict.h"

#define REC(name) CPUDRIFT_SRCDIR "/tests/fixtures/recordings/" name

TestSuite(timing);

static int collect(void *ctx, const struct event *e)
{
	struct json_object *j = event_to_json(e);

	evlist_push(ctx, event_from_json(j));
	json_object_put(j);
	return 0;
}

static void replay(const char *path, struct evlist *out)
{
	struct errbuf err = { { 0 } };
	struct recording_stats st;

	cr_assert_eq(recording_replay(path, NULL, collect, out, &st, &err), 0, "%s", err.msg);
	cr_assert_eq(st.bad, 0, "%s has %ld malformed lines", path, st.bad);
}

static int count_kind(const struct evlist *l, enum event_kind k, const char *subject)
{
	int n = 0;

	for (size_t i = 0; i < l->n; i++)
		n += l->v[i]->kind == k && (!subject || !strcmp(l->v[i]->subject, subject));
	return n;
}

static const struct event *find(const struct evlist *l, enum event_kind k, const char *subject)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i]->kind == k && (!subject || !strcmp(l->v[i]->subject, subject)))
			return l->v[i];
	return NULL;
}

static int64_t body_i64(const struct event *e, const char *key)
{
	struct json_object *v;

	cr_assert(json_object_object_get_ex(e->body, key, &v), "no \"%s\" in the body", key);
	return json_object_get_int64(v);
}

static const char *body_str(const struct event *e, const char *key)
{
	struct json_object *v;

	cr_assert(json_object_object_get_ex(e->body, key, &v), "no \"%s\" in the body", key);
	return json_object_get_string(v);
}

Test(timing, rtc_offset_jump_is_a_host_clock_step_once)
{
	struct evlist l = { 0 };
	const struct event *e;

	replay(REC("paused_migration.jsonl"), &l);
	/* The 2.1 s pause; the later CLOCK_REALTIME step that undoes the offset is not a jump. */
	cr_assert_eq(count_kind(&l, EV_TIMING_CLOCK_STEP, "rtc0"), 1);
	e = find(&l, EV_TIMING_CLOCK_STEP, "rtc0");
	cr_expect(llabs(body_i64(e, "jump_ns") - 2100000000LL) < 20000000LL, "jump %lld",
		  (long long)body_i64(e, "jump_ns"));
	cr_expect_eq(count_kind(&l, EV_TIMING_CLOCK_STEP, "realtime"), 1);
	evlist_free(&l);
}

Test(timing, sustained_rtc_step_is_reported_at_the_reading_that_showed_it)
{
	struct evlist l = { 0 };
	const struct event *e;

	replay(REC("paused_migration.jsonl"), &l);
	e = find(&l, EV_TIMING_CLOCK_STEP, "rtc0");
	cr_assert_not_null(e);
	/* the jump shows at the t=300.9 s reading and is confirmed by the one a second later */
	cr_expect_eq(e->monotonic_ns, 300900000000LL, "stamped %lld", (long long)e->monotonic_ns);
	evlist_free(&l);
}

Test(timing, rtc_step_and_its_opposite_are_noise)
{
	struct evlist l = { 0 };

	replay(REC("rtc_noise.jsonl"), &l);
	cr_expect_eq(count_kind(&l, EV_TIMING_CLOCK_STEP, NULL), 0,
		     "a step followed by its opposite was reported");
	cr_expect_eq(count_kind(&l, EV_MIGRATION_SUSPECTED, NULL), 0);
	evlist_free(&l);
}

static struct observation rtc_at(int64_t t_ms, int64_t off_ms)
{
	struct observation o = { .src = OBS_HOSTCLOCK };

	o.mono_ns = t_ms * 1000000;
	o.real_ns = o.mono_ns + 1000000000000LL;
	o.hostclock.offset_ns = off_ms * 1000000;
	o.hostclock.err_ns = 10000000;
	snprintf(o.text, sizeof(o.text), "rtc0");
	return o;
}

Test(timing, a_host_clock_step_waits_for_a_second_reading)
{
	struct timing *t = timing__new(NULL);
	struct evlist l = { 0 };
	struct observation o;
	int64_t at[] = { 0, 1000, 2000, 3000 }, off[] = { -400, -400, 600, 600 };

	for (int i = 0; i < 4; i++) {
		o = rtc_at(at[i], off[i]);
		cr_assert_eq(timing_feed(t, &o, &l), 0);
		/* one reading alone says nothing yet */
		cr_expect_eq(l.n, i < 3 ? 0u : 1u, "after reading %d: %zu events", i, l.n);
	}
	cr_assert_eq(l.n, 1);
	cr_expect_eq(body_i64(l.v[0], "jump_ns"), 1000000000LL);
	cr_expect_eq(l.v[0]->monotonic_ns, 2000000000LL);
	/* a new level that moves again before it holds replaces the pending one */
	o = rtc_at(4000, 1800);
	timing_feed(t, &o, &l);
	o = rtc_at(5000, 3000);
	timing_feed(t, &o, &l);
	cr_expect_eq(l.n, 1u);
	o = rtc_at(6000, 3000);
	timing_feed(t, &o, &l);
	cr_assert_eq(l.n, 2u);
	cr_expect_eq(body_i64(l.v[1], "jump_ns"), 2400000000LL);
	evlist_free(&l);
	timing__free(t);
}

/*
 * `date -s` an hour back in a guest with an RTC: the RTC sampler (readings once a second,
 * re-sent every time here, the worst case) and the clock_step rule together see one step
 * of CLOCK_REALTIME and no host-clock step, and nothing the verdict would call a move.
 * Before the sampler kept its median against CLOCK_BOOTTIME, readings from both sides of
 * the step sat in its window: the offset moved a few readings late, after the step had
 * been taken out, and showed as "rtc0 fell 3600 s behind", then "moved 3600 s ahead".
 */
Test(timing, a_realtime_step_is_no_host_clock_step)
{
	const int64_t s = 1000000000LL, base = 1800000000LL * s, step = -3600 * s;
	struct timing *t = timing__new(NULL);
	struct verdict_tally tally;
	struct evlist l = { 0 };
	struct observation o;
	struct clocks c;

	clocks_init(&c);
	c.rtc_uie = true;
	c.rtc_quiet_s = 0;
	for (int64_t sec = 1; sec <= 20; sec++) {
		int64_t real = base + sec * s + (sec > 10 ? step : 0);

		if (sec == 11) {
			/* the daemon learns of the step at once (TFD_TIMER_CANCEL_ON_SET) */
			memset(&o, 0, sizeof(o));
			o.src = OBS_CLOCK_STEP;
			o.mono_ns = sec * s - s / 2;
			o.real_ns = real - s / 2;
			o.clock_step.step_ns = step;
			cr_assert_eq(timing_feed(t, &o, &l), 0);
		}
		/* the RTC follows the host's time, whole seconds on its update edge */
		if (clocks_rtc_reading(&c, base + sec * s, sec * s, real + 1000000,
				       sec * s + 1000000, &o))
			cr_assert_eq(timing_feed(t, &o, &l), 0);
	}
	cr_assert_eq(timing_flush(t, INT64_MAX, &l), 0);
	cr_expect_eq(count_kind(&l, EV_TIMING_CLOCK_STEP, "realtime"), 1);
	cr_expect_eq(count_kind(&l, EV_TIMING_CLOCK_STEP, "rtc0"), 0, "%s",
		     find(&l, EV_TIMING_CLOCK_STEP, "rtc0") ?
			     find(&l, EV_TIMING_CLOCK_STEP, "rtc0")->summary :
			     "");
	cr_expect_eq(l.n, 1u);
	cr_assert_eq(verdict_tally_init(&tally), 0);
	for (size_t i = 0; i < l.n; i++) {
		cr_expect_neq(l.v[i]->sev, SEV_CRITICAL);
		verdict_tally_add(&tally, l.v[i]);
	}
	cr_expect_lt(tally.score, 2, "a settime alone would be a verdict (score %d)", tally.score);
	verdict_tally_clear(&tally);
	evlist_free(&l);
	timing__free(t);
}

Test(timing, realtime_step_reports_its_size)
{
	struct evlist l = { 0 };
	const struct event *e;

	replay(REC("clock_step.jsonl"), &l);
	cr_assert_eq(count_kind(&l, EV_TIMING_CLOCK_STEP, NULL), 1);
	e = find(&l, EV_TIMING_CLOCK_STEP, "realtime");
	cr_assert_not_null(e);
	cr_expect_eq(body_i64(e, "step_ns"), -5000000000LL);
	evlist_free(&l);
}

Test(timing, tsc_rate_change_fires_once_with_both_rates)
{
	struct evlist l = { 0 };
	const struct event *e;

	replay(REC("tsc_rate.jsonl"), &l);
	cr_assert_eq(count_kind(&l, EV_TIMING_TSC_RATE, NULL), 1);
	e = find(&l, EV_TIMING_TSC_RATE, NULL);
	cr_expect(llabs(body_i64(e, "baseline_hz") - 2096007000LL) < 1000);
	cr_expect(llabs(body_i64(e, "hz") - 2400000000LL) < 1000);
	evlist_free(&l);
}

Test(timing, stall_on_every_vcpu_at_once_is_vm_wide)
{
	struct evlist l = { 0 };
	const struct event *e;

	replay(REC("stall_vm.jsonl"), &l);
	cr_assert_eq(count_kind(&l, EV_TIMING_STALL, NULL), 1);
	e = find(&l, EV_TIMING_STALL, NULL);
	cr_expect_str_eq(body_str(e, "scope"), "vm");
	cr_expect_eq(body_i64(e, "max_lateness_ns"), 150000000LL);
	evlist_free(&l);
}

Test(timing, stall_of_one_vcpu_is_not_vm_wide)
{
	struct evlist l = { 0 };
	const struct event *e;

	replay(REC("stall_vcpu.jsonl"), &l);
	cr_assert_eq(count_kind(&l, EV_TIMING_STALL, NULL), 1);
	e = find(&l, EV_TIMING_STALL, NULL);
	cr_expect_str_eq(body_str(e, "scope"), "vcpu");
	cr_expect_str_eq(e->subject, "cpu1");
	evlist_free(&l);
}

Test(timing, noise_gives_no_timing_event_but_single_vcpu_stalls)
{
	struct evlist l = { 0 };

	replay(REC("noise.jsonl"), &l);
	for (size_t i = 0; i < l.n; i++) {
		const struct event *e = l.v[i];

		if (e->kind == EV_TIMING_STALL)
			cr_expect_str_eq(body_str(e, "scope"), "vcpu");
		else
			cr_expect(e->kind == EV_FAULT_SIGILL, "unexpected %s: %s",
				  event_kind_names[e->kind], e->summary);
	}
	evlist_free(&l);
}

/* --- hand-built series --------------------------------------------------------------------- */

static struct observation obs(enum obs_source src, int64_t t_s)
{
	struct observation o;

	memset(&o, 0, sizeof(o));
	o.src = src;
	o.mono_ns = t_s * 1000000000LL;
	o.real_ns = o.mono_ns + 1700000000000000000LL;
	return o;
}

Test(timing, one_spoiled_tsc_interval_moves_nothing)
{
	struct timing *t = timing__new(NULL);
	struct evlist l = { 0 };

	for (int i = 0; i < 20; i++) {
		struct observation o = obs(OBS_TSC, 10 * i);

		o.tsc.interval_ns = 10000000000LL;
		/* a pause inside one interval makes it look 20% fast */
		o.tsc.hz = i == 10 ? 2500000000LL : 2096000000LL + i;
		cr_assert_eq(timing_feed(t, &o, &l), 0);
	}
	cr_expect_eq(l.n, 0);
	evlist_free(&l);
	timing__free(t);
}

Test(timing, clock_set_to_its_own_value_is_no_event)
{
	struct timing *t = timing__new(NULL);
	struct evlist l = { 0 };
	struct observation o = obs(OBS_CLOCK_STEP, 5);

	o.clock_step.step_ns = -3000;
	cr_assert_eq(timing_feed(t, &o, &l), 0);
	cr_expect_eq(l.n, 0);
	evlist_free(&l);
	timing__free(t);
}

Test(timing, sustained_steal_is_one_event)
{
	struct timing *t = timing__new(NULL);
	struct evlist l = { 0 };

	for (int i = 0; i < 30; i++) {
		struct observation o = obs(OBS_STEAL, 10 * i);

		o.steal.interval_ns = 10000000000LL;
		o.steal.ncpu = 2;
		/* 1% steal, then 40% for a minute and a half, then back */
		o.steal.steal_ns = (i >= 10 && i < 19 ? 400 : 10) * 20000000LL;
		cr_assert_eq(timing_feed(t, &o, &l), 0);
	}
	cr_assert_eq(l.n, 1);
	cr_expect_eq(l.v[0]->kind, EV_TIMING_STEAL);
	cr_expect_eq(body_i64(l.v[0], "steal_permille"), 400);
	evlist_free(&l);
	timing__free(t);
}

Test(timing, cpuid_latency_needs_two_deviating_samples)
{
	struct timing *t = timing__new(NULL);
	struct evlist l = { 0 };
	const int64_t med[] = { 6400, 6500, 6450, 6480, 15000, 6450, 6500, 12000, 12100, 12050 };

	for (size_t i = 0; i < sizeof(med) / sizeof(med[0]); i++) {
		struct observation o = obs(OBS_CPUID_LAT, 60 * i);

		o.cpuid_lat.median_ns = med[i];
		o.cpuid_lat.n = 300;
		cr_assert_eq(timing_feed(t, &o, &l), 0);
		/* the lone 15 us sample at i = 4 must not fire; i = 7, 8 must */
		cr_expect_eq(l.n, i >= 8 ? 1u : 0u, "after sample %zu: %zu events", i, l.n);
	}
	evlist_free(&l);
	timing__free(t);
}

Test(timing, clocksource_change_and_watchdog_messages)
{
	struct timing *t = timing__new(NULL);
	struct evlist l = { 0 };
	struct observation a = obs(OBS_CLOCKSOURCE, 1), b = obs(OBS_CLOCKSOURCE, 2);
	struct observation k1 = obs(OBS_KMSG, 3), k2 = obs(OBS_KMSG, 4);

	strcpy(a.text, "kvm-clock");
	strcpy(b.text, "tsc");
	strcpy(k1.text, "clocksource: timekeeping watchdog on CPU1: Marking clocksource 'tsc' as "
			"unstable because the skew is too large:");
	strcpy(k2.text, "EXT4-fs (vda): re-mounted. Quota mode: none.");
	timing_feed(t, &a, &l);
	cr_expect_eq(l.n, 0, "the first clocksource is the baseline");
	timing_feed(t, &b, &l);
	timing_feed(t, &k1, &l);
	timing_feed(t, &k2, &l);
	cr_assert_eq(l.n, 2);
	cr_expect_str_eq(body_str(l.v[0], "from"), "kvm-clock");
	cr_expect_str_eq(body_str(l.v[0], "to"), "tsc");
	cr_expect_eq(l.v[1]->kind, EV_TIMING_CLOCKSOURCE);
	cr_expect(timing_kmsg_relevant("tsc: Marking TSC unstable due to clocksource watchdog"));
	cr_expect(!timing_kmsg_relevant(k2.text));
	evlist_free(&l);
	timing__free(t);
}

Test(timing, hyperv_reenlightenment_is_a_tsc_rate_event)
{
	struct timing *t = timing__new(NULL);
	struct evlist l = { 0 };
	struct observation a = obs(OBS_HRE, 1), b = obs(OBS_HRE, 11), c = obs(OBS_HRE, 21);

	a.hre.count = 3;
	b.hre.count = 3;
	c.hre.count = 5;
	timing_feed(t, &a, &l);
	timing_feed(t, &b, &l);
	cr_expect_eq(l.n, 0);
	timing_feed(t, &c, &l);
	cr_assert_eq(l.n, 1);
	cr_expect_eq(l.v[0]->kind, EV_TIMING_TSC_RATE);
	cr_expect_eq(body_i64(l.v[0], "delta"), 2);
	evlist_free(&l);
	timing__free(t);
}

Test(timing, events_carry_the_observation_time)
{
	struct timing *t = timing__new(NULL);
	struct evlist l = { 0 };
	struct observation o = obs(OBS_CLOCK_STEP, 1234);

	o.clock_step.step_ns = 3000000000LL;
	timing_feed(t, &o, &l);
	cr_assert_eq(l.n, 1);
	cr_expect_eq(l.v[0]->monotonic_ns, o.mono_ns);
	cr_expect_eq(l.v[0]->realtime_ns, o.real_ns);
	evlist_free(&l);
	timing__free(t);
}

/* --- the JSON-lines form ------------------------------------------------------------------- */

Test(timing, observations_round_trip_through_json)
{
	for (int s = 0; s < OBS__COUNT; s++) {
		struct observation a = obs(s, 77), b;
		struct json_object *j;
		struct errbuf err = { { 0 } };

		a.v[0] = -12345;
		a.v[1] = 1LL << 40;
		a.v[2] = 7;
		strcpy(a.text, "rtc0");
		j = observe_to_json(&a);
		cr_assert_eq(observe_from_json(j, &b, &err), 0, "%s: %s", obs_source_names[s],
			     err.msg);
		json_object_put(j);
		cr_expect_eq(b.src, a.src);
		cr_expect_eq(b.mono_ns, a.mono_ns);
		cr_expect_eq(b.real_ns, a.real_ns);
		/* each source keeps the fields it declares; they must survive */
		if (b.v[0])
			cr_expect_eq(b.v[0], a.v[0], "%s", obs_source_names[s]);
	}
}

Test(timing, hostile_lines_are_refused_with_a_reason)
{
	static const char *const bad[] = {
		"",
		"[1,2]",
		"{\"mono_ns\":1}",
		"{\"src\":\"warp\",\"mono_ns\":1}",
		"{\"src\":\"tsc\"}",
		"{\"src\":\"tsc\",\"mono_ns\":\"soon\"}",
		"{\"src\":\"cpuid\",\"mono_ns\":1,\"features\":[\"avx2\"]}",
		"{\"src\":\"cpuid\",\"mono_ns\":1,\"snapshot\":{\"format\":1}}",
		"{\"src\":\"probe\",\"mono_ns\":1,\"shadow\":\"avx2\"}",
		"{\"src\":\"probe\",\"mono_ns\":1,\"mismatch\":[1]}",
		"{\"src\":\"fault\",\"mono_ns\":1}",
		"{\"src\":\"fault\",\"mono_ns\":1,\"fault\":{\"bytes\":\"0f0\"}}",
		"{\"src\":\"fault\",\"mono_ns\":1,\"fault\":{\"ip\":\"12\"}}",
		"{\"src\":\"fault\",\"mono_ns\":1,\"fault\":{\"signal\":\"KILL\"}}",
		"{\"src\":\"fault\",\"mono_ns\":-5,\"fault\":{}}",
		"{\"src\":\"kmsg\",\"mono_ns\":1,\"msg\":42}",
		"{\"src\":\"stall\",\"mono_ns\":1,",
		"{\"src\":\"hostclock\",\"mono_ns\":1,\"offset_ns\":9223372036854775807}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rec_line l;
		struct errbuf err = { { 0 } };

		cr_expect_lt(recording_parse_line(bad[i], &l, &err), 0, "accepted: %s", bad[i]);
		cr_expect_neq(err.msg[0], 0, "no reason for: %s", bad[i]);
	}
}

Test(timing, measured_tsc_rate_disagreeing_with_the_advertised_one)
{
	struct timing *t = timing__new(NULL);
	struct evlist l = { 0 };

	for (int i = 0; i < 6; i++) {
		struct observation o = obs(OBS_TSC, 10 * i);

		o.tsc.interval_ns = 10000000000LL;
		o.tsc.ref_hz = 2000000000LL; /* CPUID says 2.0 GHz, the TSC runs at 2.5 */
		o.tsc.hz = 2500000000LL + i;
		cr_assert_eq(timing_feed(t, &o, &l), 0);
	}
	cr_assert_eq(l.n, 1);
	cr_expect_eq(body_i64(l.v[0], "baseline_hz"), 2000000000LL);
	evlist_free(&l);
	timing__free(t);
}

Test(timing, advertised_tsc_rate_close_enough_is_no_event)
{
	struct timing *t = timing__new(NULL);
	struct evlist l = { 0 };

	for (int i = 0; i < 10; i++) {
		struct observation o = obs(OBS_TSC, 10 * i);

		o.tsc.interval_ns = 10000000000LL;
		o.tsc.ref_hz = 2096000000LL; /* 3 ppm below what is measured */
		o.tsc.hz = 2096007000LL + (i % 3) * 20;
		cr_assert_eq(timing_feed(t, &o, &l), 0);
	}
	cr_expect_eq(l.n, 0);
	evlist_free(&l);
	timing__free(t);
}
