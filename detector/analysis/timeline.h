/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The report's timeline (pure): events by kind and severity, stall lateness per vCPU,
 * host-clock offset, CPUID-exit cost, snapshots, probe runs and verdicts on one time axis,
 * binned into REPORT_COLUMNS columns so that a window of any length costs the same.
 */
#ifndef CPUDRIFT_TIMELINE_H
#define CPUDRIFT_TIMELINE_H

#include <stdint.h>

#include <json-c/json.h>

#include "core/event.h"
#include "core/observe.h"

struct timeline;

/** A timeline over [@t0_ns, @t1_ns] (realtime); NULL on allocation failure. */
struct timeline *timeline__new(int64_t t0_ns, int64_t t1_ns);
void timeline__free(struct timeline *t);

void timeline_add_event(struct timeline *t, const struct event *e);
void timeline_add_observation(struct timeline *t, const struct observation *o);
void timeline_add_snapshot(struct timeline *t, int64_t realtime_ns, int64_t id, int level,
			   int nfeatures);
void timeline_add_probe_run(struct timeline *t, int64_t realtime_ns, int mismatch, int shadow);

/**
 * {"t0_ns", "t1_ns", "columns", "events": [{"kind", "t_ns", "severity", "count"}],
 *  "stall": [{"vcpu", "points": [[t_ns, ms]]}], "hostclock": {"clock", "points"},
 *  "cpuid_latency": {"points": [[t_ns, us]]}, "snapshots": [[t_ns, id, level, features]],
 *  "probe_runs": [[t_ns, mismatch, shadow]], "verdicts": [{"t_ns", "confidence",
 *  "severity"}]} — a new reference.
 */
struct json_object *timeline_to_json(const struct timeline *t);

#endif
