/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Processes at risk after a change of CPU (pure): of the running processes, those that
 * started before the change (they chose their code paths and glibc-hwcaps libraries for
 * the old CPU), ranked, each with the reason, grouped by what to restart (analysis/units.h),
 * as the one JSON form "at_risk" that events, `report` and `check` carry.
 *
 * Ranking: processes that map glibc-hwcaps/x86-64-vN libraries above the level the VM has
 * now come first (they die as soon as they call into them); then those whose glibc runs
 * unmasked, then those whose environment could not be read (unknown), then those that run
 * with glibc's hwcaps mask (glibc stays on baseline code; their own code may not); within
 * each, the oldest first.  cpudrift itself is never listed.
 */
#ifndef CPUDRIFT_ATRISK_H
#define CPUDRIFT_ATRISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "analysis/units.h"
#include "core/features.h"

/* A verdict or drift lists at most this many processes; groups keep this many pids each. */
#define ATRISK_LISTED_MAX 50
#define ATRISK_GROUPS_MAX 32
#define ATRISK_GROUP_PIDS_MAX 16

struct atrisk_query {
	int64_t change_boot_ns; /* processes started before this (CLOCK_BOOTTIME) */
	int level; /* the x86-64 level now (or on the target); 0: unknown, nothing is above */
	struct featset lost; /* what the change took away; may be empty */
};

/* One process, as far as it is known (strings are borrowed). */
struct atrisk_proc {
	int pid;
	int64_t start_boot_ns;
	const char *comm; /* NULL: not read */
	const char *exe; /* NULL or "": unknown */
	int hwcaps_level; /* highest glibc-hwcaps/x86-64-vN mapped; 0 none; -1 unknown */
	int glibc_masked; /* 1 masked, 0 not, -1 unknown */
	bool self; /* cpudrift itself: its pid or its executable */
	const struct unit_ref *unit; /* NULL: cgroup unknown */
};

/** Started before the change, and not cpudrift. */
bool atrisk_candidate(const struct atrisk_proc *p, const struct atrisk_query *q);
/** Maps a glibc-hwcaps library above the level now. */
bool atrisk_above(const struct atrisk_proc *p, const struct atrisk_query *q);
/** Rank order (qsort-style: < 0 when @a comes first). */
int atrisk_cmp(const struct atrisk_proc *a, const struct atrisk_proc *b,
	       const struct atrisk_query *q);

/**
 * Keep the candidates of @v (in place) and sort them in rank order.  Returns how many are
 * kept; the order of equal processes is by PID, so the result does not depend on @v's.
 */
size_t atrisk_select(struct atrisk_proc *v, size_t n, const struct atrisk_query *q);

/**
 * Why @p is at risk, in words: "maps glibc-hwcaps/x86-64-v3 above v2 now; started with avx2
 * present", with what its glibc mask says.  Always NUL-terminated.
 */
void atrisk_reason(const struct atrisk_proc *p, const struct atrisk_query *q, char *buf,
		   size_t len);

struct atrisk_json_opts {
	size_t listed_max; /* processes listed in full: the first ones (may be 0) */
	size_t groups_max, group_pids_max; /* 0: ATRISK_GROUPS_MAX, ATRISK_GROUP_PIDS_MAX */
	size_t checked; /* the first ones, read again just now: alive, the same process */
	int64_t as_of_boot_ns; /* when the others' facts were gathered (0: leave out) */
	bool complete; /* every running process was examined */
};

/**
 * The "at_risk" object for @v[0..n), already selected and ranked (atrisk_select()):
 * {"change_boot_ns", "level", "lost", "total", "above_level", "masked", "mask_unknown",
 *  "checked", "as_of_boot_ns", "complete", "groups": [units_groups_to_json()],
 *  "groups_omitted",
 *  "processes": [{"pid", "comm", "exe", "start_boottime_ns", "unit", "container", "pod",
 *  "group", "hwcaps_level", "above_level", "glibc_masked", "reason"}]}.
 * @o NULL: ATRISK_LISTED_MAX listed, the default bounds, complete.  NULL on allocation
 * failure.
 */
struct json_object *atrisk_to_json(const struct atrisk_proc *v, size_t n,
				   const struct atrisk_query *q, const struct atrisk_json_opts *o);

#endif
