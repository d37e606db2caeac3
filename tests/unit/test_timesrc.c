// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Live timing sources.  The clock-step test sets CLOCK_REALTIME to its own current value:
 * harmless (the clock does not move), yet the kernel still cancels TFD_TIMER_CANCEL_ON_SET
 * timers.  The machine's clock is never moved.  Root, BTF and devices are checked at run
 * time; a test that cannot run says why.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <linux/types.h>

#include "../../bpf/stall.h"
#include "core/log.h"
#include "capture/timesrc.h"
#include "analysis/timing.h"

TestSuite(timesrc);

#define MAX_OBS 4096

struct got {
	int n;
	struct observation o[MAX_OBS];
};

static void keep(void *ctx, const struct observation *o)
{
	struct got *g = ctx;

	if (g->n < MAX_OBS)
		g->o[g->n++] = *o;
}

static struct timesrc *open_only(unsigned sources, int64_t stall_ns, const char *variant,
				 struct got *g)
{
	struct timesrc_opts o;
	struct timesrc *ts = NULL;
	struct errbuf err = { { 0 } };

	timesrc_opts_default(&o);
	o.sources = sources;
	o.stall_variant = variant;
	if (stall_ns)
		o.stall_ns = stall_ns;
	cr_assert_eq(timesrc__new(&ts, &o, keep, g, &err), 0, "%s", err.msg);
	return ts;
}

static const struct observation *first(const struct got *g, enum obs_source s)
{
	for (int i = 0; i < g->n; i++)
		if (g->o[i].src == s)
			return &g->o[i];
	return NULL;
}

Test(timesrc, clock_set_to_its_own_value_fires)
{
	static struct got g;
	struct timesrc *ts;
	struct timespec now;
	const struct observation *o;

	if (geteuid())
		cr_skip_test("setting CLOCK_REALTIME needs root (CAP_SYS_TIME)");
	ts = open_only(1u << OBS_CLOCK_STEP, 0, NULL, &g);
	cr_assert(timesrc_active(ts, OBS_CLOCK_STEP));
	timesrc_dispatch(ts, -1);
	cr_assert_null(first(&g, OBS_CLOCK_STEP), "fired before any set");
	/* The same value back: the clock loses at most the few ns between the two calls. */
	clock_gettime(CLOCK_REALTIME, &now);
	if (clock_settime(CLOCK_REALTIME, &now)) {
		timesrc__free(ts);
		cr_skip_test("clock_settime refused: %s", strerror(errno));
	}
	timesrc_dispatch(ts, -1);
	o = first(&g, OBS_CLOCK_STEP);
	cr_assert_not_null(o, "no clock_step observation after a set");
	cr_expect_lt(llabs(o->clock_step.step_ns), 50000000LL, "step %lld ns for a no-op set",
		     (long long)o->clock_step.step_ns);
	/* re-armed: a second set is seen too */
	g.n = 0;
	clock_gettime(CLOCK_REALTIME, &now);
	clock_settime(CLOCK_REALTIME, &now);
	timesrc_dispatch(ts, -1);
	cr_expect_not_null(first(&g, OBS_CLOCK_STEP), "the timer was not re-armed");
	timesrc__free(ts);
}

static void stall_attaches(const char *variant)
{
	static struct got g;
	struct stall_cpu_stats st[256];
	struct timesrc *ts;
	uint64_t count = 0, max = 0;
	int n, online = (int)sysconf(_SC_NPROCESSORS_ONLN);
	const struct observation *o;

	if (geteuid())
		cr_skip_test("loading BPF needs root (CAP_BPF, CAP_PERFMON)");
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		cr_skip_test("no kernel BTF at /sys/kernel/btf/vmlinux");
	memset(&g, 0, sizeof(g));
	/* 1 us: on an idle machine nearly every timer is at least that late, so events flow */
	ts = open_only(1u << OBS_STALL, 1000, variant, &g);
	cr_assert(timesrc_active(ts, OBS_STALL), "stall source did not attach");
	cr_expect_str_eq(timesrc_stall_variant(ts), variant ? variant : "tp_btf");
	usleep(1500000);
	timesrc_dispatch(ts, -1);
	n = timesrc_stall_stats(ts, st, 256);
	cr_assert_gt(n, 0);
	for (int i = 0; i < n; i++) {
		count += st[i].count;
		if (st[i].max_ns > max)
			max = st[i].max_ns;
	}
	cr_expect_gt(count, 0, "no hrtimer expired in 1.5 s");
	cr_expect_gt(max, 0, "no lateness measured");
	cr_expect_lt(max, 60 * 1000000000ULL, "lateness of %llu ns is not plausible",
		     (unsigned long long)max);
	o = first(&g, OBS_STALL);
	cr_assert_not_null(o, "no late timer reached user space");
	cr_expect_geq(o->stall.lateness_ns, 1000);
	cr_expect(o->stall.cpu >= 0 && o->stall.cpu < 256);
	cr_expect_eq(o->stall.online, online);
	timesrc__free(ts);
}

