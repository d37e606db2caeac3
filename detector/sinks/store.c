// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/clock.h"
#include "core/log.h"
#include "formats/snapjson.h"
#include "sinks/store.h"
#include "sinks/store_priv.h"

/*
 * migrations[i] takes a database from version i to version i + 1.  Never edit a shipped
 * step: add a new one and bump STORE_SCHEMA_VERSION.
 */
static const char *const migrations[STORE_SCHEMA_VERSION] = {
	/* 0 -> 1: the first schema. */
	"CREATE TABLE schema_version (version INTEGER NOT NULL);"
	"INSERT INTO schema_version VALUES (0);"
	"CREATE TABLE snapshots (id INTEGER PRIMARY KEY, kind TEXT NOT NULL,"
	" realtime_ns INTEGER NOT NULL, boot_id TEXT NOT NULL, level INTEGER, nfeatures INTEGER,"
	" vendor TEXT, brand TEXT, json TEXT NOT NULL);"
	"CREATE TABLE probe_runs (id INTEGER PRIMARY KEY, realtime_ns INTEGER NOT NULL,"
	" boot_id TEXT, json TEXT NOT NULL);"
	"CREATE TABLE events (id INTEGER PRIMARY KEY, realtime_ns INTEGER NOT NULL,"
	" monotonic_ns INTEGER, boot_id TEXT, kind TEXT NOT NULL, severity TEXT NOT NULL,"
	" subject TEXT, pid INTEGER, summary TEXT, json TEXT NOT NULL);"
	"CREATE TABLE fault_counters (class TEXT NOT NULL, feature TEXT NOT NULL,"
	" count INTEGER NOT NULL, PRIMARY KEY (class, feature));"
	"CREATE TABLE timing_samples (id INTEGER PRIMARY KEY, realtime_ns INTEGER NOT NULL,"
	" source TEXT NOT NULL, value REAL, json TEXT);",

	/* 1 -> 2: event counters that survive retention, daemon status, indexes, digests. */
	"ALTER TABLE snapshots ADD COLUMN digest TEXT NOT NULL DEFAULT '';"
	"CREATE TABLE event_counters (kind TEXT NOT NULL, severity TEXT NOT NULL,"
	" count INTEGER NOT NULL, PRIMARY KEY (kind, severity));"
	"INSERT INTO event_counters SELECT kind, severity, count(*) FROM events"
	" GROUP BY kind, severity;"
	"CREATE TABLE status (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE INDEX events_time ON events (realtime_ns);"
	"CREATE INDEX snapshots_kind ON snapshots (kind, boot_id);",

	/* 2 -> 3: incidents, one row each, kept whole (never deleted by retention). */
	"CREATE TABLE incidents (id TEXT PRIMARY KEY, boot_id TEXT NOT NULL,"
	" opened_real_ns INTEGER NOT NULL, last_real_ns INTEGER NOT NULL, closed_real_ns INTEGER,"
	" state TEXT NOT NULL, confidence TEXT NOT NULL, severity TEXT NOT NULL,"
	" json TEXT NOT NULL);"
	"CREATE INDEX incidents_state ON incidents (state, opened_real_ns);",
};

static const char *const snap_kinds[] = {
	[SNAP_BASELINE] = "baseline",
	[SNAP_BOOT_FIRST] = "boot_first",
	[SNAP_PERIODIC] = "periodic",
	[SNAP_OLD_BASELINE] = "old_baseline",
};

const char *snap_kind_name(enum snap_kind k)
{
	return (unsigned)k <= SNAP_OLD_BASELINE ? snap_kinds[k] : "unknown";
}

int store_errno(struct store *s)
{
	if (!s->db)
		return s->werr ? s->werr : -EROFS;
	switch (sqlite3_extended_errcode(s->db) & 0xff) {
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EBADMSG;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_PERM:
	case SQLITE_AUTH:
	case SQLITE_CANTOPEN:
		return -EACCES;
	default:
		return -EIO;
	}
}

