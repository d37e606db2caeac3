/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Internals shared by store.c (open, schema, snapshots) and store_events.c (the rest). */
#ifndef CPUDRIFT_STORE_PRIV_H
#define CPUDRIFT_STORE_PRIV_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

struct store {
	sqlite3 *db;
	int lock_fd;
	bool in_tx;
	bool readonly;
	char path[PATH_MAX];
};

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

#endif
