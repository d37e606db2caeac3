/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared between stall.bpf.c and user space: the lateness of expiring hrtimers.  A timer
 * that runs long after its expiry means its vCPU did not run: the host descheduled it or
 * paused the whole VM.
 */
#ifndef CPUDRIFT_STALL_H
#define CPUDRIFT_STALL_H

/* log2 buckets of lateness in ns: bucket b counts lateness in [2^b, 2^(b+1)). */
#define STALL_HIST_BUCKETS 40

/* One timer that ran later than the threshold (min_lateness_ns). */
struct stall_event {
	__u64 now_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC when the timer ran */
	__u64 lateness_ns; /* now - hard expiry, in the timer's own clock base */
	__u32 cpu;
	__u32 pad;
};

/* Per-CPU running figures, kept for every hard (interrupt-run) timer, late or not. */
struct stall_cpu_stats {
	__u64 count; /* expiring timers seen */
	__u64 late; /* of which above the threshold */
	__u64 max_ns; /* largest lateness seen */
	__u64 sum_ns; /* for the mean */
	__u64 dropped; /* late events lost to a full ring buffer */
	__u64 hist[STALL_HIST_BUCKETS];
	__u64 armed_past; /* timers armed with an expiry already past (hrtimer_start) */
	__u64 excused; /* of those, expiries above the threshold measured from the arming */
};

/*
 * A timer armed when its expiry had already passed ("fire now": systemd's sd-event arms
 * its timerfds at absolute 1 ns).  It cannot run before it was armed, so its lateness
 * counts from @armed_ns, not from @expires.  Both in the timer's own clock base.
 */
struct stall_past_arm {
	__s64 expires;
	__s64 armed_ns;
};

#endif
