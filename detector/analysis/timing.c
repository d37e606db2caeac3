// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/timing.h"

#define TIMING_MAX_CPUS 1024
#define TIMING_MAX_HOSTCLOCKS 8
#define TSC_WINDOW_MAX 15
#define CPUID_LAT_WARMUP 3

void timing_thresholds_default(struct timing_thresholds *t)
{
	*t = (struct timing_thresholds){
		.stall_ns = 50 * 1000000LL,
		.stall_group_ns = 50 * 1000000LL,
		.clock_step_ns = 100 * 1000000LL,
		.hostclock_ns = 100 * 1000000LL,
		.tsc_ppm = 1000,
		.tsc_window = 3,
		.steal_permille = 100,
		.steal_factor = 4,
		.cpuid_lat_pct = 40,
		.cpuid_lat_min_ns = 1000,
	};
}

struct cpu_interval {
	int64_t due, ran; /* the longest late timer of this vCPU in the episode */
};

struct hostclock_state {
	char name[16];
	int64_t offset_ns, err_ns;
	int64_t steps_then; /* t->step_sum when this offset was taken */
	/* a step seen once, waiting for the next reading to confirm or cancel it */
	bool pending;
	struct observation first; /* the reading that showed it */
	int64_t first_jump, first_steps;
};

struct timing {
	struct timing_thresholds th;

	/* the open stall episode */
	bool ep_open;
	int64_t ep_due, ep_ran, ep_real_off, ep_online, ep_timers, ep_max;
	int ep_max_cpu;
	struct cpu_interval *cpu; /* [TIMING_MAX_CPUS], ran == 0: not late in this episode */

	int64_t step_sum; /* every CLOCK_REALTIME step seen, to correct host-clock offsets */
	int nhost;
	struct hostclock_state host[TIMING_MAX_HOSTCLOCKS];

	int64_t tsc_ring[TSC_WINDOW_MAX];
	int tsc_n, tsc_pos;
	int64_t tsc_base;
	bool tsc_base_ref; /* tsc_base is still the advertised rate */

	bool hre_seen;
	int64_t hre_count;

	char clocksource[64];

	bool steal_seen, steal_high;
	double steal_base;

	int64_t lat_warm[CPUID_LAT_WARMUP];
	int lat_n, lat_dev;
	int64_t lat_base;
};

struct timing *timing__new(const struct timing_thresholds *th)
{
	struct timing *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->cpu = calloc(TIMING_MAX_CPUS, sizeof(*t->cpu));
	if (!t->cpu) {
		free(t);
		return NULL;
	}
	if (th)
		t->th = *th;
	else
		timing_thresholds_default(&t->th);
	if (t->th.tsc_window < 1 || t->th.tsc_window > TSC_WINDOW_MAX)
		t->th.tsc_window = 3;
	return t;
}

void timing__free(struct timing *t)
{
	if (!t)
		return;
	free(t->cpu);
	free(t);
}

static void body_i64(struct event *e, const char *k, int64_t v)
{
	json_object_object_add(e->body, k, json_object_new_int64(v));
}

static void body_str(struct event *e, const char *k, const char *v)
{
	json_object_object_add(e->body, k, json_object_new_string(v));
}

/* Observations are bounded to +-2^62 (observe.c), so negation cannot overflow. */
static int64_t abs64(int64_t v)
{
	return v < 0 ? -v : v;
}

/* --- stalls ------------------------------------------------------------------------------ */

/*
 * A VM-wide stall shows as a late timer on every online vCPU whose late intervals all
 * overlap: the vCPUs stood still together.  Anything else is one vCPU (or several, each
 * at its own time) being descheduled, which host contention does all day.
 */
