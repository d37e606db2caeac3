// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hrtimer lateness: on every expiring hrtimer, now minus the timer's hard expiry, or minus
 * the moment it was armed when its expiry had already passed then.  Two programs (the
 * expiry and the arming), each in two variants; user space loads tp_btf and falls back to
 * raw_tp (both need only CAP_BPF + CAP_PERFMON, unlike a plain tracepoint under
 * perf_event_paranoid=3).
 *
 * Only lateness that means the vCPU did not run counts:
 *   - hard timers only: soft ones run from a softirq a busy vCPU defers;
 *   - CLOCK_MONOTONIC and CLOCK_BOOTTIME bases only: a CLOCK_REALTIME or CLOCK_TAI expiry
 *     moves when someone sets the clock, and a timer it overtakes looks late by the step;
 *   - a timer armed with an expiry already past (systemd arms its timerfds at absolute
 *     1 ns to mean "now"; timerfd_settime and clock_nanosleep take any past time) is late
 *     only from the moment it was armed.  struct hrtimer keeps no start time, so the
 *     arming program remembers those timers, and only those, by address.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "stall.h"

char LICENSE[] SEC("license") = "GPL";

/* Only lateness above this reaches user space; user space may change it at run time (a
 * reload), hence .data and not rodata. */
volatile __u64 min_lateness_ns = 1000000;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stall_cpu_stats);
} stats SEC(".maps");

/*
 * Timers armed in the past, by address.  Such a timer runs within microseconds of its
 * arming (the clock event is programmed for "now"), so an entry is needed only that long;
 * LRU bounds the map, and evicting one would take thousands of past armings inside those
 * microseconds.  Entries of timers that ran on time stay until evicted: harmless, the
 * expiry is compared before an entry is used.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct stall_past_arm);
} armed_past SEC(".maps");

/* Linux clock ids (include/uapi/linux/time.h); vmlinux.h carries no macros. */
#define CLK_MONOTONIC 1
#define CLK_BOOTTIME 7

static __always_inline bool counted(int clockid)
{
	return clockid == CLK_MONOTONIC || clockid == CLK_BOOTTIME;
}

static __always_inline int log2_u64(__u64 v)
{
	int r = 0;

	/* Unrolled by hand so the verifier sees a bounded, branch-light sequence. */
	if (v >> 32) {
		v >>= 32;
		r += 32;
	}
	if (v >> 16) {
		v >>= 16;
		r += 16;
	}
	if (v >> 8) {
		v >>= 8;
		r += 8;
	}
	if (v >> 4) {
		v >>= 4;
		r += 4;
	}
	if (v >> 2) {
		v >>= 2;
		r += 2;
	}
	if (v >> 1)
		r += 1;
	return r;
}

/*
 * hrtimer_start (every enqueue: a start, a restart from the callback, a move to another
 * CPU): remember the timer only when its expiry has already passed.  This runs thousands
 * of times a second on a busy machine (every tick restarts its timer), so what cannot be
 * in the past leaves before the clock is read, the costly part here: a relative timer
 * (expiry = now + a delay that timerfd, nanosleep and POSIX timers check is not
 * negative), and a timer restarting from its own callback (hrtimer_forward_now put its
 * expiry after now; the base is running it).
 */
static __always_inline int arm(__u64 timer, __s64 expires, bool soft, bool rel, bool restart,
			       int clockid)
{
	struct stall_past_arm v;
	struct stall_cpu_stats *st;
	__u32 zero = 0;
	__s64 now;

	if (soft || rel || restart || !counted(clockid))
		return 0;
	now = clockid == CLK_MONOTONIC ? bpf_ktime_get_ns() : bpf_ktime_get_boot_ns();
	if (expires > now)
		return 0;
	v.expires = expires;
	v.armed_ns = now;
	bpf_map_update_elem(&armed_past, &timer, &v, BPF_ANY);
	st = bpf_map_lookup_elem(&stats, &zero);
	if (st)
		st->armed_past++;
	return 0;
}

