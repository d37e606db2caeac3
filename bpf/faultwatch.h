/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared between bpf/faultwatch.bpf.c and detector/faultwatch.c: the fault event, the
 * rate-limit map entry and the statistics slots.  Fixed-width types only, so that both
 * sides agree on the layout whatever their compiler.
 */
#ifndef CPUDRIFT_FAULTWATCH_SHARED_H
#define CPUDRIFT_FAULTWATCH_SHARED_H

#define FW_NBYTES 16
#define FW_COMM_LEN 16

/* Which program variant produced an event. */
enum fw_variant_id {
	FW_VAR_TP_BTF = 1,
	FW_VAR_RAW_TP = 2,
	FW_VAR_TRACEPOINT = 3,
};

struct fw_event {
	__u64 ktime_ns; /* bpf_ktime_get_boot_ns() at the fault */
	__u64 ip; /* user instruction pointer of the faulting instruction */
	__u64 addr; /* si_addr (0 for the plain tracepoint, which does not carry it) */
	__u64 start_ns; /* process start, boot-time ns (group leader's start_boottime) */
	__u64 cgroup_id; /* cgroup v2 id */
	__u64 count; /* faults at (tgid, ip) so far, this one included */
	__u64 suppressed; /* faults at (tgid, ip) not reported since the previous event */
	__u32 tgid;
	__u32 tid;
	__s32 sig;
	__s32 si_code;
	__u32 trap_nr; /* x86 trap vector (6 = #UD, 13 = #GP, 14 = #PF) */
	__u32 nbytes; /* valid bytes in bytes[] (fewer at an unreadable page) */
	__u32 variant; /* enum fw_variant_id */
	__u32 cpu; /* the CPU the fault happened on */
	char comm[FW_COMM_LEN];
	__u8 bytes[FW_NBYTES];
};

struct fw_key {
	__u32 tgid;
	__u32 pad;
	__u64 ip;
};

/* Per (tgid, ip): the exact fault count and a token bucket for detail events. */
struct fw_site {
	__u64 count;
	__u64 suppressed;
	__u64 refill_ns; /* time the bucket was last refilled */
	__u64 tokens;
};

/* Slots of the per-CPU statistics array. */
enum fw_stat {
	FW_STAT_FAULTS, /* synchronous faults of a watched signal */
	FW_STAT_EVENTS, /* detail events submitted */
	FW_STAT_SUPPRESSED, /* faults not detailed because of the rate limit */
	FW_STAT_DROPS, /* ring buffer full: detail event lost (the fault is still counted) */
	FW_STAT_NEWSITE_FAIL, /* site map update failed: counted in FW_STAT_FAULTS only */
	FW_STAT__COUNT,
};

#endif
