// SPDX-License-Identifier: GPL-2.0-or-later
/* Reading a time window of the store back, for `report` and `evidence` (see store.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinks/store.h"
#include "sinks/store_priv.h"

/* The tables a window may read, and the column that holds their JSON. */
static const char *const window_tables[] = { "events", "probe_runs", "timing_samples" };

static bool known_table(const char *t)
{
	for (size_t i = 0; i < sizeof(window_tables) / sizeof(window_tables[0]); i++)
		if (!strcmp(t, window_tables[i]))
			return true;
	return false;
}

int store_window_rows(struct store *s, const char *table, int64_t since_ns, int64_t until_ns,
		      int (*cb)(int64_t id, int64_t realtime_ns, const char *json, void *arg),
		      void *arg)
{
	char sql[256];
	sqlite3_stmt *st;
	int rc, r = 0;

	if (!known_table(table))
		return -EINVAL;
	/* Ordered by id: rows are written in time order, and id order survives clock steps. */
	snprintf(sql, sizeof(sql),
		 "SELECT id, realtime_ns, json FROM %s WHERE realtime_ns >= ?1"
		 " AND (?2 = 0 OR realtime_ns <= ?2) ORDER BY id",
		 table);
	st = store_prep(s, sql);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, since_ns);
	sqlite3_bind_int64(st, 2, until_ns);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *json = (const char *)sqlite3_column_text(st, 2);

		r = cb(sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), json ? json : "",
		       arg);
		if (r)
			break;
	}
	if (!r && rc != SQLITE_DONE)
		r = store_fail(s, "read a window");
	sqlite3_finalize(st);
	return r;
}

int64_t store_window_count(struct store *s, const char *table, int64_t since_ns, int64_t until_ns)
{
	char sql[256];
	sqlite3_stmt *st;
	int64_t n = -EIO;

	if (!known_table(table))
		return -EINVAL;
	snprintf(
		sql, sizeof(sql),
		"SELECT count(*) FROM %s WHERE realtime_ns >= ?1 AND (?2 = 0 OR realtime_ns <= ?2)",
		table);
	st = store_prep(s, sql);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, since_ns);
	sqlite3_bind_int64(st, 2, until_ns);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void copy_col(char *dst, size_t size, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(dst, size, "%s", t ? (const char *)t : "");
}

#define META_COLS "id, kind, realtime_ns, boot_id, level, nfeatures, vendor, brand, digest"

static void read_meta(sqlite3_stmt *st, struct snapmeta *m)
{
	const char *k = (const char *)sqlite3_column_text(st, 1);

	memset(m, 0, sizeof(*m));
	m->id = sqlite3_column_int64(st, 0);
	for (int i = 0; i <= SNAP_OLD_BASELINE; i++)
		if (k && !strcmp(k, snap_kind_name(i)))
			m->kind = i;
	m->realtime_ns = sqlite3_column_int64(st, 2);
	copy_col(m->boot_id, sizeof(m->boot_id), st, 3);
	m->level = sqlite3_column_int(st, 4);
	m->nfeatures = sqlite3_column_int(st, 5);
	copy_col(m->vendor, sizeof(m->vendor), st, 6);
	copy_col(m->brand, sizeof(m->brand), st, 7);
	copy_col(m->digest, sizeof(m->digest), st, 8);
}

int store_window_snapshots(struct store *s, int64_t since_ns, int64_t until_ns,
			   int (*cb)(const struct snapmeta *m, void *arg), void *arg)
{
	/* The baseline row is a copy of another snapshot: listing it would show one twice. */
	sqlite3_stmt *st =
		store_prep(s, "SELECT " META_COLS " FROM snapshots"
			      " WHERE kind != 'baseline' AND realtime_ns >= ?1"
			      " AND (?2 = 0 OR realtime_ns <= ?2) ORDER BY realtime_ns, id");
	struct snapmeta m;
	int rc, r = 0;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, since_ns);
	sqlite3_bind_int64(st, 2, until_ns);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_meta(st, &m);
		r = cb(&m, arg);
		if (r)
			break;
	}
	if (!r && rc != SQLITE_DONE)
		r = store_fail(s, "read snapshots");
	sqlite3_finalize(st);
	return r;
}

int store_snapshot_at(struct store *s, int64_t at_ns, const char *not_digest, struct snapmeta *m,
		      char **json)
{
	sqlite3_stmt *st = store_prep(s, "SELECT " META_COLS ", json FROM snapshots"
					 " WHERE kind != 'baseline' AND realtime_ns <= ?1"
					 " AND (?2 = '' OR digest != ?2)"
					 " ORDER BY realtime_ns DESC, id DESC LIMIT 1");
	int rc, r = 0;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, at_ns);
	sqlite3_bind_text(st, 2, not_digest ? not_digest : "", -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		read_meta(st, m);
		if (json) {
			const char *t = (const char *)sqlite3_column_text(st, 9);

			*json = strdup(t ? t : "");
			if (!*json)
				r = -ENOMEM;
		}
	} else {
		r = rc == SQLITE_DONE ? -ENOENT : store_fail(s, "read a snapshot");
	}
	sqlite3_finalize(st);
	return r;
}

int store_window_span(struct store *s, int64_t since_ns, int64_t until_ns, int64_t *first_ns,
		      int64_t *last_ns)
{
	static const char *const tables[] = { "events", "snapshots", "probe_runs",
					      "timing_samples" };
	bool any = false;

	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		char sql[256];
		sqlite3_stmt *st;

		snprintf(sql, sizeof(sql),
			 "SELECT min(realtime_ns), max(realtime_ns) FROM %s WHERE realtime_ns >= ?1"
			 " AND (?2 = 0 OR realtime_ns <= ?2)%s",
			 tables[i],
			 strcmp(tables[i], "snapshots") ? "" : " AND kind != 'baseline'");
		st = store_prep(s, sql);
		if (!st)
			return -EIO;
		sqlite3_bind_int64(st, 1, since_ns);
		sqlite3_bind_int64(st, 2, until_ns);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
			int64_t lo = sqlite3_column_int64(st, 0), hi = sqlite3_column_int64(st, 1);

			if (!any || lo < *first_ns)
				*first_ns = lo;
			if (!any || hi > *last_ns)
				*last_ns = hi;
			any = true;
		}
		sqlite3_finalize(st);
	}
	return any ? 0 : -ENOENT;
}