/*
 * @expires is the hard expiry, not _softexpires: timers with slack may run anywhere between
 * the two, and counting the slack (50 us for ordinary tasks) as lateness would only add noise.
 */
static __always_inline int handle(__u64 timer, __s64 now, __s64 expires, bool soft, int clockid)
{
	struct stall_cpu_stats *st;
	struct stall_past_arm *p;
	struct stall_event *e;
	__u32 zero = 0;
	__s64 late;
	int b;

	/*
	 * Soft timers run from the softirq, which a busy vCPU defers to ksoftirqd: measured
	 * here they run up to 34 ms late under stress-ng with the vCPU running all along.
	 * Only hard timers, run from the timer interrupt, say the vCPU itself stood still.
	 */
	if (soft || !counted(clockid))
		return 0;
	st = bpf_map_lookup_elem(&stats, &zero);
	if (!st)
		return 0;
	late = now - expires;
	/* Only a timer that looks late is looked up: the map is off the common path. */
	if (late >= (__s64)min_lateness_ns) {
		p = bpf_map_lookup_elem(&armed_past, &timer);
		if (p) {
			if (p->expires == expires && p->armed_ns > expires) {
				late = now - p->armed_ns;
				st->excused++;
			}
			bpf_map_delete_elem(&armed_past, &timer);
		}
	}
	if (late < 0)
		late = 0;
	st->count++;
	st->sum_ns += late;
	if ((__u64)late > st->max_ns)
		st->max_ns = late;
	b = late ? log2_u64(late) : 0;
	if (b >= STALL_HIST_BUCKETS)
		b = STALL_HIST_BUCKETS - 1;
	st->hist[b]++;
	if ((__u64)late < min_lateness_ns)
		return 0;
	st->late++;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		st->dropped++;
		return 0;
	}
	e->now_ns = bpf_ktime_get_ns();
	e->lateness_ns = late;
	e->cpu = bpf_get_smp_processor_id();
	e->pad = 0;
	/*
	 * No wake-up: a stall is a burst of late timers, and each wake-up costs the reader
	 * about 0.5 ms of CPU in a VM; user space drains the buffer on its tick instead.
	 */
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	return 0;
}

/*
 * The timer is a BTF-typed pointer and reads directly; ktime_t * points to a scalar the
 * verifier does not type (kernel 6.18), so `now` still takes a probe read.
 */
SEC("tp_btf/hrtimer_expire_entry")
int BPF_PROG(stall_btf, struct hrtimer *timer, ktime_t *now)
{
	__s64 t = 0;

	bpf_probe_read_kernel(&t, sizeof(t), now);
	return handle((__u64)timer, t, timer->node.expires, timer->is_soft, timer->base->clockid);
}

SEC("raw_tp/hrtimer_expire_entry")
int BPF_PROG(stall_raw, struct hrtimer *timer, ktime_t *now)
{
	__s64 t = 0;

	bpf_probe_read_kernel(&t, sizeof(t), now);
	return handle((__u64)timer, t, BPF_CORE_READ(timer, node.expires),
		      BPF_CORE_READ(timer, is_soft), BPF_CORE_READ(timer, base, clockid));
}

/* Timer and mode only: kernels before 6.17 have no third argument (was_armed). */
SEC("tp_btf/hrtimer_start")
int BPF_PROG(stall_arm_btf, struct hrtimer *timer, enum hrtimer_mode mode)
{
	struct hrtimer_clock_base *base = timer->base;

	return arm((__u64)timer, timer->node.expires, timer->is_soft, mode & HRTIMER_MODE_REL,
		   base->running == timer, base->clockid);
}

SEC("raw_tp/hrtimer_start")
int BPF_PROG(stall_arm_raw, struct hrtimer *timer, enum hrtimer_mode mode)
{
	struct hrtimer_clock_base *base = BPF_CORE_READ(timer, base);

	return arm((__u64)timer, BPF_CORE_READ(timer, node.expires), BPF_CORE_READ(timer, is_soft),
		   mode & HRTIMER_MODE_REL, BPF_CORE_READ(base, running) == timer,
		   BPF_CORE_READ(base, clockid));
}
