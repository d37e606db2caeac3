// SPDX-License-Identifier: GPL-2.0-or-later
/* The store's events, counters, status, retention and integrity check (see store.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "sinks/store.h"
#include "sinks/store_priv.h"

int store_insert_event(struct store *s, const struct event *e, const char *json)
{
	sqlite3_stmt *st;
	int r;

	st = store_prep(s, "INSERT INTO events (realtime_ns, monotonic_ns, boot_id, kind, severity,"
			   " subject, pid, summary, json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (st) {
		sqlite3_bind_int64(st, 1, e->realtime_ns);
		sqlite3_bind_int64(st, 2, e->monotonic_ns);
		sqlite3_bind_text(st, 3, e->boot_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, event_kind_names[e->kind], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, severity_name(e->sev), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, e->subject, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 7, e->pid);
		sqlite3_bind_text(st, 8, e->summary, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 9, json, -1, SQLITE_STATIC);
	}
	r = store_run(s, st, "store an event");
	if (r)
		return r;
	st = store_prep(s, "INSERT INTO event_counters VALUES (?, ?, 1)"
			   " ON CONFLICT (kind, severity) DO UPDATE SET count = count + 1");
	if (st) {
		sqlite3_bind_text(st, 1, event_kind_names[e->kind], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, severity_name(e->sev), -1, SQLITE_STATIC);
	}
	return store_run(s, st, "count an event");
}

/*
 * The daemon's store keeps an event it could not write (store_health.c), and one that
 * comes while others wait, so that they are written in order.
 */
int store_add_event(struct store *s, const struct event *e, int64_t *id)
{
	struct json_object *o = event_to_json(e);
	const char *json;
	int r;

	if (!o)
		return -ENOMEM;
	json = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if (store_waiting(s)) {
		s->errors++;
		store_keep_event(s, e, json, false);
		r = s->werr ? s->werr : -EAGAIN;
		goto out;
	}
	r = store_tx_begin(s);
	if (!r)
		r = store_insert_event(s, e, json);
	if (!r && id)
		*id = sqlite3_last_insert_rowid(s->db);
	r = store_tx_end(s, r);
	if (s->in_tx || r)
		store_keep_event(s, e, json, s->in_tx);
out:
	json_object_put(o);
	return r;
}

int store_query_events(struct store *s, const struct event_query *q,
		       int (*cb)(int64_t id, const struct event *e, void *arg), void *arg)
{
	char sql[512];
	sqlite3_stmt *st;
	int rc, r = 0;

	/* With a limit, take the newest rows, then walk them oldest first. */
	snprintf(sql, sizeof(sql),
		 "SELECT id, json FROM (SELECT id, json FROM events WHERE realtime_ns >= ?1"
		 " AND id > ?2 AND (?3 IS NULL OR kind = ?3) AND (?5 = 0 OR realtime_ns <= ?5)"
		 " AND (?6 IS NULL OR json_extract(json, '$.body.incident_id') = ?6)"
		 " ORDER BY id DESC LIMIT ?4) ORDER BY id");
	st = store_prep(s, sql);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, q->since_ns);
	sqlite3_bind_int64(st, 2, q->after_id);
	if (q->kind >= 0 && q->kind < EV__COUNT)
		sqlite3_bind_text(st, 3, event_kind_names[q->kind], -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, q->limit > 0 ? q->limit : -1);
	sqlite3_bind_int64(st, 5, q->until_ns);
	if (q->incident)
		sqlite3_bind_text(st, 6, q->incident, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 1);
		struct json_object *o = text ? json_tokener_parse(text) : NULL;
		struct event *e = event_from_json(o);

		json_object_put(o);
		if (!e) {
			/* A row we cannot read is reported, not fatal: the rest are still useful. */
			log_warn("skipping unreadable event %lld in %s",
				 (long long)sqlite3_column_int64(st, 0), s->path);
			continue;
		}
		r = cb(sqlite3_column_int64(st, 0), e, arg);
		event__free(e);
		if (r)
			break;
	}
	if (!r && rc != SQLITE_DONE)
		r = store_fail(s, "read events");
	sqlite3_finalize(st);
	return r;
}

int store_insert_fault(struct store *s, const char *class_, const char *feature, int64_t n)
{
	sqlite3_stmt *st = store_prep(
		s, "INSERT INTO fault_counters VALUES (?, ?, ?)"
		   " ON CONFLICT (class, feature) DO UPDATE SET count = count + excluded.count");

	if (st) {
		sqlite3_bind_text(st, 1, class_, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, feature ? feature : "", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, n);
	}
	return store_run(s, st, "count a fault");
}