/*
 * A daemon's store that keeps failing the same way (a full disk) says so once, when it
 * starts (store_health.c); each failed statement is then only a debug line.
 */
static void fail_msg(struct store *s, int r, const char *verb, const char *msg)
{
	if (s->daemon && s->werr && r == s->werr)
		log_debug("failed to %s in %s: %s", verb, s->path, msg);
	else
		log_err("failed to %s in %s: %s", verb, s->path, msg);
}

int store_fail(struct store *s, const char *verb)
{
	int r = store_errno(s);

	fail_msg(s, r, verb, s->db ? sqlite3_errmsg(s->db) : "no database");
	return r;
}

int store_exec(struct store *s, const char *sql, const char *verb)
{
	char *msg = NULL;
	int r;

	if (!s->db)
		return s->werr ? s->werr : -EROFS;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	r = store_errno(s);
	fail_msg(s, r, verb, msg ? msg : "?");
	sqlite3_free(msg);
	return r;
}

/* Undo whatever is open: SQLite may have rolled a transaction back by itself (SQLITE_FULL). */
static void rollback_all(struct store *s)
{
	if (s->db && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/*
 * Inside the caller's transaction each write is a savepoint: a write that fails leaves no
 * half of itself (an event without its counter) in the batch.
 */
int store_tx_begin(struct store *s)
{
	if (s->in_tx)
		return s->tx_err ? s->tx_err : store_exec(s, "SAVEPOINT w", "begin a write");
	return store_exec(s, "BEGIN IMMEDIATE", "begin a transaction");
}

int store_tx_end(struct store *s, int r)
{
	if (s->in_tx) {
		if (s->tx_err)
			return r ? r : s->tx_err;
		if (r) {
			sqlite3_exec(s->db, "ROLLBACK TO w", NULL, NULL, NULL);
			s->tx_err = r;
		}
		if (s->db && !sqlite3_get_autocommit(s->db))
			sqlite3_exec(s->db, "RELEASE w", NULL, NULL, NULL);
		return r;
	}
	if (!r)
		r = store_exec(s, "COMMIT", "commit");
	if (r)
		rollback_all(s);
	store_note_write(s, r);
	return r;
}

int store_begin(struct store *s)
{
	int r = store_exec(s, "BEGIN IMMEDIATE", "begin a transaction");

	s->in_tx = !r;
	s->tx_err = 0;
	if (r)
		store_note_write(s, r);
	return r;
}

/* A batch with a failed write is rolled back whole: what it held waits in memory. */
int store_commit(struct store *s)
{
	int r = s->tx_err;

	s->in_tx = false;
	if (!r && s->db && !sqlite3_get_autocommit(s->db))
		r = store_exec(s, "COMMIT", "commit");
	if (r)
		rollback_all(s);
	s->tx_err = 0;
	store_batch_done(s, r);
	store_note_write(s, r);
	return r;
}

sqlite3_stmt *store_prep(struct store *s, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (!s->db)
		return NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_fail(s, "prepare a statement");
		return NULL;
	}
	return st;
}

/* Run a statement that returns no rows; finalizes it. */
int store_run(struct store *s, sqlite3_stmt *st, const char *verb)
{
	int rc;

	if (!st)
		return -EIO;
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, verb);
}

