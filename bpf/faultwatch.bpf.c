// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fault watcher: every synchronous fault of a watched signal (SIGILL by default) is
 * counted exactly per (process, instruction pointer), and detailed - with the instruction
 * bytes - through a ring buffer under a per-site token bucket, so a process faulting in a
 * loop costs bounded CPU and loses no count.
 *
 * Three variants of one program on signal_generate; user space loads exactly one:
 * tp_btf (typed arguments), raw_tp (same arguments, read with probe_read) and the plain
 * tracepoint (its record has no siginfo address, and needs CAP_SYS_ADMIN under
 * perf_event_paranoid 3, hence last).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "faultwatch.h"

/* Tunables, set by user space before load; the mask also at run time (a reload): .data. */
volatile __u64 sig_mask = 1ull << 4; /* SIGILL */
const volatile __u64 rl_interval_ns = 1000000000ull; /* one token per interval per site */
const volatile __u64 rl_burst = 5;

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* A plain hash, not LRU: eviction would lose counts.  User space prunes dead processes. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct fw_key);
	__type(value, struct fw_site);
} sites SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FW_STAT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* kernel/signal.c: SEND_SIG_NOINFO is ((struct kernel_siginfo *)0), SEND_SIG_PRIV is 1. */
#define SEND_SIG_PRIV_ADDR 1
#define SI_USER 0
#define SI_KERNEL 0x80

static __always_inline void stat_inc(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &slot);

	if (v)
		(*v)++;
}

/* Whether to detail this fault: consumes a token of the site's bucket. */
static __always_inline bool site_take_token(struct fw_site *s, __u64 now)
{
	__u64 interval = rl_interval_ns ?: 1;
	__u64 elapsed = now - s->refill_ns;
	__u64 add = elapsed / interval;

	if (add) {
		s->tokens += add;
		if (s->tokens > rl_burst)
			s->tokens = rl_burst;
		s->refill_ns += add * interval;
	}
	if (!s->tokens)
		return false;
	s->tokens--;
	return true;
}

static __always_inline int handle(int sig, int code, __u64 addr, __u32 target_tid, __u32 variant)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct task_struct *task;
	struct fw_key key = {};
	struct fw_site *site, fresh = {};
	struct fw_event *e;
	struct pt_regs *regs;
	__u64 now, count, suppressed;
	bool detail;

	if (sig <= 0 || sig >= 64 || !(sig_mask & (1ull << sig)))
		return 0;
	/* Synchronous faults only: raised by the kernel for the task that is running. */
	if (code <= 0 || target_tid != (__u32)pid_tgid)
		return 0;

	task = bpf_get_current_task_btf();
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	key.tgid = pid_tgid >> 32;
	key.ip = BPF_CORE_READ(regs, ip);
	now = bpf_ktime_get_boot_ns();
	stat_inc(FW_STAT_FAULTS);

	site = bpf_map_lookup_elem(&sites, &key);
	if (!site) {
		fresh.refill_ns = now;
		fresh.tokens = rl_burst;
		bpf_map_update_elem(&sites, &key, &fresh, BPF_NOEXIST);
		site = bpf_map_lookup_elem(&sites, &key);
		if (!site) {
			stat_inc(FW_STAT_NEWSITE_FAIL);
			return 0;
		}
	}
	count = __sync_fetch_and_add(&site->count, 1) + 1;
	/* Two CPUs racing on one site may hand out one token too many: harmless. */
	detail = site_take_token(site, now);
	if (!detail) {
		__sync_fetch_and_add(&site->suppressed, 1);
		stat_inc(FW_STAT_SUPPRESSED);
		return 0;
	}
	suppressed = __sync_lock_test_and_set(&site->suppressed, 0);

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_inc(FW_STAT_DROPS);
		return 0;
	}
	e->ktime_ns = now;
	e->ip = key.ip;
	e->addr = addr;
	e->start_ns = BPF_CORE_READ(task, group_leader, start_boottime);
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->count = count;
	e->suppressed = suppressed;
	e->tgid = key.tgid;
	e->tid = (__u32)pid_tgid;
	e->sig = sig;
	e->si_code = code;
	e->trap_nr = BPF_CORE_READ(task, thread.trap_nr);
	e->variant = variant;
	e->cpu = bpf_get_smp_processor_id();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	__builtin_memset(e->bytes, 0, sizeof(e->bytes));
	if (!bpf_probe_read_user(e->bytes, FW_NBYTES, (void *)key.ip)) {
		e->nbytes = FW_NBYTES;
	} else {
		/* The instruction may end a readable page: keep what precedes the boundary. */
		__u32 n = 4096 - (key.ip & 4095);

		e->nbytes = 0;
		if (n < FW_NBYTES &&
		    !bpf_probe_read_user(e->bytes, n & (FW_NBYTES - 1), (void *)key.ip))
			e->nbytes = n;
	}
	bpf_ringbuf_submit(e, 0);
	stat_inc(FW_STAT_EVENTS);
	return 0;
}

static __always_inline int siginfo_code(struct kernel_siginfo *info, __u64 *addr)
{
	*addr = 0;
	if ((unsigned long)info == 0)
		return SI_USER;
	if ((unsigned long)info == SEND_SIG_PRIV_ADDR)
		return SI_KERNEL;
	*addr = (__u64)BPF_CORE_READ(info, _sifields._sigfault._addr);
	return BPF_CORE_READ(info, si_code);
}

SEC("tp_btf/signal_generate")
int BPF_PROG(fw_tp_btf, int sig, struct kernel_siginfo *info, struct task_struct *task, int group,
	     int result)
{
	__u64 addr;
	int code = siginfo_code(info, &addr);

	return handle(sig, code, addr, BPF_CORE_READ(task, pid), FW_VAR_TP_BTF);
}

SEC("raw_tp/signal_generate")
int BPF_PROG(fw_raw_tp, int sig, struct kernel_siginfo *info, struct task_struct *task, int group,
	     int result)
{
	__u64 addr;
	int code = siginfo_code(info, &addr);

	return handle(sig, code, addr, BPF_CORE_READ(task, pid), FW_VAR_RAW_TP);
}

SEC("tracepoint/signal/signal_generate")
int fw_tracepoint(struct trace_event_raw_signal_generate *ctx)
{
	return handle(ctx->sig, ctx->code, 0, ctx->pid, FW_VAR_TRACEPOINT);
}