int store_count_fault(struct store *s, const char *class_, const char *feature, int64_t n)
{
	int r;

	if (store_waiting(s)) {
		s->errors++;
		store_keep_fault(s, class_, feature, n, false);
		return s->werr ? s->werr : -EAGAIN;
	}
	r = store_tx_begin(s);
	if (!r)
		r = store_insert_fault(s, class_, feature, n);
	r = store_tx_end(s, r);
	if (s->in_tx || r)
		store_keep_fault(s, class_, feature, n, s->in_tx);
	return r;
}

int store_fault_counters(struct store *s,
			 int (*cb)(const char *class_, const char *feature, int64_t n, void *arg),
			 void *arg)
{
	sqlite3_stmt *st = store_prep(s, "SELECT class, feature, count FROM fault_counters"
					 " ORDER BY count DESC, class, feature");
	int rc, r = 0;

	if (!st)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = cb((const char *)sqlite3_column_text(st, 0),
		       (const char *)sqlite3_column_text(st, 1), sqlite3_column_int64(st, 2), arg);
		if (r)
			break;
	}
	if (!r && rc != SQLITE_DONE)
		r = store_fail(s, "read fault counters");
	sqlite3_finalize(st);
	return r;
}

int store_event_counts(struct store *s, int64_t counts[EV__COUNT][SEV_CRITICAL + 1])
{
	sqlite3_stmt *st = store_prep(s, "SELECT kind, severity, count FROM event_counters");
	int rc;

	memset(counts, 0, sizeof(int64_t) * EV__COUNT * (SEV_CRITICAL + 1));
	if (!st)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		const char *v = (const char *)sqlite3_column_text(st, 1);
		int ki = k ? event_kind_lookup(k) : -1, si = v ? severity_lookup(v) : -1;

		if (ki >= 0 && si >= 0)
			counts[ki][si] += sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, "read event counters");
}

int store_set_status(struct store *s, const char *key, const char *value)
{
	sqlite3_stmt *st;
	int r = store_tx_begin(s);

	if (r)
		return r;
	st = store_prep(s, "INSERT OR REPLACE INTO status VALUES (?, ?)");
	if (st) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	}
	return store_tx_end(s, store_run(s, st, "store the status"));
}

int store_del_status(struct store *s, const char *key)
{
	sqlite3_stmt *st;
	int r = store_tx_begin(s);

	if (r)
		return r;
	st = store_prep(s, "DELETE FROM status WHERE key = ?");
	if (st)
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	r = store_run(s, st, "delete a status key");
	if (!r && !sqlite3_changes(s->db))
		r = -ENOENT;
	return store_tx_end(s, r == -ENOENT ? 0 : r) ?: r;
}

int store_get_status(struct store *s, const char *key, char *buf, size_t size)
{
	sqlite3_stmt *st = store_prep(s, "SELECT value FROM status WHERE key = ?");
	int rc, r = -ENOENT;

	if (!st)
		return s->db ? -EIO : -ENOENT;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(buf, size, "%s", (const char *)sqlite3_column_text(st, 0) ?: "");
		r = 0;
	} else if (rc != SQLITE_DONE) {
		r = store_fail(s, "read the status");
	}
	sqlite3_finalize(st);
	return r;
}

/* --- retention ------------------------------------------------------------------------- */

/*
 * The rows retention may delete, per table.  Snapshots: never the baseline, and never
 * the first snapshots of the two newest boots (the boot-drift comparison needs them).
 */
static const struct {
	const char *table;
	const char *deletable;
} retained[] = {
	{ "events", "1" },
	{ "probe_runs", "1" },
	{ "timing_samples", "1" },
	{ "snapshots",
	  "(kind IN ('periodic', 'old_baseline') OR (kind = 'boot_first' AND id NOT IN"
	  " (SELECT id FROM snapshots WHERE kind = 'boot_first' ORDER BY id DESC LIMIT 2)))" },
};

#define NRETAINED (sizeof(retained) / sizeof(retained[0]))

static int64_t delete_where(struct store *s, size_t t, const char *cond, int64_t a)
{
	char sql[768];
	sqlite3_stmt *st;

	snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE %s AND %s", retained[t].table,
		 retained[t].deletable, cond);
	st = store_prep(s, sql);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, a);
	if (store_run(s, st, "apply retention"))
		return -EIO;
	return sqlite3_changes(s->db);
}

