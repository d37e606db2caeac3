/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Live timing sources (capture): each turns one clock or counter of this machine into
 * observations (observe.h), never into verdicts.
 *
 *   stall        BPF: late hrtimers per vCPU (tp_btf, raw_tp fallback); a timer armed
 *                with its expiry already past is late only from its arming
 *   clock_step   timerfd with TFD_TIMER_CANCEL_ON_SET: the moment CLOCK_REALTIME is set
 *   hostclock    /dev/rtc0 (update interrupt edges) and /dev/ptp* (PTP_SYS_OFFSET)
 *   tsc          RDTSC against CLOCK_MONOTONIC_RAW over an interval
 *   clocksource  sysfs current_clocksource, and watchdog messages from /dev/kmsg
 *   steal        /proc/stat
 *   cpuid_lat    median cost of a few hundred CPUID exits
 *   hre          Hyper-V reenlightenment count (/proc/interrupts), on Hyper-V only
 *
 * Made for an epoll loop: add every fd of timesrc_fds() for EPOLLIN and call
 * timesrc_dispatch() with the fd that became ready.  A source that cannot open (no RTC,
 * no BTF, not root) is skipped; timesrc_status() says why.
 */
#ifndef CPUDRIFT_TIMESRC_H
#define CPUDRIFT_TIMESRC_H

#include <signal.h>
#include <stdint.h>

#include <json-c/json.h>

#include "core/observe.h"

struct errbuf;
struct stall_cpu_stats;

#define TIMESRC_ALL ((1u << OBS__COUNT) - 1) /* every timing source (bit = enum obs_source) */

struct timesrc_opts {
	unsigned sources; /* bitmask of 1 << OBS_*; default TIMESRC_ALL */
	int64_t stall_ns; /* BPF rodata threshold: shorter lateness stays in the kernel */
	const char *stall_variant; /* NULL: tp_btf, then raw_tp; "tp_btf"/"raw_tp": only that */
	int tick_ms; /* the periodic timer; every interval below is a multiple */
	int clocksource_s; /* sysfs clocksource poll */
	int ptp_s; /* PTP offset sample */
	int tsc_s; /* TSC rate interval */
	int steal_s; /* /proc/stat interval */
	int cpuid_lat_s; /* CPUID latency sample interval ... */
	int cpuid_lat_n; /* ... of this many CPUIDs */
	int hre_s; /* /proc/interrupts interval */
	int rtc_quiet_s; /* RTC: emit unchanged offsets (within 2 ms) only this often */
};

/* Defaults: every source, timing_thresholds_default()'s stall threshold, a 5 s tick
 * (each wakeup costs about 0.25 ms of CPU in this VM, so the tick is the budget). */
void timesrc_opts_default(struct timesrc_opts *o);

typedef void (*timesrc_cb)(void *ctx, const struct observation *o);

struct timesrc;

/** Open every requested source that can open.  0 or a negative errno with @err filled. */
int timesrc__new(struct timesrc **out, const struct timesrc_opts *o, timesrc_cb cb, void *ctx,
		 struct errbuf *err);
void timesrc__free(struct timesrc *ts);

/** The fds to poll for EPOLLIN; returns their number (at most @max). */
int timesrc_fds(const struct timesrc *ts, int *fds, int max);
/** Handle @fd (-1: everything) without blocking; observations go to the callback. */
int timesrc_dispatch(struct timesrc *ts, int fd);
/** Take a sample of a periodic source now (tests, record start).  -ENODEV if inactive. */
int timesrc_sample(struct timesrc *ts, enum obs_source src);
/**
 * A tiny epoll loop over timesrc_dispatch for @duration_ns (<= 0: until *@stop), calling
 * @idle (may be NULL) after every wakeup.  0 or a negative errno.
 */
int timesrc_run(struct timesrc *ts, int64_t duration_ns, volatile sig_atomic_t *stop,
		void (*idle)(void *ctx), void *ctx);

/** True when @src opened. */
bool timesrc_active(const struct timesrc *ts, enum obs_source src);
/** {"<source>": {"active": bool, "detail": "..."}}: what runs, and why not. */
struct json_object *timesrc_status(const struct timesrc *ts);

/** The stall program's threshold from now on (a reload), without reloading it. */
void timesrc_set_stall_threshold(struct timesrc *ts, int64_t stall_ns);
/** The stall program variant in use ("tp_btf", "raw_tp"), or NULL. */
const char *timesrc_stall_variant(const struct timesrc *ts);
/** The stall program's fd (bpf_stats), or -1. */
int timesrc_stall_prog_fd(const struct timesrc *ts);
/** The fd of its companion on hrtimer_start (timers armed in the past), or -1. */
int timesrc_stall_arm_prog_fd(const struct timesrc *ts);
/** Per-CPU stall figures summed since load into @st[cpu]; returns the CPU count or -errno. */
int timesrc_stall_stats(const struct timesrc *ts, struct stall_cpu_stats *st, int max);

#endif
