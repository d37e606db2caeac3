/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's path from an input to the sinks: a snapshot, a probe run, a fault or a
 * timing observation goes through the analysis (analysis/engine.h); each event it gives is
 * enriched with what only the live machine knows (the processes at risk) and handed to
 * every sink (store, journal, the hook spool, textfile).  The live loop (daemon.c) and `run
 * --replay` feed it the same way, so what the store holds after a replay is what the
 * daemon would have stored live.
 */
#ifndef CPUDRIFT_PIPELINE_H
#define CPUDRIFT_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "analysis/engine.h"
#include "formats/config.h"
#include "sinks/sink_textfile.h"

struct errbuf;
struct spool;
struct proctable;
struct store;

struct pipeline;

struct pipeline_opts {
	const struct config *cfg; /* read at every event: a reload takes effect at once */
	struct store *store;
	struct spool *spool; /* the hook spool; NULL: none */
	bool live; /* false for a replay: no process list from this machine */
	struct proctable *procs; /* the processes at risk come from here; NULL: none */
};

/** 0 or -ENOMEM. */
int pipeline__new(const struct pipeline_opts *o, struct pipeline **out);
void pipeline__free(struct pipeline *p);

struct tracker *pipeline_tracker(struct pipeline *p);
struct textfile_state *pipeline_textfile(struct pipeline *p);
/** Swap the hook spool (a reload); the old one is the caller's to free. */
void pipeline_set_spool(struct pipeline *p, struct spool *sp);
/** Apply a reloaded configuration's thresholds.  0 or -ENOMEM. */
int pipeline_reconfigure(struct pipeline *p);

/*
 * The inputs.  Each returns a bitmask of PIPE_* or a negative errno.  PIPE_TRIGGER: the
 * evidence is a reason to look at CPUID and the silicon again soon.  PIPE_QUICKCHECK: the
 * VM stood still or its clock moved (a stall, a clock step): run the quick check now.
 */
#define PIPE_TRIGGER 1
#define PIPE_QUICKCHECK 2

/**
 * The first snapshot of this run (ownership moves): load the baseline, continue from the
 * last snapshot this boot stored (a restart) or store this boot's first snapshot and compare
 * it with the last boot's (cpuid.boot_drift); the first snapshot ever becomes the baseline.
 */
int pipeline_first_snapshot(struct pipeline *p, struct snapshot *s, struct errbuf *err);
/** A later snapshot (ownership moves); stored only when its content changed. */
int pipeline_snapshot(struct pipeline *p, struct snapshot *s);
int pipeline_probes(struct pipeline *p, const struct probe_summary *ps);
/**
 * A fault record (capture/faultwatch.h): its fault.sigill event, and f->delta faults on
 * the counters under its class; FAULT_UNTRACKED records only count, as class "untracked".
 */
int pipeline_fault(struct pipeline *p, const struct fault *f);
/** A forged signal, for the next watcher.forged event. */
void pipeline_forged(struct pipeline *p, const struct forged_signal *s);
/** The fault watcher's counters now: textfile fields, watcher.forged and watcher.loss. */
int pipeline_watcher(struct pipeline *p, const struct watcher_counts *c, int64_t mono_ns);
/** One store transaction around a batch of inputs (a drained ring buffer, a flush). */
void pipeline_batch_begin(struct pipeline *p);
void pipeline_batch_end(struct pipeline *p);
int pipeline_observe(struct pipeline *p, const struct observation *o);
int pipeline_flush(struct pipeline *p, int64_t mono_ns);

/**
 * The store's health, every loop turn: writes what waits in memory when it can (at most
 * every STORE_RETRY_NS), then what changed meanwhile (incidents, the last snapshot); and
 * the textfile's store fields.
 */
void pipeline_store_upkeep(struct pipeline *p);

/** Re-read the baseline from the store (after `cpudrift baseline accept`). */
void pipeline_reload_baseline(struct pipeline *p);

#endif
