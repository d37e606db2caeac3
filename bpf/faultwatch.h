/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared between bpf/faultwatch.bpf.c and detector/capture/faultwatch.c: the ring-buffer
 * records, the map keys and values, and the statistics slots.  Fixed-width types only, so
 * that both sides agree on the layout whatever their compiler.
 */
#ifndef CPUDRIFT_FAULTWATCH_SHARED_H
#define CPUDRIFT_FAULTWATCH_SHARED_H

#define FW_NBYTES 16
#define FW_COMM_LEN 16
/* A path as the kernel rebuilt it: at most this many bytes and this many dentries. */
#define FW_PATH_MAX 512
#define FW_PATH_DEPTH 40

/* Which program variant produced a record. */
enum fw_variant_id {
	FW_VAR_TP_BTF = 1,
	FW_VAR_RAW_TP = 2,
};

enum fw_rec_type {
	FW_REC_FAULT = 1, /* a CPU fault, detailed */
	FW_REC_FORGED = 2, /* a watched signal that was not a CPU fault */
	FW_REC_EXIT = 3, /* the last thread of a process that faulted exited */
};

/* Who raised the fault: a CPU exception, or one its tracer may have injected. */
enum fw_origin {
	FW_ORIGIN_CPU = 0,
	FW_ORIGIN_TRACED = 1,
};

/* Why a watched signal was not taken for a CPU fault (fw_forged_rec.reason). */
enum fw_reject {
	FW_REJ_NOT_SELF = 1, /* sent by or to another task */
	FW_REJ_NO_INFO, /* kill()-style signal without siginfo */
	FW_REJ_CODE, /* si_code no CPU exception of this signal uses */
	FW_REJ_GROUP, /* sent to the whole thread group: forced faults go to one task */
	FW_REJ_SYSCALL, /* generated inside a system call */
	FW_REJ_ADDR, /* si_addr is not the trapping instruction */
	FW_REJ_TRAP, /* the kernel's trap record (trap_nr, cr2) disagrees */
};

/* fw_file.flags */
#define FW_FILE_VALID 1u /* dev and ino are set */
#define FW_FILE_TRUNCATED 2u /* the path walk stopped at its bound */
#define FW_FILE_DELETED 4u /* the file was unlinked */
#define FW_FILE_PATH 8u /* path[] holds the walk */

/* What holds the faulting IP when no file does (fw_fault_rec.map_kind). */
enum fw_map_kind {
	FW_MAP_UNKNOWN = 0, /* the VMA could not be read (mmap lock busy) */
	FW_MAP_FILE = 1,
	FW_MAP_ANON = 2,
	FW_MAP_HEAP = 3,
	FW_MAP_STACK = 4,
	FW_MAP_VDSO = 5,
};

/*
 * A file as the kernel knows it.  path[] holds the names from the file up to the root of
 * its mount namespace, leaf first, each NUL-terminated (user space reverses them).
 */
struct fw_file {
	__u64 ino;
	__u32 dev; /* kernel dev_t: major << 20 | minor */
	__u32 flags; /* FW_FILE_* */
	__u32 len; /* bytes used in path[] */
	__u32 depth; /* names in path[] */
	char path[FW_PATH_MAX];
};

/* A file's identity without its path (map values). */
struct fw_ident {
	__u64 ino;
	__u32 dev;
	__u32 flags;
};

/* One faulting instruction of one program image: a site. */
struct fw_key {
	__u32 tgid;
	__u32 origin; /* enum fw_origin: traced faults never share a site with others */
	__u64 start_ns; /* process start (boot ns): a reused pid is another process */
	__u64 exec_id; /* task->self_exec_id: an exec is another program */
	__u64 ip;
};

/*
 * Per site: the exact count, the detail token bucket, and what the first fault showed,
 * so that user space can judge the site even when no detail record reached it.
 */
