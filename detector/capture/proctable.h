/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The process table: what procscan.h says about every running process, kept up to date a
 * slice at a time so that an at-risk list costs a lookup, not a scan of /proc, and the
 * daemon's loop never waits for one.
 *
 * A pass lists /proc and reads each stat line (10-15 µs a process here); only a new (PID,
 * start time) pair costs the expensive reads (uid, executable, maps, environment, cgroup:
 * about 100 µs), and maps and cgroup are read again once they are older than ten minutes.
 * A step works for at most its budget (2 ms, overrun by at most one process's reads) and
 * the caller runs the next one when proctable_due() says.  Passes repeat so that re-reading
 * the stat lines costs at most a set share of one core (0.05%, in this thread's CPU time),
 * and at least every 15 s; the expensive reads are paid once per new process whatever the
 * period.  An at-risk list asks for the next pass early.  Memory is bounded: entries are 32
 * bytes, cgroup paths are shared (at most 2,048 of them, 1 MiB), and beyond the caps a
 * process is counted as not examined and the list says it is incomplete.
 */
#ifndef CPUDRIFT_PROCTABLE_H
#define CPUDRIFT_PROCTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "analysis/atrisk.h"

struct proctable_opts {
	const char *root; /* NULL: "/proc" */
	int self_pid; /* never listed; 0: getpid(), < 0: none (a fixture tree) */
	const char *self_exe; /* processes running it are never listed; NULL: /proc/self/exe */
	int64_t list_ns; /* at list time, for new PIDs and again for re-reads each; 0: 10 ms */
	int64_t step_ns; /* work per step; 0: 2 ms */
	int64_t gap_ns; /* between the steps of a pass; 0: 1 ms */
	int64_t period_min_ns, period_max_ns; /* 0: 15 s, 10 min */
	double cpu_share; /* passes cost at most this share of one core; 0: 0.0005 */
	int64_t facts_max_age_ns; /* maps and cgroup read again after this; 0: 10 min */
	size_t max_entries; /* 0: 65536 */
	size_t max_cgroups; /* distinct cgroup paths kept; 0: 2048 */
};

struct proctable_stats {
	size_t entries, cgroups;
	uint64_t passes;
	int64_t last_pass_ns; /* CPU time of the last complete pass */
	int64_t last_pass_reads_ns; /* of which the expensive reads of new processes */
	int64_t last_pass_wall_ns; /* its duration, gaps included */
	int64_t longest_step_ns; /* wall time, preemption included */
	int64_t longest_step_cpu_ns; /* its own work */
	int64_t next_period_ns; /* the period the cost rule chose */
	size_t unexamined; /* processes the last pass could not keep (caps) */
	bool complete; /* a pass has finished and examined every process it found */
	int64_t as_of_boot_ns; /* the start of the last complete pass */
};

struct proctable;

/** 0 or a negative errno (the root cannot be opened, no memory). */
int proctable__new(const struct proctable_opts *o, struct proctable **out);
void proctable__free(struct proctable *t);

/** CLOCK_MONOTONIC time at which proctable_step() wants to run next. */
int64_t proctable_due(const struct proctable *t);

/**
 * Work for one step's budget: start a pass when one is due, continue it, finish it.
 * Returns 1 when a pass finished in this step, else 0.
 */
int proctable_step(struct proctable *t, int64_t now_mono_ns);

/** Run steps back to back until a pass finishes (0) or @budget_ns ran out (-ETIMEDOUT). */
int proctable_refresh(struct proctable *t, int64_t budget_ns);

/** Bring the next pass forward (not closer than its cost allows). */
void proctable_kick(struct proctable *t);

/**
 * The "at_risk" object (analysis/atrisk.h) for @q from the table.  First the PIDs /proc
 * lists that the table does not know yet are read (processes started since the last pass,
 * for at most list_ns); then every process is ranked, the first @o->listed_max are read
 * again in full (alive, the same start time, executable, cgroup) and listed, and the next
 * ones only checked (alive, same start time) for at most list_ns; the rest is as of the
 * last pass ("checked" and "as_of_boot_ns" say which).  A process that died or whose PID
 * now names another is dropped, never blamed.  Asks for the next pass early.  NULL on
 * allocation failure.
 */
struct json_object *proctable_at_risk(struct proctable *t, const struct atrisk_query *q,
				      const struct atrisk_json_opts *o);

void proctable_get_stats(const struct proctable *t, struct proctable_stats *s);

#endif
