/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The daemon's state, shared by daemon.c (loop, sources, sinks) and daemon_snap.c. */
#ifndef CPUDRIFT_DAEMON_PRIV_H
#define CPUDRIFT_DAEMON_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "analysis/classify.h"
#include "formats/config.h"
#include "core/event.h"
#include "sinks/sink_textfile.h"
#include "core/snapshot.h"

struct faultwatch;
struct hooks;
struct probe_report;
struct store;
struct timesrc;
struct timing;
struct verdict;

struct daemon {
	struct config cfg;
	char config_path[PATH_MAX];
	bool config_given;
	const char *state_dir_arg;

	struct store *store;
	struct hooks *hooks;
	struct timing *timing;
	struct verdict *verdict;
	struct faultwatch *fw;
	struct timesrc *ts;

	/* snapshots: the baseline (first ever, or accepted), this boot's first, the latest */
	struct snapshot *baseline;
	struct snapshot *current;
	struct probe_report *probes;
	struct classify_probe probe_view;
	bool have_probe_view;
	/* the features before the last in-boot change, and when it was seen (CLOCK_BOOTTIME) */
	struct featset prev_features;
	int64_t change_boot_ns;
	uint64_t last_digest;

	/* the loop */
	int epfd, sigfd, tick_fd, trigger_fd, wd_fd;
	bool stop;
	bool trigger_armed;
	int64_t last_capture_mono;

	/* what runs and what does not */
	bool degraded;
	char degraded_why[256];

	struct textfile_state tf;
};

/** Hand an event to every sink and to the verdict; takes ownership of @e. */
void daemon_emit(struct daemon *d, struct event *e);

/** Capture, probe, compare, store; emits drift events.  0 or a negative errno. */
int daemon_capture(struct daemon *d, const char *why);
/** At start: load baseline and this boot's history, take the first capture. */
int daemon_snapshots_init(struct daemon *d, struct errbuf *err);
/** Re-read the baseline from the store (after `cpudrift baseline accept`). */
void daemon_reload_baseline(struct daemon *d);
/** Recompute the textfile's snapshot-derived figures. */
void daemon_textfile_snapshot(struct daemon *d);

#endif