int64_t store_size(struct store *s)
{
	int64_t pages = store_query_i64(s, "PRAGMA page_count");
	int64_t free_pages = store_query_i64(s, "PRAGMA freelist_count");
	int64_t psize = store_query_i64(s, "PRAGMA page_size");

	if (pages < 0 || free_pages < 0 || psize < 0)
		return -EIO;
	return (pages - free_pages) * psize;
}

/*
 * "Now" for the age limit.  CLOCK_REALTIME is believed only as far as CLOCK_MONOTONIC
 * bears it out: never later than the wall-clock time of this boot's first snapshot plus
 * the monotonic time since.  A clock set forward (by hand, by a bad time server) cannot
 * age every row at once; a clock set backward gives an earlier "now", so it ages less.
 * Without that snapshot (none yet, or an unreadable one) @now_ns is taken as it is.
 */
static int64_t retention_now(struct store *s, int64_t now_ns)
{
	sqlite3_stmt *st;
	int64_t off, trusted;

	if (sqlite3_prepare_v2(
		    s->db,
		    "SELECT min(realtime_ns - json_extract(json, '$.captured.monotonic_ns'))"
		    " FROM snapshots WHERE kind = 'boot_first' AND boot_id = ?1"
		    " AND json_valid(json)"
		    " AND json_type(json, '$.captured.monotonic_ns') = 'integer'",
		    -1, &st, NULL) != SQLITE_OK)
		return now_ns;
	sqlite3_bind_text(st, 1, event_boot_id(), -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER) {
		off = sqlite3_column_int64(st, 0);
		if (!__builtin_add_overflow(clock_mono_ns(), off, &trusted) && trusted < now_ns)
			now_ns = trusted;
	}
	sqlite3_finalize(st);
	return now_ns;
}

int store_retain(struct store *s, const struct store_limits *l, int64_t now_ns)
{
	int64_t total = 0, n;
	char cond[256];
	int r = store_tx_begin(s);

	if (r)
		return r;
	if (l->days > 0)
		now_ns = retention_now(s, now_ns);
	for (size_t t = 0; t < NRETAINED; t++) {
		if (l->days > 0) {
			n = delete_where(s, t, "realtime_ns < ?1",
					 now_ns - l->days * 86400 * 1000000000ll);
			if (n < 0)
				goto fail;
			total += n;
		}
		if (l->rows > 0) {
			/* Keep the newest @rows deletable rows. */
			snprintf(cond, sizeof(cond),
				 "id <= (SELECT id FROM %s WHERE %s ORDER BY id DESC"
				 " LIMIT 1 OFFSET ?1)",
				 retained[t].table, retained[t].deletable);
			n = delete_where(s, t, cond, l->rows);
			if (n < 0)
				goto fail;
			total += n;
		}
	}
	/* Over the size limit: drop the oldest tenth of every table until under it. */
	for (int round = 0; l->bytes > 0 && round < 50 && store_size(s) > l->bytes; round++) {
		int64_t round_total = 0;

		for (size_t t = 0; t < NRETAINED; t++) {
			snprintf(cond, sizeof(cond),
				 "id <= (SELECT min(id) + (max(id) - min(id)) / 10"
				 " FROM %s WHERE %s) AND ?1",
				 retained[t].table, retained[t].deletable);
			n = delete_where(s, t, cond, 1);
			if (n < 0)
				goto fail;
			round_total += n;
		}
		total += round_total;
		if (!round_total)
			break;
	}
	r = store_tx_end(s, 0);
	if (!r && total && !s->in_tx)
		/* Give freed pages back to the file system (auto_vacuum is INCREMENTAL). */
		sqlite3_exec(s->db, "PRAGMA incremental_vacuum", NULL, NULL, NULL);
	return r ? r : (int)(total > INT32_MAX ? INT32_MAX : total);
fail:
	return store_tx_end(s, -EIO);
}

int store_check(struct store *s, struct errbuf *err)
{
	sqlite3_stmt *st = store_prep(s, "PRAGMA integrity_check");
	int r = -EIO;

	if (!st) {
		errbuf_set(err, "%s: cannot run the integrity check", s->path);
		return -EIO;
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);

		if (t && !strcmp(t, "ok"))
			r = 0;
		else
			errbuf_set(err, "%s: integrity check failed: %s", s->path, t ? t : "?");
	} else {
		errbuf_set(err, "%s: integrity check failed: %s", s->path, sqlite3_errmsg(s->db));
	}
	sqlite3_finalize(st);
	return r;
}