Test(timesrc, stall_program_reports_lateness_on_this_machine)
{
	stall_attaches(NULL);
}

Test(timesrc, stall_raw_tp_fallback_reports_lateness_too)
{
	stall_attaches("raw_tp");
}

/* What systemd, timerfd and clock_nanosleep users do: arm a timer whose time has passed. */
struct past_armer {
	int cpu;
	int rounds;
	int fired;
	int err;
};

static void fire_once(struct past_armer *a, clockid_t clk, int flags, long nsec)
{
	struct itimerspec its = { .it_value = { .tv_nsec = nsec } };
	int fd = timerfd_create(clk, TFD_CLOEXEC);
	uint64_t n;

	if (fd < 0) {
		a->err = errno;
		return;
	}
	if (timerfd_settime(fd, flags, &its, NULL))
		a->err = errno;
	else if (nsec && read(fd, &n, sizeof(n)) == sizeof(n))
		a->fired++;
	close(fd);
}

static void *arm_in_the_past(void *p)
{
	struct past_armer *a = p;
	struct timespec one = { .tv_nsec = 1 };
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(a->cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		a->err = errno;
		return NULL;
	}
	for (int i = 0; i < a->rounds; i++) {
		/* absolute 1 ns on every clock base, as sd-event does for "now" */
		fire_once(a, CLOCK_MONOTONIC, TFD_TIMER_ABSTIME, 1);
		fire_once(a, CLOCK_BOOTTIME, TFD_TIMER_ABSTIME, 1);
		fire_once(a, CLOCK_REALTIME, TFD_TIMER_ABSTIME, 1);
		/* relative 0 disarms; relative 1 ns expires at once */
		fire_once(a, CLOCK_MONOTONIC, 0, 0);
		fire_once(a, CLOCK_MONOTONIC, 0, 1);
		/* clock_nanosleep to a time long gone returns at once through an hrtimer */
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &one, NULL);
	}
	return NULL;
}

static void past_timers_not_late(const char *variant)
{
	static struct got g;
	struct past_armer a[2] = { { .cpu = 0, .rounds = 1000 }, { .cpu = 1, .rounds = 1000 } };
	struct stall_cpu_stats st[256];
	uint64_t armed = 0, excused = 0;
	struct timing *tm;
	struct evlist ev = { 0 };
	pthread_t th[2];
	int n, stalls = 0;

	if (geteuid())
		cr_skip_test("loading BPF needs root (CAP_BPF, CAP_PERFMON)");
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		cr_skip_test("no kernel BTF at /sys/kernel/btf/vmlinux");
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		cr_skip_test("needs two online vCPUs");
	memset(&g, 0, sizeof(g));
	/* the default threshold: what the daemon reports */
	{
		struct timesrc *ts = open_only(1u << OBS_STALL, 0, variant, &g);

		cr_assert(timesrc_active(ts, OBS_STALL), "stall source did not attach");
		for (int i = 0; i < 2; i++)
			cr_assert_eq(pthread_create(&th[i], NULL, arm_in_the_past, &a[i]), 0);
		for (int i = 0; i < 2; i++)
			pthread_join(th[i], NULL);
		usleep(100000);
		timesrc_dispatch(ts, -1);
		n = timesrc_stall_stats(ts, st, 256);
		cr_assert_gt(n, 0);
		for (int i = 0; i < n; i++) {
			armed += st[i].armed_past;
			excused += st[i].excused;
		}
		timesrc__free(ts);
	}
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(a[i].err, 0, "vCPU %d: %s", a[i].cpu, strerror(a[i].err));
		cr_assert_eq(a[i].fired, 4 * a[i].rounds, "vCPU %d: %d of %d timers fired",
			     a[i].cpu, a[i].fired, 4 * a[i].rounds);
	}
	/* The program saw them: every absolute-1-ns MONOTONIC/BOOTTIME timer looked ~uptime late. */
	cr_expect_geq(armed, 2 * 2 * 1000, "only %llu timers seen armed in the past",
		      (unsigned long long)armed);
	cr_expect_geq(excused, 2 * 2 * 1000, "only %llu past-armed timers measured from arming",
		      (unsigned long long)excused);
	tm = timing__new(NULL);
	cr_assert_not_null(tm);
	for (int i = 0; i < g.n; i++) {
		cr_expect_lt(g.o[i].stall.lateness_ns, 50000000LL,
			     "vCPU %lld reported %lld ns late", (long long)g.o[i].stall.cpu,
			     (long long)g.o[i].stall.lateness_ns);
		timing_feed(tm, &g.o[i], &ev);
	}
	timing_flush(tm, INT64_MAX, &ev);
	for (size_t i = 0; i < ev.n; i++)
		if (ev.v[i]->kind == EV_TIMING_STALL) {
			stalls++;
			cr_expect_fail("stall event: %s", ev.v[i]->summary);
		}
	cr_expect_eq(stalls, 0);
	evlist_free(&ev);
	timing__free(tm);
}