int64_t store_query_i64(struct store *s, const char *sql)
{
	sqlite3_stmt *st = store_prep(s, sql);
	int64_t v = -1;

	if (st && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

int store_version(struct store *s)
{
	return (int)store_query_i64(s, "SELECT version FROM schema_version");
}

static int migrate(struct store *s, struct errbuf *err)
{
	int v = 0;

	if (store_query_i64(s, "SELECT count(*) FROM sqlite_master WHERE name = 'schema_version'") >
	    0)
		v = store_version(s);
	if (v > STORE_SCHEMA_VERSION) {
		errbuf_set(err, "%s has schema version %d, newer than this cpudrift (%d)", s->path,
			   v, STORE_SCHEMA_VERSION);
		return -EPROTO;
	}
	if (v < 0) {
		errbuf_set(err, "%s: cannot read the schema version: %s", s->path,
			   sqlite3_errmsg(s->db));
		return -EIO;
	}
	if (v == STORE_SCHEMA_VERSION)
		return 0;
	if (s->readonly) {
		errbuf_set(err, "%s has schema version %d; start the daemon once to upgrade it",
			   s->path, v);
		return -EPROTO;
	}
	if (v == 0 && store_exec(s, "PRAGMA auto_vacuum = INCREMENTAL", "set auto_vacuum"))
		goto fail;
	/* All steps in one transaction: a crash mid-migration leaves the old version intact. */
	if (store_exec(s, "BEGIN IMMEDIATE", "begin the migration"))
		goto fail;
	for (; v < STORE_SCHEMA_VERSION; v++) {
		char sql[64];

		if (store_exec(s, migrations[v], "migrate the schema"))
			goto rollback;
		snprintf(sql, sizeof(sql), "UPDATE schema_version SET version = %d", v + 1);
		if (store_exec(s, sql, "record the schema version"))
			goto rollback;
	}
	if (store_exec(s, "COMMIT", "commit the migration"))
		goto rollback;
	return 0;
rollback:
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
fail:
	errbuf_set(err, "%s: failed to migrate the schema to version %d: %s", s->path,
		   STORE_SCHEMA_VERSION, sqlite3_errmsg(s->db));
	return -EIO;
}

static int read_pid(int fd)
{
	char buf[16] = "";

	if (pread(fd, buf, sizeof(buf) - 1, 0) <= 0)
		return 0;
	return atoi(buf);
}

/*
 * The store's files are 0640 and take the state dir's group, whatever the umask: group adm
 * (the unit's Group=) reads the store with `cpudrift events` and `status`, nobody else does.
 * Best effort: a file someone else owns, or that is not a regular file, stays as it is.
 *
 * By name (fchmodat, fchownat), never by opening the file: SQLite holds POSIX (fcntl) locks
 * on the database, its -wal and its -shm, and closing any descriptor of a file drops every
 * such lock this process holds on it.  A reader would then take the -shm for abandoned and
 * reset it under the daemon's mapping (SIGBUS).
 */
static void share_files(const char *state_dir)
{
	static const char *const names[] = { STORE_DB_NAME, STORE_DB_NAME "-wal",
					     STORE_DB_NAME "-shm", STORE_LOCK_NAME };
	int dfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat dir, st;

	if (dfd < 0)
		return;
	for (size_t i = 0; !fstat(dfd, &dir) && i < sizeof(names) / sizeof(names[0]); i++) {
		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode) ||
		    st.st_uid != geteuid())
			continue;
		if ((st.st_mode & 07777) != 0640 && fchmodat(dfd, names[i], 0640, 0))
			log_debug("failed to set mode 0640 on %s: %s", names[i], strerror(errno));
		if (st.st_gid != dir.st_gid &&
		    fchownat(dfd, names[i], (uid_t)-1, dir.st_gid, AT_SYMLINK_NOFOLLOW))
			log_debug("failed to give %s group %u: %s", names[i], (unsigned)dir.st_gid,
				  strerror(errno));
	}
	close(dfd);
}

/*
 * The lock file: an flock for the life of the daemon, its pid, and the store's health
 * (store_health.c), always HEALTH bytes rewritten in place, so that a full disk cannot
 * refuse the update.  On a read-only state dir an existing lock file is still locked (it
 * keeps a second daemon away and tells `status` this one runs).
 */
