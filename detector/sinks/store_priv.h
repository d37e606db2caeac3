/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Internals shared by store.c (open, schema, snapshots), store_events.c (events, counters,
 * status, retention), store_health.c (failed writes and what waits in memory) and
 * store_recover.c (a corrupt or newer database at the daemon's start).
 */
#ifndef CPUDRIFT_STORE_PRIV_H
#define CPUDRIFT_STORE_PRIV_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "sinks/store.h"

struct store_pending; /* store_health.c: writes that wait in memory */

struct store {
	sqlite3 *db; /* NULL: an offline store (store__new_offline), every write refused */
	int lock_fd; /* the lock, written with the pid and health */
	int ro_lock_fd; /* the lock on a read-only state dir: held, never written */
	bool in_tx;
	bool readonly;
	bool daemon; /* STORE_LOCK: failed writes are kept, counted and reported */
	char path[PATH_MAX];
	char dir[PATH_MAX];

	/* store_health.c */
	int tx_err; /* a write failed inside the caller's transaction (store_begin): why */
	int werr; /* 0, or why the last write failed (-ENOSPC: full) */
	char why[200]; /* SQLite's words for werr */
	uint64_t errors; /* writes refused, since open */
	int64_t failing_since_ns;
	int64_t last_retry_mono;
	struct store_pending *pending;
	struct store_recovery recovery; /* store_recover.c */
};

/* SQLite's last error on @s as a negative errno: -ENOSPC (full), -EROFS, -EBADMSG (corrupt),
 * -EBUSY, -ENOMEM, -EACCES, else -EIO. */
int store_errno(struct store *s);

/* Log "failed to <verb> in <db>: <sqlite message>" and return -EIO. */
int store_fail(struct store *s, const char *verb);
int store_exec(struct store *s, const char *sql, const char *verb);
/* Open a transaction unless the caller holds one (store_begin). */
int store_tx_begin(struct store *s);
/* Commit (r == 0) or roll back, unless the caller holds the transaction; returns r. */
int store_tx_end(struct store *s, int r);
sqlite3_stmt *store_prep(struct store *s, const char *sql);
/* Step a statement that returns no rows, then finalize it. */
int store_run(struct store *s, sqlite3_stmt *st, const char *verb);
/* The first column of the first row, -1 on error. */
int64_t store_query_i64(struct store *s, const char *sql);

/* store_health.c */
/* A write of the daemon's failed (@r) or worked (0): the health, logged once per change. */
void store_note_write(struct store *s, int r);
/* The daemon's store has writes waiting in memory: a new one waits behind them. */
bool store_waiting(struct store *s);
/* Keep a write in memory: in the open batch's list (@batch: kept until it commits), or
 * waiting for store_retry. */
void store_keep_event(struct store *s, const struct event *e, const char *json, bool batch);
void store_keep_fault(struct store *s, const char *class_, const char *feature, int64_t n,
		      bool batch);
/* The batch (store_begin .. store_commit) committed (0) or was rolled back (r). */
void store_batch_done(struct store *s, int r);
void store_pending_free(struct store *s);
/* Write the daemon's pid and the store's health into the lock file, in place. */
void store_publish(struct store *s);
/* Insert one event row and bump its counter (no transaction of its own). */
int store_insert_event(struct store *s, const struct event *e, const char *json);
int store_insert_fault(struct store *s, const char *class_, const char *feature, int64_t n);

/* store_recover.c */
/*
 * The daemon's look at an existing database before it writes anything: 0 (fine or
 * absent), -EPROTO (newer schema: @err says so; nothing touched), or -EBADMSG (corrupt:
 * @why says how).
 */
int store_precheck(struct store *s, struct errbuf *err, char *why, size_t size);
/* Move the corrupt database (and its -wal, -shm) aside; fills s->recovery.  0 or -errno. */
int store_move_aside(struct store *s, const char *why, struct errbuf *err);
/* Read the old baseline back from the moved-aside file into the new store. */
void store_recover_baseline(struct store *s);

#endif
