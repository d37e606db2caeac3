/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One fault, as the fault watcher captured it: what the kernel recorded at the fault, what
 * user space added from /proc, and what CPUID said on the faulting vCPU at that moment.
 * Raw facts only; attribution and classification (analysis/faultevent.h) decide what the
 * fault means.  One JSON form (fault_to_json), read back by fault_from_json, so that a
 * recording replays a fault exactly as the daemon saw it live.
 */
#ifndef CPUDRIFT_FAULT_H
#define CPUDRIFT_FAULT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "core/features.h"

struct errbuf;
struct fault;

#define FAULT_NBYTES 16

/* Which program variant of the fault watcher saw the fault. */
enum fault_variant {
	FAULT_VARIANT_AUTO = 0, /* as an option: tp_btf, then raw_tp, then tracepoint */
	FAULT_VARIANT_TP_BTF = 1,
	FAULT_VARIANT_RAW_TP = 2,
	FAULT_VARIANT_TRACEPOINT = 3,
};

/** "tp_btf", "raw_tp", "tracepoint" ("auto" for FAULT_VARIANT_AUTO). */
const char *fault_variant_name(enum fault_variant v);
/** -1 when unknown. */
int fault_variant_lookup(const char *name);

/* Who raised the signal, as the kernel recorded it. */
enum fault_origin {
	FAULT_ORIGIN_CPU = 0, /* a CPU exception in user mode */
	FAULT_ORIGIN_TRACED, /* the task was ptraced: its tracer may have injected it */
};

const char *fault_origin_name(enum fault_origin o);

/* What a fault record stands for on the counting surfaces (delta says how many). */
enum fault_kind {
	FAULT_DETAIL = 0, /* one fault, detailed when it happened */
	FAULT_FLUSH, /* faults of one site since its last record, none of them detailed */
	FAULT_UNTRACKED, /* faults no site could hold (a process's or the global catch-all) */
};

/* A file as the kernel identified it at the fault. */
struct fault_file {
	bool valid; /* major, minor and ino are set */
	bool truncated; /* the path walk stopped at its bound: the path is a suffix */
	bool deleted; /* unlinked when it faulted */
	unsigned major, minor;
	uint64_t ino;
};

/*
 * Where cpudrift's probe code lives: a range of file offsets [start, end) of one file, and
 * the same range as offsets from the start of that executable's code [code_start,
 * code_end), for a fault whose VMA the kernel could not read.
 */
struct code_range {
	unsigned major, minor;
	uint64_t ino;
	uint64_t start, end;
	uint64_t code_start, code_end;
};

/** Whether @f's IP lies in @r: by its mapping, else by its executable's code. */
bool code_range_holds(const struct code_range *r, const struct fault *f);

struct fault {
	/* from the kernel, at the fault */
	uint64_t boot_ns; /* CLOCK_BOOTTIME of the fault */
	uint64_t ip;
	uint64_t addr; /* si_addr; 0 when the variant cannot see it */
	uint64_t start_ns; /* process start, CLOCK_BOOTTIME ns */
	uint64_t cgroup_id;
	uint64_t count; /* faults at (pid, ip) so far, this one included */
	uint64_t suppressed; /* faults at (pid, ip) not detailed since the previous event */
	int pid, tid;
	int cpu; /* the vCPU it happened on; -1 when unknown */
	int sig, si_code;
	unsigned trap_nr;
	unsigned uid; /* of the faulting task */
	bool fatal; /* no handler ran: SIG_DFL, or blocked and forced */
	enum fault_origin origin;
	enum fault_kind kind;
	bool tracked; /* a site holds it (false: counted in a catch-all) */
	uint64_t delta; /* faults this record adds to the counters (0: already counted) */
	unsigned nbytes;
	uint8_t bytes[FAULT_NBYTES];
	char comm[16];
	enum fault_variant variant;

	/* when user space received it */
	int64_t mono_ns, real_ns; /* the fault's own time on CLOCK_MONOTONIC and REALTIME */

	/* the process and the code, from the kernel at the fault (empty strings when unknown) */
	char exe[PATH_MAX];
	struct fault_file exe_file;
	bool in_exe_code; /* ip lies in the executable's code... */
	uint64_t exe_code_offset; /* ...this far from its start (mm->start_code) */
	char map_path[PATH_MAX]; /* file mapping that holds ip, "[anon]" or "[stack]"... */
	struct fault_file map_file;
	uint64_t map_offset; /* file offset of ip within map_path */
	bool has_map;
	/* from /proc, read only while the pid still named the process that faulted */
	char cgroup[256];

	/*
	 * CPUID on the faulting vCPU when the fault arrived, as what it lacks of the snapshot
	 * the analysis held then (a fault may be the first sign of a migration the snapshot
	 * predates).  Set by engine_cpuid_now(); has_cpuid_now false: not read.
	 */
	bool has_cpuid_now;
	struct featset lost_now;
	char lost_now_from[48]; /* "vcpu1", or how it was judged when vcpu1 could not be read */
};

/**
 * The raw facts as JSON: boot_ns, pid, tid, uid, cpu, comm, exe, exe_file,
 * start_boottime_ns, cgroup, cgroup_id, signal, si_code, trap_nr, fatal, origin, ip,
 * mapping, bytes, count, suppressed, delta, flush, tracked, variant, and
 * lost_now/lost_now_from when CPUID was read at the fault.  A new reference.
 */
struct json_object *fault_to_json(const struct fault *f);
/** Inverse of fault_to_json (unknown keys are ignored).  -EINVAL with @err filled. */
int fault_from_json(struct json_object *j, struct fault *f, struct errbuf *err);

/*
 * A watched signal the fault watcher did not take for a CPU fault: who generated it (the
 * task running when it was generated: the sender of kill, tgkill, sigqueue), to whom, and
 * which part of the rule it failed.  Never evidence of a feature.
 */
struct forged_signal {
	uint64_t boot_ns;
	int64_t mono_ns, real_ns;
	int sender_pid, sender_tid;
	unsigned sender_uid;
	char sender_comm[16];
	int target_pid, target_tid;
	char target_comm[16];
	int sig, si_code;
	const char *reason; /* a static string: "sent-by-another-task", "inside-a-syscall"... */
};

/* The fault watcher's counters since it started (all exact, all monotonic). */
struct watcher_counts {
	uint64_t faults; /* CPU faults of a watched signal */
	uint64_t events; /* of those, detailed in the kernel */
	uint64_t suppressed; /* not detailed: a rate limit */
	uint64_t drops; /* records the ring buffer had no room for */
	uint64_t untracked; /* faults no site could hold (counted in a catch-all) */
	uint64_t forged; /* watched signals that were not CPU faults */
	uint64_t traced; /* faults of traced processes */
};

#endif
