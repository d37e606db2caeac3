/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Recordings: what the analysis was given, one JSON object a line, in time order.  Written
 * by `cpudrift record`; read by `cpudrift replay` (recording_replay: the analysis alone) and
 * by `cpudrift run --replay` (the daemon with the recording in place of its live sources).
 * Lines, by "src":
 *   a timing source ("stall", "tsc", ...)   an observation (core/observe.h)
 *   "cpuid"   {"mono_ns", "real_ns", "snapshot": snapshot JSON}     a capture
 *   "probe"   {"mono_ns", "real_ns", "shadow": [...], "mismatch": [...], "os_disabled": [...]}
 *   "fault"   {"mono_ns", "real_ns", "fault": the fault's raw JSON (core/fault.h)}
 */
#ifndef CPUDRIFT_RECORDING_H
#define CPUDRIFT_RECORDING_H

#include <stdio.h>

#include "analysis/engine.h"
#include "core/event.h"
#include "core/fault.h"
#include "core/observe.h"
#include "core/snapshot.h"

struct errbuf;

/* Longest line read; a snapshot of a few hundred vCPUs fits. */
#define RECORDING_MAX_LINE (16 << 20)

enum rec_kind { REC_OBSERVATION, REC_SNAPSHOT, REC_PROBE, REC_FAULT };

/* One parsed line. */
struct rec_line {
	enum rec_kind kind;
	struct observation obs; /* REC_OBSERVATION */
	struct snapshot *snap; /* REC_SNAPSHOT (owned until taken) */
	struct probe_summary probe; /* REC_PROBE */
	struct fault *fault; /* REC_FAULT (owned) */
};

/** Parse one line into @l (cleared first).  -EINVAL with @err filled (no line number). */
int recording_parse_line(const char *line, struct rec_line *l, struct errbuf *err);
void rec_line_clear(struct rec_line *l);

/* Each writes one line; 0 or -errno. */
int recording_write_observation(FILE *f, const struct observation *o);
int recording_write_snapshot(FILE *f, const struct snapshot *s);
int recording_write_probe(FILE *f, const struct probe_summary *p);
/** A probe run's line as JSON (also what the store keeps in probe_runs); new reference. */
struct json_object *recording_probe_json(const struct probe_summary *p);
int recording_write_fault(FILE *f, const struct fault *fa);

/** Called for each line of a recording; a non-zero return stops the walk with that value. */
typedef int (*recording_cb)(void *ctx, struct rec_line *l);

struct recording_stats {
	long lines, bad, events;
};

/**
 * Walk @path ("-": standard input).  Malformed lines are logged with file:line and skipped:
 * the rest of a recording still counts.  0, the callback's value, or a negative errno with
 * @err filled.
 */
int recording_read(const char *path, recording_cb cb, void *ctx, struct recording_stats *st,
		   struct errbuf *err);

/* Each event, in order; verdicts right after the event that raised them. */
typedef int (*replay_cb)(void *ctx, const struct event *e);

/** The analysis (analysis/engine.h) over @path, every event to @cb.  As recording_read. */
int recording_replay(const char *path, const struct engine_opts *o, replay_cb cb, void *ctx,
		     struct recording_stats *st, struct errbuf *err);

#endif
