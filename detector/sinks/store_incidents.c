// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The store's incidents (see store.h): one row per incident, its whole JSON plus the few
 * columns `status`, `report --incident` and a restart select on.  Rewritten each time the
 * incident changes; never deleted by retention.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "sinks/store.h"
#include "sinks/store_priv.h"

static const char *get_str(struct json_object *j, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(j, k, &v) && json_object_is_type(v, json_type_string) ?
		       json_object_get_string(v) :
		       NULL;
}

static bool get_i64(struct json_object *j, const char *k, int64_t *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(j, k, &v) || !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return true;
}

int store_put_incident(struct store *s, struct json_object *inc)
{
	const char *id = get_str(inc, "id"), *boot = get_str(inc, "boot_id");
	const char *state = get_str(inc, "state"), *conf = get_str(inc, "confidence");
	const char *sev = get_str(inc, "severity");
	int64_t opened, last, closed = 0;
	bool has_closed = get_i64(inc, "closed_real_ns", &closed);
	sqlite3_stmt *st;
	int r;

	if (!id || !boot || !state || !conf || !sev || !get_i64(inc, "opened_real_ns", &opened) ||
	    !get_i64(inc, "last_real_ns", &last))
		return -EINVAL;
	r = store_tx_begin(s);
	if (r)
		return r;
	st = store_prep(s, "INSERT OR REPLACE INTO incidents (id, boot_id, opened_real_ns,"
			   " last_real_ns, closed_real_ns, state, confidence, severity, json)"
			   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (st) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, boot, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, opened);
		sqlite3_bind_int64(st, 4, last);
		if (has_closed)
			sqlite3_bind_int64(st, 5, closed);
		else
			sqlite3_bind_null(st, 5);
		sqlite3_bind_text(st, 6, state, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 7, conf, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 8, sev, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 9,
				  json_object_to_json_string_ext(inc, JSON_C_TO_STRING_PLAIN), -1,
				  SQLITE_TRANSIENT);
	}
	return store_tx_end(s, store_run(s, st, "store an incident"));
}

/* The row's JSON, or NULL (logged) when it is not JSON. */
static struct json_object *row_json(struct store *s, sqlite3_stmt *st, int col)
{
	const char *t = (const char *)sqlite3_column_text(st, col);
	struct json_object *j = t ? json_tokener_parse(t) : NULL;

	if (!j || !json_object_is_type(j, json_type_object)) {
		log_warn("skipping an unreadable incident in %s", s->path);
		json_object_put(j);
		return NULL;
	}
	return j;
}

int store_get_incident(struct store *s, const char *id, struct json_object **out)
{
	sqlite3_stmt *st = store_prep(s, "SELECT json FROM incidents WHERE id = ?");
	int rc, r;

	*out = NULL;
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = row_json(s, st, 0);
		r = *out ? 0 : -EIO;
	} else {
		r = rc == SQLITE_DONE ? -ENOENT : store_fail(s, "read an incident");
	}
	sqlite3_finalize(st);
	return r;
}

int store_query_incidents(struct store *s, const struct incident_query *q,
			  int (*cb)(struct json_object *incident, void *arg), void *arg)
{
	sqlite3_stmt *st =
		store_prep(s, "SELECT json FROM incidents WHERE (?1 = 0 OR state = 'open')"
			      " AND last_real_ns >= ?2 AND (?3 = 0 OR opened_real_ns <= ?3)"
			      " ORDER BY opened_real_ns, id");
	int rc, r = 0;

	if (!st)
		return s->db ? -EIO : 0; /* an offline store holds nothing */
	sqlite3_bind_int(st, 1, q && q->open_only);
	sqlite3_bind_int64(st, 2, q ? q->since_ns : 0);
	sqlite3_bind_int64(st, 3, q ? q->until_ns : 0);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct json_object *j = row_json(s, st, 0);

		if (!j)
			continue;
		r = cb(j, arg);
		json_object_put(j);
		if (r)
			break;
	}
	if (!r && rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = store_fail(s, "read incidents");
	sqlite3_finalize(st);
	return r;
}
