// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Cost of the timing sources at default settings: the stall program per event (bpf_stats
 * run time / count) and its companion on hrtimer_start (timers armed in the past), how
 * often each runs, and the CPU share of everything together (this process plus both BPF
 * programs) over BENCH_TIMING_S seconds (default 20).  Also the
 * hrtimer lateness distribution seen meanwhile, the figures the stall threshold is
 * chosen from.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/types.h>

#include "../../bpf/stall.h"
#include "core/log.h"
#include "capture/timesrc.h"
#include "analysis/timing.h"

struct ctx {
	struct timing *tm;
	struct evlist ev;
	long nobs;
};

static void on_obs(void *p, const struct observation *o)
{
	struct ctx *c = p;

	c->nobs++;
	timing_feed(c->tm, o, &c->ev);
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Upper bound (us) of the log2 bucket holding quantile @q of the summed histogram. */
static double hist_quantile(const __u64 *h, double q)
{
	__u64 total = 0, acc = 0;

	for (int b = 0; b < STALL_HIST_BUCKETS; b++)
		total += h[b];
	for (int b = 0; b < STALL_HIST_BUCKETS; b++) {
		acc += h[b];
		if (total && acc >= q * total)
			return (double)(2ull << b) / 1000;
	}
	return 0;
}

int main(void)
{
	const char *env = getenv("BENCH_TIMING_S");
	double secs = env ? atof(env) : 20, t0, c0, wall, cpu;
	struct ctx c = { 0 };
	struct timesrc *ts = NULL;
	struct timesrc_opts o;
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	struct stall_cpu_stats st[256];
	__u64 hist[STALL_HIST_BUCKETS] = { 0 }, count = 0, late = 0, dropped = 0, max = 0;
	__u64 armed_past = 0, excused = 0;
	double bpf_s = 0;
	struct errbuf err;
	int stats_fd, n, pfd;

	if (secs <= 0)
		secs = 20;
	/* Kernel-side run time accounting is off by default; it lasts while this fd is open. */
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	c.tm = timing__new(NULL);
	timesrc_opts_default(&o);
	if (!c.tm || timesrc__new(&ts, &o, on_obs, &c, &err)) {
		fprintf(stderr, "bench_timing: %s\n", c.tm ? err.msg : "out of memory");
		return 1;
	}
	t0 = mono_s();
	c0 = cpu_s();
	timesrc_run(ts, (int64_t)(secs * 1e9), NULL, NULL, NULL);
	wall = mono_s() - t0;
	cpu = cpu_s() - c0;

	pfd = timesrc_stall_prog_fd(ts);
	memset(&info, 0, sizeof(info));
	if (pfd >= 0 && stats_fd >= 0 && !bpf_obj_get_info_by_fd(pfd, &info, &len) &&
	    info.run_cnt) {
		bpf_s = info.run_time_ns / 1e9;
		printf("stall_variant: %s\n", timesrc_stall_variant(ts));
		printf("stall_bpf_ns_per_event: %.0f ns\n",
		       (double)info.run_time_ns / info.run_cnt);
		printf("stall_events_per_sec: %.1f events/s\n", info.run_cnt / wall);
	} else {
		printf("stall_bpf_ns_per_event: n/a (stall program not loaded or no bpf_stats: %s)\n",
		       pfd < 0 ? "needs root and BTF" : strerror(errno));
		printf("stall_events_per_sec: n/a\n");
	}
	pfd = timesrc_stall_arm_prog_fd(ts);
	len = sizeof(info);
	memset(&info, 0, sizeof(info));
	if (pfd >= 0 && stats_fd >= 0 && !bpf_obj_get_info_by_fd(pfd, &info, &len) &&
	    info.run_cnt) {
		bpf_s += info.run_time_ns / 1e9;
		printf("stall_arm_bpf_ns_per_event: %.0f ns (hrtimer_start)\n",
		       (double)info.run_time_ns / info.run_cnt);
		printf("stall_arm_events_per_sec: %.1f events/s\n", info.run_cnt / wall);
		printf("stall_arm_cpu_share_pct: %.5f %% of one core\n",
		       100 * info.run_time_ns / 1e9 / wall);
	} else {
		printf("stall_arm_bpf_ns_per_event: n/a\n");
	}
	n = timesrc_stall_stats(ts, st, 256);
	for (int i = 0; i < n; i++) {
		count += st[i].count;
		late += st[i].late;
		dropped += st[i].dropped;
		armed_past += st[i].armed_past;
		excused += st[i].excused;
		if (st[i].max_ns > max)
			max = st[i].max_ns;
		for (int b = 0; b < STALL_HIST_BUCKETS; b++)
			hist[b] += st[i].hist[b];
	}
	if (n > 0) {
		printf("stall_lateness_p50_us: %.0f us (log2 bucket upper bound)\n",
		       hist_quantile(hist, 0.5));
		printf("stall_lateness_p99_us: %.0f us\n", hist_quantile(hist, 0.99));
		printf("stall_lateness_p9999_us: %.0f us\n", hist_quantile(hist, 0.9999));
		printf("stall_lateness_max_us: %.1f us\n", max / 1e3);
		printf("stall_late_events: %llu of %llu timers (dropped %llu)\n",
		       (unsigned long long)late, (unsigned long long)count,
		       (unsigned long long)dropped);
		printf("stall_armed_in_the_past: %llu timers (%llu would have looked late)\n",
		       (unsigned long long)armed_past, (unsigned long long)excused);
	}
	printf("timing_observations_per_sec: %.2f obs/s\n", c.nobs / wall);
	printf("timing_user_cpu_share_pct: %.4f %%\n", 100 * cpu / wall);
	printf("timing_cpu_share_pct: %.4f %% of one core (process + BPF, %.0f s)\n",
	       100 * (cpu + bpf_s) / wall, wall);
	timesrc__free(ts);
	evlist_free(&c.ev);
	timing__free(c.tm);
	if (stats_fd >= 0)
		close(stats_fd);
	return 0;
}
