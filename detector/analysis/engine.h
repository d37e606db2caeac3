/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The analysis as one pipeline (pure): snapshots, probe runs, faults and timing
 * observations in, in time order; every event out, each incident issue right after the
 * event that raised it.  It is the tracker (cpuid.*, probe.*, fault.sigill), the timing
 * rules (timing.*) and the incidents (migration.suspected, migration.resolved, weighed by
 * the verdict) wired together once, so that the daemon, `cpudrift run --replay`, `cpudrift
 * replay` and `cpudrift watch` cannot wire them apart.
 *
 * Time comes only from the inputs: before each input, whatever can no longer grow by that
 * input's time is closed (a stall episode, a quiet incident).  The live daemon also calls
 * engine_flush() with the clock as time passes; a recording ends with
 * engine_flush(INT64_MAX), which leaves incidents open.
 */
#ifndef CPUDRIFT_ENGINE_H
#define CPUDRIFT_ENGINE_H

#include "analysis/incident.h"
#include "analysis/timing.h"
#include "analysis/tracker.h"
#include "analysis/verdict.h"
#include "core/event.h"
#include "core/fault.h"
#include "core/observe.h"
#include "core/snapshot.h"

struct engine_opts {
	struct timing_thresholds th; /* timing_thresholds_default() */
	struct verdict_opts vo; /* verdict_opts_default() */
	int64_t quiet_ns; /* an incident closes after this long without evidence (30 min) */
};

void engine_opts_default(struct engine_opts *o);

struct engine;

/** NULL on allocation failure. */
struct engine *engine__new(const struct engine_opts *o);
void engine__free(struct engine *en);

/** The tracker inside (baseline, latest snapshot). */
struct tracker *engine_tracker(struct engine *en);

/** Replace the timing thresholds (a configuration reload); the verdict window stays. */
int engine_set_thresholds(struct engine *en, const struct timing_thresholds *th);

/* Each input appends its events to @out.  0 or -ENOMEM. */
int engine_snapshot(struct engine *en, struct snapshot *s, struct evlist *out);
int engine_boot_drift(struct engine *en, const struct snapshot *prev, const struct snapshot *now,
		      struct evlist *out);
int engine_probes(struct engine *en, const struct probe_summary *p, struct evlist *out);
int engine_fault(struct engine *en, const struct fault *f, struct evlist *out);
int engine_observe(struct engine *en, const struct observation *o, struct evlist *out);
/** Close what can no longer grow by @mono_ns. */
int engine_flush(struct engine *en, int64_t mono_ns, struct evlist *out);

/** The incidents (open ones, and closed ones until incidents_clean()). */
struct incidents *engine_incidents(struct engine *en);
/** The options the incidents run with (window, quiet time, verdict thresholds). */
const struct incident_opts *engine_incident_opts(const struct engine *en);
/** @n live processes are at risk in incident @id (incidents_at_risk).  0 or -errno. */
int engine_at_risk(struct engine *en, const char *id, int64_t n, int64_t mono_ns,
		   struct evlist *out);
/** Take back a stored incident (a restart; incidents_restore).  0 or -errno. */
int engine_restore_incident(struct engine *en, struct json_object *j, const char *boot_id,
			    struct evlist *out);

#endif