static int stall_close(struct timing *t, struct evlist *out)
{
	int64_t lo = INT64_MIN, hi = INT64_MAX;
	struct json_object *cpus = json_object_new_array();
	int nseen = 0;
	bool vm;
	struct event *e;
	char subject[32];

	for (int c = 0; c < TIMING_MAX_CPUS; c++) {
		if (!t->cpu[c].ran)
			continue;
		nseen++;
		json_object_array_add(cpus, json_object_new_int(c));
		if (t->cpu[c].due > lo)
			lo = t->cpu[c].due;
		if (t->cpu[c].ran < hi)
			hi = t->cpu[c].ran;
	}
	vm = nseen >= t->ep_online && hi > lo;
	if (vm)
		snprintf(subject, sizeof(subject), "vm");
	else
		snprintf(subject, sizeof(subject), "cpu%d", t->ep_max_cpu);
	/* The episode happened when its last late timer ran. */
	struct observation at = { .mono_ns = t->ep_ran, .real_ns = t->ep_ran + t->ep_real_off };

	e = observe_event(&at, EV_TIMING_STALL, vm ? SEV_NOTICE : SEV_INFO, subject,
			  "%s stood still for %.1f ms (%d of %lld vCPUs late)",
			  vm ? "the VM" : "one vCPU", t->ep_max / 1e6, nseen,
			  (long long)t->ep_online);
	if (e) {
		body_str(e, "scope", vm ? "vm" : "vcpu");
		json_object_object_add(e->body, "cpus", json_object_get(cpus));
		body_i64(e, "online", t->ep_online);
		body_i64(e, "timers", t->ep_timers);
		body_i64(e, "max_lateness_ns", t->ep_max);
		body_i64(e, "overlap_ns", hi > lo ? hi - lo : 0);
		body_i64(e, "due_mono_ns", t->ep_due);
	}
	json_object_put(cpus);
	memset(t->cpu, 0, TIMING_MAX_CPUS * sizeof(*t->cpu));
	t->ep_open = false;
	return evlist_push(out, e);
}

static int stall_feed(struct timing *t, const struct observation *o, struct evlist *out)
{
	int64_t due = o->mono_ns - o->stall.lateness_ns, ran = o->mono_ns;
	int cpu = (int)o->stall.cpu;
	int err;

	if (o->stall.lateness_ns < t->th.stall_ns || cpu < 0 || cpu >= TIMING_MAX_CPUS)
		return 0;
	if (t->ep_open && due > t->ep_ran + t->th.stall_group_ns) {
		err = stall_close(t, out);
		if (err)
			return err;
	}
	if (!t->ep_open) {
		t->ep_open = true;
		t->ep_due = due;
		t->ep_ran = ran;
		t->ep_timers = 0;
		t->ep_max = 0;
	}
	if (due < t->ep_due)
		t->ep_due = due;
	if (ran > t->ep_ran)
		t->ep_ran = ran;
	t->ep_real_off = o->real_ns - o->mono_ns;
	t->ep_online = o->stall.online > 0 ? o->stall.online : 1;
	t->ep_timers++;
	if (o->stall.lateness_ns > t->ep_max) {
		t->ep_max = o->stall.lateness_ns;
		t->ep_max_cpu = cpu;
	}
	if (!t->cpu[cpu].ran || ran - due > t->cpu[cpu].ran - t->cpu[cpu].due) {
		t->cpu[cpu].due = due;
		t->cpu[cpu].ran = ran;
	}
	return 0;
}

int timing_flush(struct timing *t, int64_t mono_ns, struct evlist *out)
{
	if (t->ep_open && (mono_ns == INT64_MAX || mono_ns > t->ep_ran + t->th.stall_group_ns))
		return stall_close(t, out);
	return 0;
}

/* --- clocks ------------------------------------------------------------------------------ */

static int clock_step_feed(struct timing *t, const struct observation *o, struct evlist *out)
{
	int64_t step = o->clock_step.step_ns;
	struct event *e;

	/* Steps of any size add up, even hostile ones: start over rather than overflow. */
	if (__builtin_add_overflow(t->step_sum, step, &t->step_sum)) {
		t->step_sum = 0;
		t->nhost = 0;
	}
	if (abs64(step) < t->th.clock_step_ns)
		return 0;
	e = observe_event(o, EV_TIMING_CLOCK_STEP, SEV_NOTICE, "realtime",
			  "CLOCK_REALTIME was stepped by %+.3f s", step / 1e9);
	if (e) {
		body_str(e, "clock", "realtime");
		body_i64(e, "step_ns", step);
	}
	return evlist_push(out, e);
}