static int take_lock(struct store *s, const char *dir, struct errbuf *err)
{
	char path[PATH_MAX];
	int fd;
	bool ro = false;

	snprintf(path, sizeof(path), "%s/%s", dir, STORE_LOCK_NAME);
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0 && (errno == EROFS || errno == EACCES)) {
		int e = errno;

		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			errno = e;
		ro = fd >= 0;
	}
	if (fd < 0 && (errno == EROFS || errno == EACCES)) {
		errbuf_set(err, "the state dir %s cannot be written (%s: %s)", dir, path,
			   strerror(errno));
		return -errno;
	}
	if (fd < 0) {
		errbuf_set(err, "failed to open %s: %s", path, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int e = errno, pid = read_pid(fd);

		close(fd);
		if (e != EWOULDBLOCK) {
			errbuf_set(err, "failed to lock %s: %s", path, strerror(e));
			return -e;
		}
		if (pid > 0)
			errbuf_set(err, "another cpudrift (pid %d) is running on state dir %s", pid,
				   dir);
		else
			errbuf_set(err, "another cpudrift is running on state dir %s", dir);
		return -EBUSY;
	}
	s->lock_fd = fd;
	if (ro) {
		/* Locked, but nothing can be written there: the caller finds out next. */
		s->lock_fd = -1;
		s->ro_lock_fd = fd;
		return 0;
	}
	if (ftruncate(fd, 0))
		log_warn("failed to empty %s: %s", path, strerror(errno));
	store_publish(s);
	return 0;
}

int store_lock_held(const char *state_dir, int *pid)
{
	char path[PATH_MAX];
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/%s", state_dir, STORE_LOCK_NAME);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (flock(fd, LOCK_SH | LOCK_NB)) {
		r = errno == EWOULDBLOCK ? 1 : -errno;
		if (r == 1 && pid)
			*pid = read_pid(fd);
	}
	close(fd);
	return r;
}

/* The daemon may write the state dir: -EROFS or -EACCES with @err set when it may not. */
static int writable(const char *state_dir, struct errbuf *err)
{
	if (!faccessat(AT_FDCWD, state_dir, W_OK, AT_EACCESS))
		return 0;
	errbuf_set(err, "the state dir %s cannot be written: %s", state_dir, strerror(errno));
	return errno == EROFS ? -EROFS : -EACCES;
}

static int open_db(struct store *s, const char *state_dir, struct errbuf *err)
{
	int oflags;

	/*
	 * SQLite gives -wal and -shm the database's mode (and, as root, its owner and group).
	 * Created here only when missing (O_EXCL): an existing one may be open in this process
	 * already, and closing a descriptor of it would drop that connection's locks.
	 */
	if (!s->readonly) {
		int fd = open(s->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);

		if (fd >= 0)
			close(fd);
		share_files(state_dir);
	}
	oflags = s->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	if (sqlite3_open_v2(s->path, &s->db, oflags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		errbuf_set(err, "failed to open %s: %s", s->path,
			   s->db ? sqlite3_errmsg(s->db) : "out of memory");
		return s->db ? store_errno(s) : -ENOMEM;
	}
	/* The CLI reads while the daemon writes: wait for its short transactions. */
	sqlite3_busy_timeout(s->db, 5000);
	/*
	 * WAL + synchronous=NORMAL: a committed transaction survives the process being killed
	 * (it is in the WAL, in the page cache); only a power loss can take the last ones.
	 */
	/*
	 * The writer appends a row at a time and reads little back: a 512 KiB page cache (the
	 * default is 2 MiB) keeps the daemon's resident memory down through a storm.
	 */
	if (!s->readonly && (store_exec(s, "PRAGMA journal_mode = WAL", "enable WAL") ||
			     store_exec(s, "PRAGMA synchronous = NORMAL", "set synchronous") ||
			     store_exec(s, "PRAGMA cache_size = -512", "set the cache size"))) {
		errbuf_set(err, "failed to set up %s: %s", s->path, sqlite3_errmsg(s->db));
		return store_errno(s);
	}
	if (!s->readonly) {
		int one = 1;

		/*
		 * A reader that may not write the state dir (group adm) can open a WAL database
		 * only while its -wal and -shm files exist (SQLite 3.22+, read-only -shm).  SQLite
		 * deletes them at the last close; kept, `cpudrift events` works for adm also
		 * while the daemon is stopped.
		 */
		sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &one);
		/* Read something: that creates -wal and -shm now, so they get the mode too. */
		store_query_i64(s, "SELECT count(*) FROM sqlite_master");
		share_files(state_dir);
	}
	return migrate(s, err);
}

