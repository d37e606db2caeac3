/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The evidence store: one SQLite database (WAL) in the state dir.  The daemon opens it
 * with STORE_LOCK, which holds an flock on <state_dir>/cpudrift.lock for the life of the
 * process, so a second daemon on the same state dir refuses to start; the CLI opens it
 * read-only (or read-write for `baseline accept`) without the lock and works while the
 * daemon runs.  Every write is one transaction: a kill -9 loses nothing committed.
 *
 * Snapshots are stored as their JSON text, with a few summary columns so that the CLI
 * can show them without decoding.  Counters (fault_counters, event_counters), incidents
 * and the baseline are never deleted by retention.
 */
#ifndef CPUDRIFT_STORE_H
#define CPUDRIFT_STORE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/event.h"
#include "core/snapshot.h"

struct errbuf;
struct store;

#define STORE_DB_NAME "cpudrift.db"
#define STORE_LOCK_NAME "cpudrift.lock"

/* The schema version this build writes; older databases are migrated on open. */
#define STORE_SCHEMA_VERSION 3

enum store_flags {
	/*
	 * The daemon: take the state-dir lock (refuse if held); check an existing database
	 * first (a newer schema is refused untouched, a corrupt one is moved aside and a new
	 * store started); keep what a failed write held in memory (store_retry).
	 */
	STORE_LOCK = 1 << 0,
	STORE_READONLY = 1 << 1, /* the CLI: never create or write */
};

/**
 * Open (and create, migrate) the store in @state_dir.  0, or a negative errno with @err
 * set: -EBUSY "another cpudrift (pid N) is running on state dir D", -ENOENT (read-only
 * and no database yet), -EPROTO (database newer than this build; left untouched), -EROFS
 * or -EACCES (the state dir may not be written), -ENOSPC, -EIO (SQLite error).
 */
int store__new(struct store **out, const char *state_dir, unsigned flags, struct errbuf *err);
/**
 * A store with no database, for a daemon that cannot open one (a read-only state dir):
 * every read finds nothing, every write fails with @err.  @why says why, for the status.
 */
int store__new_offline(struct store **out, const char *state_dir, int err, const char *why);
void store__free(struct store *s);

/* What the daemon's open did with a corrupt database (STORE_LOCK). */
struct store_recovery {
	bool recovered; /* a corrupt database was moved aside and a new one started */
	char moved_to[PATH_MAX]; /* cpudrift.db.corrupt-YYYYMMDDTHHMMSSZ in the state dir */
	char why[256]; /* what was wrong with it */
	bool baseline_kept; /* the old baseline was read back into the new store */
	int64_t baseline_real_ns; /* when that baseline was taken */
};

const struct store_recovery *store_recovery(struct store *s);

/* --- health: writes that fail (a full disk) ----------------------------------------------- */

/*
 * The daemon's store keeps what a failed write held, in memory and bounded: events (at most
 * STORE_PENDING_EVENTS or STORE_PENDING_BYTES of JSON; past that an event is dropped but
 * still counted in the event counters) and fault counts (exact), in order.  store_retry
 * writes them when the disk has room again.  Snapshots, probe runs, timing samples and
 * status keys that fail are not kept: the daemon writes them again.
 */
#define STORE_PENDING_EVENTS 1000
#define STORE_PENDING_BYTES (2 << 20)
/* store_retry tries at most this often while writes fail. */
#define STORE_RETRY_NS (2 * 1000000000ll)

struct store_health {
	bool online; /* a database is open (false: store__new_offline) */
	int err; /* 0 while writes work; else why the last one failed (-ENOSPC: full) */
	char why[200]; /* SQLite's words for it */
	uint64_t errors; /* writes refused since open (each failed transaction, each write made
			    while failing) */
	int64_t failing_since_ns; /* realtime; 0 while writes work */
	uint64_t pending; /* events waiting in memory */
	uint64_t dropped; /* events the memory had no room for (counted, not kept) */
};

/** The short name of a health: "ok", "full", "read-only", "error" or "offline". */
const char *store_health_state(const struct store_health *h);
void store_health(struct store *s, struct store_health *h);
/**
 * Write what waits in memory, at most every STORE_RETRY_NS (@force: now).  0 when nothing
 * waits any more, else a negative errno (it is still kept).
 */
int store_retry(struct store *s, bool force);
/**
 * The health the running daemon of @state_dir last wrote in its lock file: 0, -ENOENT
 * (no daemon wrote one), -errno.
 */
