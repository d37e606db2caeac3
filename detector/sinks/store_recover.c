// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's look at an existing database before it writes anything (store.h,
 * STORE_LOCK).  A database newer than this build (a downgrade) is refused and left as it
 * is, byte for byte: only a read-only connection ever opens it.  A corrupt one (a host
 * crash, a truncated or overwritten file) is moved aside, with its -wal and -shm, as
 * cpudrift.db.corrupt-YYYYMMDDTHHMMSSZ in the state dir, and a new store starts; what can
 * still be read of the old baseline (and the last boot's first snapshot) is copied over.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "formats/snapjson.h"
#include "sinks/store.h"
#include "sinks/store_priv.h"

static bool corrupt_code(sqlite3 *db)
{
	int c = sqlite3_extended_errcode(db) & 0xff;

	return c == SQLITE_CORRUPT || c == SQLITE_NOTADB;
}

/* The first integer of @sql, or -1 with *@corrupt set when the file is damaged. */
static int64_t query(sqlite3 *db, const char *sql, bool *corrupt, char *why, size_t size)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -1;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE && corrupt_code(db)) {
		*corrupt = true;
		snprintf(why, size, "%s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return v;
}

int store_precheck(struct store *s, struct errbuf *err, char *why, size_t size)
{
	struct stat st;
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	bool corrupt = false;
	int64_t v = 0;
	int r = 0;

	/* Nothing there, or an empty file: SQLite makes a new database of it. */
	if (stat(s->path, &st) || !st.st_size)
		return 0;
	if (sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		/* Not something to judge here: the normal open says what is wrong. */
		sqlite3_close_v2(db);
		return 0;
	}
	sqlite3_busy_timeout(db, 5000);
	if (query(db, "SELECT count(*) FROM sqlite_master WHERE name = 'schema_version'", &corrupt,
		  why, size) > 0)
		v = query(db, "SELECT version FROM schema_version", &corrupt, why, size);
	if (corrupt)
		goto out;
	if (v > STORE_SCHEMA_VERSION) {
		errbuf_set(
			err,
			"%s has schema version %" PRId64 ", newer than this cpudrift (%d): it was "
			"written by a newer cpudrift (a downgrade?); refusing to start, the file is "
			"left as it is; install that version again, or move the file away to start "
			"a new store",
			s->path, v, STORE_SCHEMA_VERSION);
		r = -EPROTO;
		goto out;
	}
	/* Every page once: a damaged page is found now, not at the first write into it. */
	if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &q, NULL) == SQLITE_OK) {
		int rc = sqlite3_step(q);

		if (rc == SQLITE_ROW) {
			const char *t = (const char *)sqlite3_column_text(q, 0);

			if (t && strcmp(t, "ok")) {
				corrupt = true;
				snprintf(why, size, "%s", t);
			}
		} else if (corrupt_code(db)) {
			corrupt = true;
			snprintf(why, size, "%s", sqlite3_errmsg(db));
		}
	} else if (corrupt_code(db)) {
		corrupt = true;
		snprintf(why, size, "%s", sqlite3_errmsg(db));
	}
out:
	sqlite3_finalize(q);
	sqlite3_close_v2(db);
	return r ? r : corrupt ? -EBADMSG : 0;
}

int store_move_aside(struct store *s, const char *why, struct errbuf *err)
{
	static const char *const ext[] = { "", "-wal", "-shm" };
	struct store_recovery *rc = &s->recovery;
	char stamp[32], from[PATH_MAX + 8], to[PATH_MAX + 8];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(rc->moved_to, sizeof(rc->moved_to), "%.4000s.corrupt-%s", s->path, stamp);
	/* A second recovery within the same second gets a suffix. */
	for (int i = 2; !access(rc->moved_to, F_OK) && i < 100; i++)
		snprintf(rc->moved_to, sizeof(rc->moved_to), "%.4000s.corrupt-%s-%d", s->path,
			 stamp, i);
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		snprintf(from, sizeof(from), "%s%s", s->path, ext[i]);
		snprintf(to, sizeof(to), "%s%s", rc->moved_to, ext[i]);
		if (!rename(from, to) || errno == ENOENT)
			continue;
		if (!i) {
			errbuf_set(err, "%s is corrupt (%s), and moving it aside failed: %s",
				   s->path, why, strerror(errno));
			return -errno;
		}
		log_warn("failed to move %s aside: %s", from, strerror(errno));
	}
	rc->recovered = true;
	snprintf(rc->why, sizeof(rc->why), "%s", why);
	log_err("%s is corrupt (%s): moved aside as %s; a new store starts", s->path, why,
		rc->moved_to);
	return 0;
}

/* The newest snapshot of @kind in the old file, decoded; NULL when it cannot be read. */
static struct snapshot *old_snapshot(sqlite3 *db, const char *kind)
{
	struct errbuf err = { "" };
	struct snapshot *snap = NULL;
	struct json_object *o = NULL;
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db,
			       "SELECT json FROM snapshots WHERE kind = ? ORDER BY id DESC LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW || !sqlite3_column_text(st, 0))
		goto out;
	o = json_tokener_parse((const char *)sqlite3_column_text(st, 0));
	if (!o || snapshot_from_json(o, &snap, &err)) {
		log_debug("the old %s snapshot does not read: %s", kind, err.msg);
		snap = NULL;
	}
out:
	json_object_put(o);
	sqlite3_finalize(st);
	return snap;
}

void store_recover_baseline(struct store *s)
{
	struct store_recovery *rc = &s->recovery;
	struct snapshot *base = NULL, *boot = NULL;
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(rc->moved_to, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) ==
	    SQLITE_OK) {
		base = old_snapshot(db, "baseline");
		/* The last boot's first snapshot: the next boot's comparison needs it. */
		boot = old_snapshot(db, "boot_first");
	}
	sqlite3_close_v2(db);
	if (boot && store_save_snapshot(s, boot, SNAP_BOOT_FIRST, NULL))
		log_warn("failed to copy the last boot's first snapshot from %s", rc->moved_to);
	if (base && !store_save_snapshot(s, base, SNAP_BASELINE, NULL)) {
		rc->baseline_kept = true;
		rc->baseline_real_ns = base->realtime_ns;
		log_warn("the baseline of %s (taken %" PRId64 " s after the epoch) was read back "
			 "into the new store",
			 rc->moved_to, base->realtime_ns / 1000000000);
	} else {
		log_warn(
			"the baseline of %s cannot be read: the next snapshot stands in as a "
			"provisional baseline until a person accepts one (cpudrift baseline accept)",
			rc->moved_to);
	}
	snapshot__free(base);
	snapshot__free(boot);
}