Test(timesrc, timers_armed_in_the_past_give_no_stall, .timeout = 60)
{
	past_timers_not_late(NULL);
}

Test(timesrc, timers_armed_in_the_past_give_no_stall_raw_tp, .timeout = 60)
{
	past_timers_not_late("raw_tp");
}

Test(timesrc, periodic_samplers_give_plausible_values)
{
	static struct got g;
	struct timesrc *ts = open_only(1u << OBS_TSC | 1u << OBS_STEAL | 1u << OBS_CPUID_LAT |
					       1u << OBS_CLOCKSOURCE,
				       0, NULL, &g);
	const struct observation *o;
	char cs[64] = "";
	FILE *f;

	for (int i = 0; i < 2; i++) {
		timesrc_sample(ts, OBS_TSC);
		timesrc_sample(ts, OBS_STEAL);
		usleep(300000);
	}
	timesrc_sample(ts, OBS_CPUID_LAT);
	timesrc_sample(ts, OBS_CLOCKSOURCE);
	o = first(&g, OBS_TSC);
	cr_assert_not_null(o);
	cr_expect(o->tsc.hz > 100000000LL && o->tsc.hz < 10000000000LL, "TSC at %lld Hz",
		  (long long)o->tsc.hz);
	o = first(&g, OBS_STEAL);
	cr_assert_not_null(o);
	cr_expect(o->steal.steal_ns >= 0 &&
		  o->steal.steal_ns <= o->steal.interval_ns * o->steal.ncpu);
	o = first(&g, OBS_CPUID_LAT);
	cr_assert_not_null(o);
	cr_expect_gt(o->cpuid_lat.median_ns, 0);
	cr_expect_geq(o->cpuid_lat.p90_ns, o->cpuid_lat.median_ns);
	o = first(&g, OBS_CLOCKSOURCE);
	cr_assert_not_null(o);
	f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
	if (f) {
		if (fgets(cs, sizeof(cs), f))
			cs[strcspn(cs, "\n")] = 0;
		fclose(f);
		cr_expect_str_eq(o->text, cs);
	}
	timesrc__free(ts);
}

Test(timesrc, host_clocks_sample_or_say_why_not)
{
	static struct got g;
	struct timesrc *ts = open_only(1u << OBS_HOSTCLOCK, 0, NULL, &g);
	struct json_object *st = timesrc_status(ts), *h, *d;

	cr_assert(json_object_object_get_ex(st, "hostclock", &h));
	json_object_object_get_ex(h, "detail", &d);
	if (!timesrc_active(ts, OBS_HOSTCLOCK)) {
		char why[128];

		snprintf(why, sizeof(why), "%s", json_object_get_string(d));
		cr_expect(strstr(why, "unavailable"), "%s", why);
		json_object_put(st);
		timesrc__free(ts);
		cr_skip_test("no /dev/rtc0 or /dev/ptp* here: %s", why);
	}
	/* an RTC with update interrupts needs its second edge: wait for it */
	for (int i = 0; i < 30 && !first(&g, OBS_HOSTCLOCK); i++) {
		timesrc_sample(ts, OBS_HOSTCLOCK);
		timesrc_dispatch(ts, -1);
		usleep(100000);
	}
	cr_expect_not_null(first(&g, OBS_HOSTCLOCK), "no host clock sample in 3 s");
	json_object_put(st);
	timesrc__free(ts);
}