int store_health_read(const char *state_dir, struct store_health *h);

/**
 * 1 when a daemon holds the lock of @state_dir (its pid in *pid when known), 0 when not,
 * negative errno when that cannot be told.
 */
int store_lock_held(const char *state_dir, int *pid);

/** The schema version of the open database. */
int store_version(struct store *s);

/** Group several writes into one transaction (nesting is not supported).  0 or -EIO. */
int store_begin(struct store *s);
int store_commit(struct store *s);

/* --- snapshots -------------------------------------------------------------------------- */

enum snap_kind { SNAP_BASELINE, SNAP_BOOT_FIRST, SNAP_PERIODIC, SNAP_OLD_BASELINE };

const char *snap_kind_name(enum snap_kind k);

/* What the CLI shows about a snapshot without decoding its JSON. */
struct snapmeta {
	int64_t id;
	enum snap_kind kind;
	int64_t realtime_ns;
	char boot_id[40];
	int level; /* x86-64 level */
	int nfeatures; /* advertised */
	char vendor[16];
	char brand[64];
	char digest[65]; /* caller's choice: identifies equal snapshots */
};

/** Store a snapshot (@json is its snapshot JSON text).  *id set when @id is not NULL. */
int store_add_snapshot(struct store *s, const struct snapmeta *m, const char *json, int64_t *id);

enum snap_select {
	SEL_BASELINE, /* the current baseline */
	SEL_LATEST, /* the newest snapshot of any kind */
	SEL_BOOT_FIRST, /* the first snapshot of boot @boot_id */
	SEL_PREV_BOOT_FIRST, /* the first snapshot of the newest boot other than @boot_id */
};

/**
 * Fetch one snapshot: 0 and *json (malloc'd, may be NULL when @json is NULL) and *m,
 * -ENOENT when there is none.
 */
int store_get_snapshot(struct store *s, enum snap_select sel, const char *boot_id,
		       struct snapmeta *m, char **json);

/** Store a decoded snapshot with its summary columns.  *id set when @id is not NULL. */
int store_save_snapshot(struct store *s, const struct snapshot *snap, enum snap_kind kind,
			int64_t *id);
/**
 * Fetch and decode one snapshot into *@out: 0, -ENOENT when there is none, or a negative
 * errno with @err filled (unreadable or corrupt).
 */
int store_load_snapshot(struct store *s, enum snap_select sel, const char *boot_id,
			struct snapmeta *m, struct snapshot **out, struct errbuf *err);

/**
 * Make snapshot @id the baseline; the previous baseline is kept as an old baseline.  A
 * baseline set this way is no longer provisional (status key STORE_PROVISIONAL_KEY goes).
 */
int store_set_baseline(struct store *s, int64_t id);

/*
 * Status key of a provisional baseline: the store was started anew (a corrupt database)
 * and the old baseline could not be read, so the first snapshot stands in until a person
 * accepts a baseline (`cpudrift baseline accept`).  Its value says why.
 */
#define STORE_PROVISIONAL_KEY "baseline_provisional"

/* --- probe runs, timing samples --------------------------------------------------------- */

int store_add_probe_run(struct store *s, int64_t realtime_ns, const char *json);
int store_add_timing_sample(struct store *s, int64_t realtime_ns, const char *source, double value,
			    const char *json);

/* --- events ----------------------------------------------------------------------------- */

/** Store @e and bump its (kind, severity) counter in the same transaction. */
int store_add_event(struct store *s, const struct event *e, int64_t *id);

struct event_query {
	int64_t since_ns; /* realtime, 0 = all */
	int64_t after_id; /* only ids above this (for --follow) */
	int kind; /* enum event_kind, -1 = all */
	int limit; /* 0 = no limit; with a limit the newest are returned */
	int64_t until_ns; /* realtime, inclusive; 0 = no end */
	const char *incident; /* only the events of this incident (body "incident_id"); NULL: all */
};

/**
 * Call @cb for each matching event in id order; the event is freed after the call.  A
 * non-zero return from @cb stops the walk and is returned.
 */
int store_query_events(struct store *s, const struct event_query *q,
		       int (*cb)(int64_t id, const struct event *e, void *arg), void *arg);

/* --- reading a time window back (store_window.c): report and evidence ---------------- */

