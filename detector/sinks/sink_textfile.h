/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Prometheus textfile sink, for node_exporter's textfile collector.  The file is written
 * through safefile.h (a unique temporary file in the same folder, O_NOFOLLOW, mode 0644, then
 * renamed over <path>), so a scrape never sees half of it and a symlink planted in the folder
 * redirects nothing.
 *
 * Cardinality is kept low on purpose (a fleet of many VMs scrapes it): per-feature
 * labels appear only for features lost since the baseline and for faults, whose label
 * sets are capped (TEXTFILE_MAX_FAULT_SERIES, the rest summed under feature="other").
 */
#ifndef CPUDRIFT_SINK_TEXTFILE_H
#define CPUDRIFT_SINK_TEXTFILE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/event.h"
#include "core/features.h"
#include "sinks/spool.h"

#define TEXTFILE_MAX_FAULT_SERIES 10

struct fault_count {
	char class_[48];
	char feature[64];
	int64_t n;
};

/* Everything the file shows; the daemon keeps one and rewrites the file when it changes. */
struct textfile_state {
	bool stopped; /* the daemon stopped cleanly: cpudrift_up 0 */
	bool degraded;
	double start_time; /* seconds since the epoch */
	double last_update_time; /* when the file was last written: staleness means down */
	int nvcpus;
	int features_advertised;
	int x86_64_level;
	int shadow_features; /* masked but executable; -1 when not probed */
	struct featset lost; /* advertised by the baseline, not now */
	double baseline_time; /* 0: none */
	double last_snapshot_time;
	double last_migration_time; /* last migration.suspected, 0: never */
	/* the newest open incident; all zero when none is open */
	double incident_start_time; /* when it opened */
	int incident_confidence; /* 0 none, 1 low, 2 medium, 3 high */
	int incident_reasons;
	int64_t processes_at_risk; /* live processes that started before its change */
	int64_t events[EV__COUNT][SEV_CRITICAL + 1];
	size_t nfaults;
	struct fault_count faults[TEXTFILE_MAX_FAULT_SERIES + 1];
	uint64_t hook_failures; /* as the hook runner's cursor file says */
	uint64_t spool_pending; /* spooled events past the runner's cursor */
	uint64_t hook_drops[SPOOL_DROP__COUNT]; /* by spool_drop_names */
	uint64_t bpf_lost_events;
	uint64_t watcher_forged; /* watched signals that were not CPU faults */
	uint64_t watcher_untracked; /* faults no site held (counted in a catch-all) */
	/* the evidence store (store.h, store_health) */
	char store_state[16]; /* "ok", "full", "read-only", "error", "offline"; "": ok */
	uint64_t store_errors; /* writes it refused */
	bool baseline_provisional; /* the baseline stands in until a person accepts one */
};

/** Add @n faults of (@class_, @feature), folding overflow into feature "other". */
void textfile_add_fault(struct textfile_state *t, const char *class_, const char *feature,
			int64_t n);

/** The metrics in the Prometheus text format.  0 or -errno. */
int textfile_render(const struct textfile_state *t, FILE *f);

/** Render to @path atomically, mode 0644 (safefile.h).  0 or -errno (logged by the caller). */
int textfile_write(const struct textfile_state *t, const char *path);

#endif
