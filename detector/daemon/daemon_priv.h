/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Internals shared by daemon.c (start, the loop, the sources, stop) and daemon_control.c
 * (what an operator sees of and does to a running daemon: reload, the baseline, the
 * status of every source, the textfile, the hook spool's upkeep).
 */
#ifndef CPUDRIFT_DAEMON_PRIV_H
#define CPUDRIFT_DAEMON_PRIV_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "capture/faultwatch.h"
#include "formats/config.h"

struct faultwatch;
struct pipeline;
struct quickcheck;
struct spool;
struct store;
struct proctable;
struct timesrc;

/* Textfile refresh, spool upkeep and the baseline check run this often, whatever the
 * interval: the textfile's last-update stamp then tells a dead daemon within minutes. */
#define DAEMON_HOUSEKEEPING_NS (60 * NSEC_PER_SEC)

struct daemon {
	struct config cfg;
	char config_path[PATH_MAX];
	bool config_given;
	bool state_dir_given; /* --state-dir: the configuration's state_dir does not count */
	bool verbose_set; /* -v: the configuration's log_level does not count */

	struct store *store;
	struct spool *spool;
	char spool_why[300]; /* why there is no spool */
	struct pipeline *pipe;
	struct faultwatch *fw;
	char fw_why[300]; /* why there is no fault watcher */
	struct timesrc *ts;
	struct quickcheck *qc;
	struct proctable *procs; /* NULL: no at-risk lists */

	/* the loop */
	int epfd, sigfd, tick_fd, trigger_fd, wd_fd, table_fd;
	int64_t table_armed; /* when table_fd fires next */
	bool stop;
	bool trigger_armed;
	int64_t last_capture_mono;
	int64_t last_housekeeping_mono;
	int64_t last_quick_mono; /* the last quick check, or the last capture (which is one) */
	bool quick_now; /* a stall or a clock step asked for a quick check */
	uint64_t quick_checks, quick_differences; /* since start, for `cpudrift status` */

	/* the fault watcher's bounded work */
	bool fault_backlog; /* records wait in the ring buffer */
	bool flush_backlog; /* a flush stopped at its budget */
	int64_t last_flush_mono;
	bool tf_dirty; /* the textfile changed since it was last written */
	int64_t last_tf_mono;
	struct watcher_counts shown; /* the counters in the store's status */

	/* what runs and what does not */
	bool degraded;
	char degraded_why[256];
	int capture_err, probe_err; /* of the last cycle: 0 or -errno */

	/* operator-facing state */
	uint64_t reload_seq; /* SIGHUPs answered, ever (kept in the store's status) */
	int64_t baseline_id; /* the baseline snapshot in use */
	int textfile_err; /* the last write's result: a change is logged once */
	char textfile_written[PATH_MAX]; /* where the textfile was last written */
};

void daemon_set_status(struct daemon *d, const char *key, const char *value);
/** (Re)arm the periodic timerfd @fd.  0 or -errno. */
int daemon_arm_periodic(int fd, int64_t period_ns);

/* daemon_control.c */

/** SIGHUP: apply every key of the configuration file, or refuse it whole; say which. */
void daemon_reload(struct daemon *d);
/** SIGUSR1 (and housekeeping): take the store's baseline when it changed. */
void daemon_check_baseline(struct daemon *d, bool told);
/** Record every source, whether it runs and why not, as status "sources" (JSON). */
void daemon_record_sources(struct daemon *d);
/** Rewrite the Prometheus textfile; errors are logged once per change. */
void daemon_write_textfile(struct daemon *d);
/** Every DAEMON_HOUSEKEEPING_NS: textfile, spool upkeep, baseline, sources. */
void daemon_housekeeping(struct daemon *d);
/** Open the hook spool (a failure is logged and shown, never fatal). */
void daemon_open_spool(struct daemon *d);

#endif