/**
 * The raw rows of a window, oldest first: the JSON text exactly as stored (what an evidence
 * bundle keeps).  @table is "events", "probe_runs" or "timing_samples"; realtime_ns in
 * [@since_ns, @until_ns] (0: no end).  A non-zero return from @cb stops the walk.
 */
int store_window_rows(struct store *s, const char *table, int64_t since_ns, int64_t until_ns,
		      int (*cb)(int64_t id, int64_t realtime_ns, const char *json, void *arg),
		      void *arg);

/** Rows of @table in the window (for "N of M" when a bundle is cut); -errno. */
int64_t store_window_count(struct store *s, const char *table, int64_t since_ns, int64_t until_ns);

/**
 * The first and last realtime_ns of anything stored in the window (events, snapshots,
 * probe runs, timing samples): 0, or -ENOENT when the window holds nothing.
 */
int store_window_span(struct store *s, int64_t since_ns, int64_t until_ns, int64_t *first_ns,
		      int64_t *last_ns);

/** Each snapshot's summary in the window, oldest first (its JSON not read). */
int store_window_snapshots(struct store *s, int64_t since_ns, int64_t until_ns,
			   int (*cb)(const struct snapmeta *m, void *arg), void *arg);

/**
 * The newest snapshot taken at or before @at_ns whose digest is not @not_digest (NULL or
 * "": any), with its JSON (malloc'd) when @json is not NULL: 0, -ENOENT or -errno.
 */
int store_snapshot_at(struct store *s, int64_t at_ns, const char *not_digest, struct snapmeta *m,
		      char **json);

/* --- counters (never deleted by retention) ---------------------------------------------- */

int store_count_fault(struct store *s, const char *class_, const char *feature, int64_t n);

/** Call @cb for every fault counter, ordered by count (largest first). */
int store_fault_counters(struct store *s,
			 int (*cb)(const char *class_, const char *feature, int64_t n, void *arg),
			 void *arg);

/** events[kind][severity], from the event counters (which survive retention). */
int store_event_counts(struct store *s, int64_t counts[EV__COUNT][SEV_CRITICAL + 1]);

/* --- incidents (analysis/incident.h's JSON form, one row each) ---------------------------- */

/**
 * Insert or replace an incident from its JSON (keys "id", "boot_id", "opened_real_ns",
 * "last_real_ns", "closed_real_ns" when closed, "state", "confidence", "severity").
 * 0, -EINVAL (a key missing), -EIO.
 */
int store_put_incident(struct store *s, struct json_object *incident);

/** The incident @id as a new JSON reference in *@out: 0, -ENOENT, -EIO. */
int store_get_incident(struct store *s, const char *id, struct json_object **out);

struct incident_query {
	bool open_only; /* only incidents still open */
	int64_t since_ns; /* realtime: incidents whose last evidence is at or after this */
	int64_t until_ns; /* realtime: opened at or before this; 0 = no bound */
};

/**
 * Call @cb for each matching incident, oldest first, with its JSON (a reference the callee
 * may take).  A row that is not JSON is skipped with a warning.  A non-zero return from @cb
 * stops the walk and is returned.
 */
int store_query_incidents(struct store *s, const struct incident_query *q,
			  int (*cb)(struct json_object *incident, void *arg), void *arg);

/* --- daemon status (key/value, read by `cpudrift status`) ------------------------------- */

int store_set_status(struct store *s, const char *key, const char *value);
/** 0 and the value in @buf, or -ENOENT. */
int store_get_status(struct store *s, const char *key, char *buf, size_t size);
/** 0, or -ENOENT when there was no such key. */
int store_del_status(struct store *s, const char *key);

/* --- retention, integrity --------------------------------------------------------------- */

struct store_limits {
	int64_t rows; /* per table (events, snapshots, probe runs, timing samples) */
	int64_t days; /* age */
	int64_t bytes; /* database size */
};

/** Apply the limits; never deletes counters, the baseline or boot-first snapshots still
 *  needed for boot comparison.  Age counts from @now_ns (CLOCK_REALTIME), but never from
 *  later than this boot's first snapshot plus the CLOCK_MONOTONIC time since: a clock set
 *  forward cannot age recent rows.  Returns the number of rows deleted, or -errno. */
int store_retain(struct store *s, const struct store_limits *l, int64_t now_ns);

/** Bytes in use by the database (pages not on the free list). */
int64_t store_size(struct store *s);

/** PRAGMA integrity_check: 0 when "ok", -EIO with the first complaint in @err. */
int store_check(struct store *s, struct errbuf *err);

#endif