/*
 * The jump of @off (taken when t->step_sum was @steps_now) against @ref_off (taken when it
 * was @ref_steps), and the tolerance of the pair.  A step of CLOCK_REALTIME moves the
 * offset too; that is the clock_step rule's job, so it is taken out.  Hostile recordings
 * can make any of these sums overflow: false, and the sample only becomes the new
 * reference.
 */
static bool host_jump(const struct timing *t, int64_t off, int64_t err, int64_t steps_now,
		      int64_t ref_off, int64_t ref_err, int64_t ref_steps, int64_t *jump,
		      int64_t *tol)
{
	int64_t steps;

	return !(__builtin_sub_overflow(off, ref_off, jump) ||
		 __builtin_sub_overflow(steps_now, ref_steps, &steps) ||
		 __builtin_add_overflow(*jump, steps, jump) || *jump == INT64_MIN ||
		 __builtin_add_overflow(abs64(ref_err), abs64(err), tol) ||
		 __builtin_add_overflow(*tol, t->th.hostclock_ns, tol));
}

static int hostclock_event(const struct observation *o, int64_t jump, struct evlist *out)
{
	struct event *e;

	e = observe_event(
		o, EV_TIMING_CLOCK_STEP, SEV_WARNING, o->text,
		jump > 0 ? "%s moved %.3f s ahead of CLOCK_REALTIME: guest time stood still" :
			   "%s fell %.3f s behind CLOCK_REALTIME",
		o->text, abs64(jump) / 1e9);
	if (e) {
		body_str(e, "clock", o->text);
		body_i64(e, "jump_ns", jump);
		body_i64(e, "offset_ns", o->hostclock.offset_ns);
		body_i64(e, "err_ns", o->hostclock.err_ns);
	}
	return evlist_push(out, e);
}

/*
 * A host-clock step is reported only when it holds: the reading that shows it waits for
 * the next one.  Back at the old offset, it was noise (a late wake-up, a preempted read):
 * nothing is reported.  At the new offset, it is confirmed and reported with the time of
 * the reading that first showed it.  Anywhere else, that reading waits in its place.
 */