int store__new(struct store **out, const char *state_dir, unsigned flags, struct errbuf *err)
{
	struct store *s = calloc(1, sizeof(*s));
	char why[256] = "";
	int r;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->lock_fd = s->ro_lock_fd = -1;
	s->readonly = flags & STORE_READONLY;
	s->daemon = flags & STORE_LOCK;
	snprintf(s->dir, sizeof(s->dir), "%s", state_dir);
	snprintf(s->path, sizeof(s->path), "%s/%s", state_dir, STORE_DB_NAME);
	if (!s->readonly && mkdir(state_dir, 0750) && errno != EEXIST) {
		r = -errno;
		errbuf_set(err, "failed to create state dir %s: %s", state_dir, strerror(errno));
		goto fail;
	}
	if (flags & STORE_LOCK) {
		r = take_lock(s, state_dir, err);
		if (!r)
			r = writable(state_dir, err);
		if (r)
			goto fail;
	}
	if (s->readonly && access(s->path, F_OK)) {
		r = -errno;
		errbuf_set(err,
			   "no evidence store at %s: %s (has the daemon run with this state dir?)",
			   s->path, strerror(errno));
		goto fail;
	}
	/* The daemon looks before it writes: a newer database is refused as it is. */
	if (s->daemon) {
		r = store_precheck(s, err, why, sizeof(why));
		if (r == -EBADMSG)
			r = store_move_aside(s, why, err);
		if (r)
			goto fail;
	}
	r = open_db(s, state_dir, err);
	if (r == -EBADMSG && s->daemon && !s->recovery.recovered) {
		/* Corrupt in a way the look before did not see. */
		snprintf(why, sizeof(why), "%.250s", err->msg);
		sqlite3_close_v2(s->db);
		s->db = NULL;
		r = store_move_aside(s, why, err);
		if (!r)
			r = open_db(s, state_dir, err);
	}
	if (r)
		goto fail;
	if (s->recovery.recovered)
		store_recover_baseline(s);
	store_publish(s);
	*out = s;
	return 0;
fail:
	store__free(s);
	return r;
}

int store__new_offline(struct store **out, const char *state_dir, int err, const char *why)
{
	struct store *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->lock_fd = s->ro_lock_fd = -1;
	s->daemon = true;
	s->werr = err < 0 ? err : -EROFS;
	s->failing_since_ns = clock_real_ns();
	snprintf(s->why, sizeof(s->why), "%s", why);
	snprintf(s->dir, sizeof(s->dir), "%s", state_dir);
	snprintf(s->path, sizeof(s->path), "%s/%s", state_dir, STORE_DB_NAME);
	/* Still keep a second daemon away when the lock file exists. */
	{
		struct errbuf e;

		if (take_lock(s, state_dir, &e) == -EBUSY) {
			log_err("%s", e.msg);
			free(s);
			return -EBUSY;
		}
	}
	*out = s;
	return 0;
}

const struct store_recovery *store_recovery(struct store *s)
{
	return &s->recovery;
}

void store__free(struct store *s)
{
	if (!s)
		return;
	/*
	 * The daemon's last act on the file: everything into the database, the WAL emptied (it
	 * stays, empty, for readers that may not create it).  A stopped daemon's database file
	 * then holds the whole store by itself.
	 */
	if (s->db && s->daemon && !s->readonly &&
	    sqlite3_exec(s->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL) != SQLITE_OK)
		log_debug("failed to checkpoint %s: %s", s->path, sqlite3_errmsg(s->db));
	if (s->db)
		sqlite3_close_v2(s->db);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	if (s->ro_lock_fd >= 0)
		close(s->ro_lock_fd);
	store_pending_free(s);
	free(s);
}

