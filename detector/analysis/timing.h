/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Timing analysis (pure): observations in, timing.* events out.  The same code runs live
 * (fed by timesrc) and on recordings (`cpudrift replay`).  Stateful only in what a rule
 * needs to remember (baselines, the open stall episode), never in clocks: every decision
 * uses the times carried by the observations.
 * Observations of snapshots, probes and faults are evidence.c's, not this module's.
 */
#ifndef CPUDRIFT_TIMING_H
#define CPUDRIFT_TIMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/event.h"
#include "core/observe.h"

/*
 * Thresholds.  Defaults chosen from measurements on the project machine (2-vCPU KVM-style
 * guest under bhyve, AMD "Turin-like", kernel 6.18, kvm-clock, HZ=250, NO_HZ_IDLE; other
 * engineers' builds ran meanwhile), `cpudrift record --stall-us 1000` plus
 * bench_timing, 3 min + 1.5 min idle and the same under `stress-ng --cpu 2`:
 *
 *   source              idle                         stress-ng --cpu 2         default
 *   hard-hrtimer late   p99 0.26-0.52 ms, max 10-30  p99 0.13 ms, max 30-34 ms  50 ms
 *                       ms (one 29.6 ms on both      (several 15-30 ms on both
 *                       vCPUs at once)               vCPUs at once)
 *   (soft timers, now ignored, ran up to 34 ms late under load with the vCPU running)
 *   TSC vs MONOTONIC_RAW 2096.007 MHz, 0 ppm spread  0 ppm spread               1000 ppm
 *                        over 10 s intervals                                    (median of 3)
 *   CPUID-exit median   6.0-7.5 us (p90 <= 8 us)     6.2-7.3 us (p90 to 30 us)  +-40% and
 *                                                                               >= 1 us, twice
 *   steal               0 (the host reports none)    0                          10% and 4x
 *                                                                               baseline
 *   CLOCK_REALTIME set  only our own no-op sets (|step| < 10 us)                100 ms (NTP
 *                                                                               slews below
 *                                                                               128 ms)
 *   RTC/PTP offset      no /dev/rtc0 or /dev/ptp* here; RTC sampled on its     100 ms beyond
 *                       update-interrupt edge (10 ms wake-up allowance)        the uncertainty
 *
 * A live migration's stop-and-copy pause is typically 50-300 ms; pauses shorter than
 * 50 ms are indistinguishable here from host contention and are not reported as stalls.
 */
struct timing_thresholds {
	int64_t stall_ns; /* hrtimer lateness that counts as a stall (BPF rodata) */
	int64_t stall_group_ns; /* late timers on different vCPUs this close form one episode */
	int64_t clock_step_ns; /* |step| of CLOCK_REALTIME at a set */
	int64_t hostclock_ns; /* jump of (RTC or PTP) - CLOCK_REALTIME beyond its uncertainty */
	int64_t tsc_ppm; /* TSC rate change, parts per million of the baseline */
	int tsc_window; /* the rate is the median of this many intervals (odd, 1-15) */
	int64_t steal_permille; /* steal share of all vCPU time that counts as a jump ... */
	int steal_factor; /* ... when also this many times the running baseline */
	int cpuid_lat_pct; /* shift of the CPUID-exit median against its baseline ... */
	int64_t cpuid_lat_min_ns; /* ... and at least this many ns */
};

/* The defaults documented above. */
void timing_thresholds_default(struct timing_thresholds *t);

struct timing;

struct timing *timing__new(const struct timing_thresholds *th);
void timing__free(struct timing *t);

/** Analyse one observation; appends 0 or more events to @out.  0 or -ENOMEM. */
int timing_feed(struct timing *t, const struct observation *o, struct evlist *out);

/**
 * Close what can no longer grow by @mono_ns (the open stall episode); call it on every
 * tick live and with INT64_MAX at the end of a recording.  0 or -ENOMEM.
 */
int timing_flush(struct timing *t, int64_t mono_ns, struct evlist *out);

/** True for kernel messages the clocksource rule cares about (watchdog, TSC, switches). */
bool timing_kmsg_relevant(const char *msg);

#endif