struct fw_site {
	__u64 count;
	__u64 refill_ns;
	__u64 tokens;
	__u64 first_ns;
	__u64 map_off; /* file offset of ip in the mapping */
	__u64 code_off; /* ip - mm->start_code, when FW_F_EXE_CODE */
	__u32 flags; /* FW_F_EXE_CODE */
	__u32 pad;
	struct fw_ident exe;
	struct fw_ident map;
	__u32 map_kind;
	__s32 sig;
	__s32 si_code;
	__u32 trap_nr;
	__u32 nbytes;
	__u32 cpu;
	__u32 tid;
	__u32 uid;
	char comm[FW_COMM_LEN];
	__u8 bytes[FW_NBYTES];
};

/* One process (a pid with its start time). */
struct fw_pkey {
	__u32 tgid;
	__u32 pad;
	__u64 start_ns;
};

struct fw_proc {
	__u64 untracked; /* faults of this process that no site holds */
	__u64 untracked_detailed; /* of those, the ones a detail record carries (counted first) */
	__u64 refill_ns; /* detail bucket for its untracked faults */
	__u64 tokens;
	__u32 nsites;
	__u32 exited;
	char comm[FW_COMM_LEN]; /* of the thread that faulted first */
};

/* Global token buckets (one-element array). */
struct fw_bucket {
	__u64 refill_ns;
	__u64 tokens;
};

/* fw_fault_rec.flags */
#define FW_F_UNTRACKED 1u /* no site holds it: counted in the process's catch-all */
#define FW_F_NOPROC 2u /* not even the process could be stored: global catch-all */
#define FW_F_FATAL 4u /* no handler: the signal kills the process */
#define FW_F_EXE_CODE 8u /* ip lies in the executable's code: code_off is ip - start_code */

struct fw_fault_rec {
	__u32 type; /* FW_REC_FAULT */
	__u32 variant;
	struct fw_key key;
	__u64 ktime_ns; /* bpf_ktime_get_boot_ns() at the fault */
	__u64 addr; /* si_addr */
	__u64 cgroup_id;
	__u64 count; /* the site's count, this fault included (0 when untracked) */
	__u64 map_off;
	__u64 code_off;
	__u32 tid;
	__u32 uid;
	__s32 sig;
	__s32 si_code;
	__u32 trap_nr;
	__u32 nbytes;
	__u32 cpu;
	__u32 map_kind;
	__u32 flags; /* FW_F_* */
	char comm[FW_COMM_LEN];
	__u8 bytes[FW_NBYTES];
	struct fw_file exe;
	struct fw_file map;
};

struct fw_forged_rec {
	__u32 type; /* FW_REC_FORGED */
	__u32 variant;
	__u64 ktime_ns;
	__u32 sender_tgid;
	__u32 sender_tid;
	__u32 sender_uid;
	__u32 target_tgid;
	__u32 target_tid;
	__s32 sig;
	__s32 si_code;
	__u32 reason; /* enum fw_reject */
	char sender_comm[FW_COMM_LEN];
	char target_comm[FW_COMM_LEN];
};

struct fw_exit_rec {
	__u32 type; /* FW_REC_EXIT */
	__u32 pad;
	struct fw_pkey key;
};

/* Slots of the per-CPU statistics array. */
enum fw_stat {
	FW_STAT_FAULTS, /* CPU faults of a watched signal, every one */
	FW_STAT_EVENTS, /* fault detail records submitted */
	FW_STAT_SUPPRESSED, /* faults not detailed because of a rate limit */
	FW_STAT_DROPS, /* ring buffer full: a record lost (its fault is still counted) */
	FW_STAT_UNTRACKED, /* faults held by a process's catch-all, not a site */
	FW_STAT_NOPROC, /* faults held by the global catch-all */
	FW_STAT_NOPROC_DETAILED, /* of those, the ones a detail record carries */
	FW_STAT_FORGED, /* watched signals that were not CPU faults */
	FW_STAT_TRACED, /* CPU faults of traced processes */
	FW_STAT_EXITS, /* exits of processes that faulted */
	FW_STAT__COUNT,
};

#endif