/* --- snapshots ------------------------------------------------------------------------- */

int store_add_snapshot(struct store *s, const struct snapmeta *m, const char *json, int64_t *id)
{
	sqlite3_stmt *st;
	int r;

	r = store_tx_begin(s);
	if (r)
		return r;
	/* There is one baseline: a new one demotes the old. */
	if (m->kind == SNAP_BASELINE &&
	    (r = store_exec(s, "UPDATE snapshots SET kind = 'old_baseline' WHERE kind = 'baseline'",
			    "demote the old baseline")))
		return store_tx_end(s, r);
	st = store_prep(
		s, "INSERT INTO snapshots (kind, realtime_ns, boot_id, level, nfeatures, vendor,"
		   " brand, digest, json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (st) {
		sqlite3_bind_text(st, 1, snap_kind_name(m->kind), -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, m->realtime_ns);
		sqlite3_bind_text(st, 3, m->boot_id, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 4, m->level);
		sqlite3_bind_int(st, 5, m->nfeatures);
		sqlite3_bind_text(st, 6, m->vendor, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 7, m->brand, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 8, m->digest, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 9, json, -1, SQLITE_STATIC);
	}
	r = store_run(s, st, "store a snapshot");
	if (!r && id)
		*id = sqlite3_last_insert_rowid(s->db);
	return store_tx_end(s, r);
}

static void copy_col(char *dst, size_t size, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(dst, size, "%s", t ? (const char *)t : "");
}

int store_get_snapshot(struct store *s, enum snap_select sel, const char *boot_id,
		       struct snapmeta *m, char **json)
{
	static const char *const where[] = {
		[SEL_BASELINE] = "kind = 'baseline' ORDER BY id DESC",
		[SEL_LATEST] = "1 ORDER BY id DESC",
		[SEL_BOOT_FIRST] = "kind = 'boot_first' AND boot_id = ?1 ORDER BY id",
		[SEL_PREV_BOOT_FIRST] = "kind = 'boot_first' AND boot_id != ?1 ORDER BY id DESC",
	};
	char sql[512];
	sqlite3_stmt *st;
	int rc, r = 0;

	if (!s->db)
		return -ENOENT; /* an offline store holds nothing */
	snprintf(sql, sizeof(sql),
		 "SELECT id, kind, realtime_ns, boot_id, level, nfeatures, vendor, brand, digest,"
		 " json FROM snapshots WHERE %s LIMIT 1",
		 where[sel]);
	st = store_prep(s, sql);
	if (!st)
		return -EIO;
	if (sel >= SEL_BOOT_FIRST)
		sqlite3_bind_text(st, 1, boot_id ? boot_id : "", -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 1);

		memset(m, 0, sizeof(*m));
		m->id = sqlite3_column_int64(st, 0);
		for (int i = 0; i <= SNAP_OLD_BASELINE; i++)
			if (k && !strcmp(k, snap_kinds[i]))
				m->kind = i;
		m->realtime_ns = sqlite3_column_int64(st, 2);
		copy_col(m->boot_id, sizeof(m->boot_id), st, 3);
		m->level = sqlite3_column_int(st, 4);
		m->nfeatures = sqlite3_column_int(st, 5);
		copy_col(m->vendor, sizeof(m->vendor), st, 6);
		copy_col(m->brand, sizeof(m->brand), st, 7);
		copy_col(m->digest, sizeof(m->digest), st, 8);
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

int store_save_snapshot(struct store *s, const struct snapshot *snap, enum snap_kind kind,
			int64_t *id)
{
	struct json_object *o = snapshot_to_json(snap);
	struct snapmeta m = { .kind = kind,
			      .realtime_ns = snap->realtime_ns,
			      .level = snap->level };
	int ret;

	if (!o)
		return -ENOMEM;
	snprintf(m.boot_id, sizeof(m.boot_id), "%s", snap->boot_id);
	snprintf(m.vendor, sizeof(m.vendor), "%s", snap->id.vendor);
	snprintf(m.brand, sizeof(m.brand), "%s", snap->id.brand);
	snprintf(m.digest, sizeof(m.digest), "%016" PRIx64, snapshot_digest(snap));
	m.nfeatures = featset_count(&snap->features);
	ret = store_add_snapshot(s, &m, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
				 id);
	json_object_put(o);
	return ret;
}

int store_load_snapshot(struct store *s, enum snap_select sel, const char *boot_id,
			struct snapmeta *m, struct snapshot **out, struct errbuf *err)
{
	struct json_object *o = NULL;
	char *json = NULL;
	int ret;