static int hostclock_feed(struct timing *t, const struct observation *o, struct evlist *out)
{
	struct hostclock_state *h = NULL;
	int64_t jump, tol, again, tol2;
	int err = 0;

	for (int i = 0; i < t->nhost; i++)
		if (!strcmp(t->host[i].name, o->text))
			h = &t->host[i];
	if (!h) {
		if (t->nhost == TIMING_MAX_HOSTCLOCKS)
			return 0;
		h = &t->host[t->nhost++];
		snprintf(h->name, sizeof(h->name), "%.15s", o->text);
		goto remember;
	}
	if (!host_jump(t, o->hostclock.offset_ns, o->hostclock.err_ns, t->step_sum, h->offset_ns,
		       h->err_ns, h->steps_then, &jump, &tol))
		goto remember;
	if (abs64(jump) <= tol) {
		/* at the old offset: a pending step was a step and its opposite */
		h->pending = false;
		goto remember;
	}
	if (h->pending &&
	    host_jump(t, o->hostclock.offset_ns, o->hostclock.err_ns, t->step_sum,
		      h->first.hostclock.offset_ns, h->first.hostclock.err_ns, h->first_steps,
		      &again, &tol2) &&
	    abs64(again) <= tol2) {
		h->pending = false;
		err = hostclock_event(&h->first, h->first_jump, out);
		goto remember;
	}
	h->pending = true;
	h->first = *o;
	h->first_jump = jump;
	h->first_steps = t->step_sum;
	return 0;
remember:
	h->offset_ns = o->hostclock.offset_ns;
	h->err_ns = o->hostclock.err_ns;
	h->steps_then = t->step_sum;
	return err;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int64_t median(const int64_t *v, int n)
{
	int64_t s[TSC_WINDOW_MAX];

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_i64);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/*
 * The median of the last few intervals, so one interval spoiled by a pause or a preempted
 * sample moves nothing; a real change of rate moves every interval after it.
 */
static int tsc_feed(struct timing *t, const struct observation *o, struct evlist *out)
{
	int w = t->th.tsc_window;
	int64_t med, ppm;
	struct event *e;

	/* 1 MHz - 100 GHz: anything else is a broken sample, and the ppm stays in range. */
	if (o->tsc.hz < 1000000 || o->tsc.hz > 100000000000LL || o->tsc.interval_ns < 100000000)
		return 0;
	t->tsc_ring[t->tsc_pos] = o->tsc.hz;
	t->tsc_pos = (t->tsc_pos + 1) % w;
	if (t->tsc_n < w)
		t->tsc_n++;
	if (t->tsc_n < w)
		return 0;
	med = median(t->tsc_ring, w);
	if (!t->tsc_base) {
		/*
		 * The first baseline is the advertised rate when there is one: a VM that
		 * started (or resumed) on a host whose TSC runs at another rate shows it here.
		 */
		bool ref = o->tsc.ref_hz >= 1000000 && o->tsc.ref_hz <= 100000000000LL;

		t->tsc_base = ref ? o->tsc.ref_hz : med;
		t->tsc_base_ref = ref;
	}
	ppm = (med - t->tsc_base) * 1000000 / t->tsc_base;
	if (abs64(ppm) <= t->th.tsc_ppm) {
		/* Agreeing with the advertised rate; from now on compare with what we measure. */
		if (t->tsc_base_ref)
			t->tsc_base = med;
		t->tsc_base_ref = false;
		return 0;
	}
	t->tsc_base_ref = false;
	e = observe_event(o, EV_TIMING_TSC_RATE, SEV_WARNING, "tsc",
			  "TSC rate changed from %.3f MHz to %.3f MHz (%+lld ppm)",
			  t->tsc_base / 1e6, med / 1e6, (long long)ppm);
	if (e) {
		body_i64(e, "baseline_hz", t->tsc_base);
		body_i64(e, "hz", med);
		body_i64(e, "ppm", ppm);
		body_i64(e, "ref_hz", o->tsc.ref_hz);
	}
	t->tsc_base = med;
	return evlist_push(out, e);
}

static int hre_feed(struct timing *t, const struct observation *o, struct evlist *out)
{
	int64_t prev = t->hre_count;
	struct event *e;

	t->hre_count = o->hre.count;
	if (!t->hre_seen || o->hre.count <= prev) {
		t->hre_seen = true;
		return 0;
	}
	/* Hyper-V tells its guests through this interrupt that the TSC frequency changed. */
	e = observe_event(
		o, EV_TIMING_TSC_RATE, SEV_WARNING, "hyperv",
		"Hyper-V reenlightenment: the host changed the TSC frequency (%lld notifications)",
		(long long)(o->hre.count - prev));
	if (e) {
		body_i64(e, "count", o->hre.count);
		body_i64(e, "delta", o->hre.count - prev);
	}
	return evlist_push(out, e);
}

bool timing_kmsg_relevant(const char *msg)
{
	static const char *const needles[] = {
		"clocksource", "Marking TSC unstable", "TSC unstable",
		"tsc: ",       "kvm-clock:",	       "timekeeping watchdog",
	};

	for (size_t i = 0; i < sizeof(needles) / sizeof(needles[0]); i++)
		if (strstr(msg, needles[i]))
			return true;
	return false;
}

static int clocksource_feed(struct timing *t, const struct observation *o, struct evlist *out)
{
	struct event *e;

	if (o->src == OBS_KMSG) {
		if (!timing_kmsg_relevant(o->text))
			return 0;
		e = observe_event(o, EV_TIMING_CLOCKSOURCE, SEV_NOTICE, "kmsg", "kernel: %.180s",
				  o->text);
		if (e)
			body_str(e, "msg", o->text);
		return evlist_push(out, e);
	}
	if (!t->clocksource[0] || !strcmp(t->clocksource, o->text)) {
		snprintf(t->clocksource, sizeof(t->clocksource), "%.63s", o->text);
		return 0;
	}
	e = observe_event(o, EV_TIMING_CLOCKSOURCE, SEV_WARNING, o->text,
			  "clocksource changed from %s to %s", t->clocksource, o->text);
	if (e) {
		body_str(e, "from", t->clocksource);
		body_str(e, "to", o->text);
	}
	snprintf(t->clocksource, sizeof(t->clocksource), "%.63s", o->text);
	return evlist_push(out, e);
}

/* --- steal and CPUID exits --------------------------------------------------------------- */

static int steal_feed(struct timing *t, const struct observation *o, struct evlist *out)
{
	double pm;
	struct event *e;

	if (o->steal.interval_ns <= 0 || o->steal.ncpu <= 0)
		return 0;
	pm = 1000.0 * o->steal.steal_ns / ((double)o->steal.interval_ns * o->steal.ncpu);
	if (!t->steal_seen) {
		t->steal_seen = true;
		t->steal_base = pm;
		return 0;
	}
	if (t->steal_high) {
		/* Hysteresis: one jump, one event, however long the high steal lasts. */
		if (pm < t->th.steal_permille / 2.0)
			t->steal_high = false;
		return 0;
	}
	if (pm < t->th.steal_permille || pm < t->th.steal_factor * t->steal_base) {
		t->steal_base += (pm - t->steal_base) / 8;
		return 0;
	}
	t->steal_high = true;
	e = observe_event(o, EV_TIMING_STEAL, SEV_NOTICE, "steal",
			  "steal time jumped to %.1f%% of vCPU time (baseline %.1f%%)", pm / 10,
			  t->steal_base / 10);
	if (e) {
		body_i64(e, "steal_permille", (int64_t)pm);
		body_i64(e, "baseline_permille", (int64_t)t->steal_base);
		body_i64(e, "interval_ns", o->steal.interval_ns);
	}
	return evlist_push(out, e);
}

/* Two deviating samples in a row: one sample can be spoiled by a descheduled vCPU. */
static int cpuid_lat_feed(struct timing *t, const struct observation *o, struct evlist *out)
{
	int64_t m = o->cpuid_lat.median_ns, d, tol;
	struct event *e;

	if (m <= 0 || m > 1000000000) /* a CPUID taking a second is a broken sample */
		return 0;
	if (t->lat_n < CPUID_LAT_WARMUP) {
		t->lat_warm[t->lat_n++] = m;
		if (t->lat_n == CPUID_LAT_WARMUP)
			t->lat_base = median(t->lat_warm, CPUID_LAT_WARMUP);
		return 0;
	}
	d = m - t->lat_base;
	tol = t->lat_base * t->th.cpuid_lat_pct / 100;
	if (tol < t->th.cpuid_lat_min_ns)
		tol = t->th.cpuid_lat_min_ns;
	if (abs64(d) <= tol) {
		t->lat_dev = 0;
		return 0;
	}
	if (++t->lat_dev < 2)
		return 0;
	e = observe_event(o, EV_TIMING_CPUID_LATENCY, SEV_NOTICE, "cpuid",
			  "a CPUID exit now costs %.2f us instead of %.2f us", m / 1e3,
			  t->lat_base / 1e3);
	if (e) {
		body_i64(e, "baseline_ns", t->lat_base);
		body_i64(e, "median_ns", m);
		body_i64(e, "p90_ns", o->cpuid_lat.p90_ns);
	}
	t->lat_base = m;
	t->lat_dev = 0;
	return evlist_push(out, e);
}

int timing_feed(struct timing *t, const struct observation *o, struct evlist *out)
{
	int err;

	/* Close a finished stall episode first so events come out in time order. */
	if (o->src != OBS_STALL) {
		err = timing_flush(t, o->mono_ns, out);
		if (err)
			return err;
	}
	switch (o->src) {
	case OBS_STALL:
		return stall_feed(t, o, out);
	case OBS_CLOCK_STEP:
		return clock_step_feed(t, o, out);
	case OBS_HOSTCLOCK:
		return hostclock_feed(t, o, out);
	case OBS_TSC:
		return tsc_feed(t, o, out);
	case OBS_CLOCKSOURCE:
	case OBS_KMSG:
		return clocksource_feed(t, o, out);
	case OBS_STEAL:
		return steal_feed(t, o, out);
	case OBS_CPUID_LAT:
		return cpuid_lat_feed(t, o, out);
	case OBS_HRE:
		return hre_feed(t, o, out);
	default: /* snapshots, probes, faults: evidence.c */
		break;
	}
	return 0;
}
