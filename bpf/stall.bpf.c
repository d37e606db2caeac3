// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hrtimer lateness: on every expiring hrtimer, now minus the timer's hard expiry.  Two
 * variants of one program; user space loads tp_btf and falls back to raw_tp (both need
 * only CAP_BPF + CAP_PERFMON, unlike a plain tracepoint under perf_event_paranoid=3).
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
 * @expires is the hard expiry, not _softexpires: timers with slack may run anywhere between
 * the two, and counting the slack (50 us for ordinary tasks) as lateness would only add noise.
 */
static __always_inline int handle(__s64 now, __s64 expires, bool soft)
{
	struct stall_cpu_stats *st;
	struct stall_event *e;
	__u32 zero = 0;
	__s64 late;
	int b;

	st = bpf_map_lookup_elem(&stats, &zero);
	if (!st)
		return 0;
	/*
	 * Soft timers run from the softirq, which a busy vCPU defers to ksoftirqd: measured
	 * here they run up to 34 ms late under stress-ng with the vCPU running all along.
	 * Only hard timers, run from the timer interrupt, say the vCPU itself stood still.
	 */
	if (soft)
		return 0;
	late = now - expires;
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
	return handle(t, timer->node.expires, timer->is_soft);
}

SEC("raw_tp/hrtimer_expire_entry")
int BPF_PROG(stall_raw, struct hrtimer *timer, ktime_t *now)
{
	__s64 t = 0;

	bpf_probe_read_kernel(&t, sizeof(t), now);
	return handle(t, BPF_CORE_READ(timer, node.expires), BPF_CORE_READ(timer, is_soft));
}