	*out = NULL;
	ret = store_get_snapshot(s, sel, boot_id, m, &json);
	if (ret) {
		if (ret != -ENOENT)
			errbuf_set(err, "failed to read a stored snapshot: %s", strerror(-ret));
		return ret;
	}
	o = json_tokener_parse(json);
	if (!o) {
		errbuf_set(err, "stored snapshot %" PRId64 " is not JSON", m->id);
		ret = -EINVAL;
	} else if (snapshot_from_json(o, out, err)) {
		ret = -EINVAL;
	}
	json_object_put(o);
	free(json);
	return ret;
}

int store_set_baseline(struct store *s, int64_t id)
{
	sqlite3_stmt *st;
	int r = store_tx_begin(s);

	if (r)
		return r;
	st = store_prep(s, "SELECT count(*) FROM snapshots WHERE id = ?");
	if (!st)
		return store_tx_end(s, -EIO);
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int64(st, 0) != 1)
		r = -ENOENT;
	sqlite3_finalize(st);
	if (!r)
		r = store_exec(s,
			       "UPDATE snapshots SET kind = 'old_baseline' WHERE kind = 'baseline'",
			       "demote the old baseline");
	if (!r) {
		/* A copy, so that the snapshot keeps its own role (a boot's first, say). */
		st = store_prep(
			s,
			"INSERT INTO snapshots (kind, realtime_ns, boot_id, level, nfeatures,"
			" vendor, brand, digest, json) SELECT 'baseline', realtime_ns, boot_id,"
			" level, nfeatures, vendor, brand, digest, json FROM snapshots WHERE id = ?");
		if (st)
			sqlite3_bind_int64(st, 1, id);
		r = store_run(s, st, "set the baseline");
	}
	if (!r) {
		st = store_prep(s, "DELETE FROM status WHERE key = '" STORE_PROVISIONAL_KEY "'");
		r = store_run(s, st, "clear the provisional baseline");
	}
	return store_tx_end(s, r);
}

/* --- probe runs, timing samples -------------------------------------------------------- */

int store_add_probe_run(struct store *s, int64_t realtime_ns, const char *json)
{
	sqlite3_stmt *st;
	int r = store_tx_begin(s);

	if (r)
		return r;
	st = store_prep(s, "INSERT INTO probe_runs (realtime_ns, boot_id, json) VALUES (?, ?, ?)");
	if (st) {
		sqlite3_bind_int64(st, 1, realtime_ns);
		sqlite3_bind_text(st, 2, event_boot_id(), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, json, -1, SQLITE_STATIC);
	}
	return store_tx_end(s, store_run(s, st, "store a probe run"));
}

int store_add_timing_sample(struct store *s, int64_t realtime_ns, const char *source, double value,
			    const char *json)
{
	sqlite3_stmt *st;
	int r = store_tx_begin(s);

	if (r)
		return r;
	st = store_prep(s, "INSERT INTO timing_samples (realtime_ns, source, value, json)"
			   " VALUES (?, ?, ?, ?)");
	if (st) {
		sqlite3_bind_int64(st, 1, realtime_ns);
		sqlite3_bind_text(st, 2, source, -1, SQLITE_STATIC);
		sqlite3_bind_double(st, 3, value);
		sqlite3_bind_text(st, 4, json, -1, SQLITE_STATIC);
	}
	return store_tx_end(s, store_run(s, st, "store a timing sample"));
}
