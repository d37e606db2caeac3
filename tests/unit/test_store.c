// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The evidence store, on real SQLite files in a temporary state dir: schema and
 * migration, events and counters, retention that keeps counters and the baseline,
 * integrity after kill -9, and the second-instance refusal.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sqlite3.h>

#include "core/clock.h"
#include "core/log.h"
#include "sinks/store.h"
#include "testutil.h"

#define FIXTURE_V1 CPUDRIFT_SRCDIR "/tests/fixtures/store-v1.sql"
#define FIXTURE_V2 CPUDRIFT_SRCDIR "/tests/fixtures/store-v2.sql"

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/cpudrift-store-XXXXXX");
	cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
	tu_rmtree(dir);
}

TestSuite(store, .init = setup, .fini = teardown);

static struct store *open_store(unsigned flags)
{
	struct errbuf err = { "" };
	struct store *s;
	int r = store__new(&s, dir, flags, &err);

	cr_assert_eq(r, 0, "store__new: %d %s", r, err.msg);
	return s;
}

static struct event *mkevent(enum event_kind k, int64_t realtime_ns, const char *subject)
{
	struct event *e = event__new(k, SEV_WARNING);

	cr_assert(e);
	e->realtime_ns = realtime_ns;
	snprintf(e->subject, sizeof(e->subject), "%s", subject);
	snprintf(e->summary, sizeof(e->summary), "test event on %s", subject);
	json_object_object_add(e->body, "feature", json_object_new_string(subject));
	return e;
}

static int64_t add_event(struct store *s, enum event_kind k, int64_t t, const char *subject)
{
	struct event *e = mkevent(k, t, subject);
	int64_t id = 0;

	cr_assert_eq(store_add_event(s, e, &id), 0);
	event__free(e);
	return id;
}

static int64_t add_snap(struct store *s, enum snap_kind k, int64_t t, const char *boot,
			const char *json)
{
	struct snapmeta m = { .kind = k, .realtime_ns = t, .level = 3, .nfeatures = 100 };
	int64_t id;

	snprintf(m.boot_id, sizeof(m.boot_id), "%s", boot);
	snprintf(m.vendor, sizeof(m.vendor), "AuthenticAMD");
	cr_assert_eq(store_add_snapshot(s, &m, json, &id), 0);
	return id;
}

struct collect {
	int n;
	int64_t ids[16384];
	char subjects[8][64];
};

static int collect_cb(int64_t id, const struct event *e, void *arg)
{
	struct collect *c = arg;

	if (c->n < 8)
		snprintf(c->subjects[c->n], sizeof(c->subjects[0]), "%s", e->subject);
	if (c->n < 16384)
		c->ids[c->n] = id;
	c->n++;
	return 0;
}

static int count_events(struct store *s, int64_t since, int kind)
{
	struct event_query q = { .since_ns = since, .kind = kind };
	struct collect c = { 0 };

	cr_assert_eq(store_query_events(s, &q, collect_cb, &c), 0);
	return c.n;
}

static int64_t sql_i64(const char *sql)
{
	char path[128];
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	snprintf(path, sizeof(path), "%s/%s", dir, STORE_DB_NAME);
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s",
		     sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

Test(store, creates_current_schema_in_wal_mode)
{
	struct store *s = open_store(STORE_LOCK);
	const char *tables[] = { "snapshots",	   "probe_runs",     "events",
				 "fault_counters", "timing_samples", "event_counters",
				 "status",	   "schema_version", "incidents" };
	char sql[128];

	cr_expect_eq(store_version(s), STORE_SCHEMA_VERSION);
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM sqlite_master WHERE name = '%s'",
			 tables[i]);
		cr_expect_eq(sql_i64(sql), 1, "table %s missing", tables[i]);
	}
	store__free(s);
	/* WAL is a property of the file: a fresh connection sees it. */
	{
		char path[128];
		sqlite3 *db;
		sqlite3_stmt *st;

		snprintf(path, sizeof(path), "%s/%s", dir, STORE_DB_NAME);
		cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
		sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
		cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
		cr_expect_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
}

Test(store, migrates_a_version_1_database)
{
	char path[128], *sql = NULL, *msg = NULL;
	int64_t counts[EV__COUNT][SEV_CRITICAL + 1];
	struct snapmeta m;
	size_t len = 0;
	sqlite3 *db;
	FILE *f;
	struct store *s;

	f = fopen(FIXTURE_V1, "r");
	cr_assert(f, "missing %s", FIXTURE_V1);
	cr_assert(getdelim(&sql, &len, 0, f) > 0);
	fclose(f);
	snprintf(path, sizeof(path), "%s/%s", dir, STORE_DB_NAME);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &msg), SQLITE_OK, "%s", msg);
	sqlite3_close(db);
	free(sql);

	s = open_store(STORE_LOCK);
	cr_expect_eq(store_version(s), STORE_SCHEMA_VERSION);
	/* Old rows survive and the new counters were filled from them. */
	cr_expect_eq(count_events(s, 0, -1), 2);
	cr_assert_eq(store_event_counts(s, counts), 0);
	cr_expect_eq(counts[EV_FAULT_SIGILL][SEV_WARNING], 2);
	cr_assert_eq(store_get_snapshot(s, SEL_BASELINE, NULL, &m, NULL), 0);
	cr_expect_str_eq(m.brand, "AMD EPYC test");
	cr_expect_str_eq(m.digest, "");
	/* And the new schema is usable. */
	add_event(s, EV_FAULT_SIGILL, 1700000300000000000, "avx2");
	cr_assert_eq(store_event_counts(s, counts), 0);
	cr_expect_eq(counts[EV_FAULT_SIGILL][SEV_WARNING], 3);
	store__free(s);
}

static void load_fixture(const char *fixture)
{
	char path[128], *sql = NULL, *msg = NULL;
	size_t len = 0;
	sqlite3 *db;
	FILE *f;

	f = fopen(fixture, "r");
	cr_assert(f, "missing %s", fixture);
	cr_assert(getdelim(&sql, &len, 0, f) > 0);
	fclose(f);
	snprintf(path, sizeof(path), "%s/%s", dir, STORE_DB_NAME);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &msg), SQLITE_OK, "%s", msg);
	sqlite3_close(db);
	free(sql);
}

static struct json_object *incident_json(const char *id, const char *state, int64_t opened)
{
	char text[1024];

	snprintf(text, sizeof(text),
		 "{\"id\": \"%s\", \"boot_id\": \"b0b0b0b0\", \"state\": \"%s\","
		 " \"confidence\": \"high\", \"severity\": \"critical\","
		 " \"opened_real_ns\": %lld, \"last_real_ns\": %lld,%s"
		 " \"tally\": {\"reasons\": [{\"reason\": \"cpuid.drift\"}]}}",
		 id, state, (long long)opened, (long long)opened + 5,
		 strcmp(state, "open") ? " \"closed_real_ns\": 1," : "");
	return json_tokener_parse(text);
}

static int keep_ids(struct json_object *inc, void *arg)
{
	char *ids = arg;
	struct json_object *id;

	json_object_object_get_ex(inc, "id", &id);
	strcat(ids, json_object_get_string(id));
	strcat(ids, " ");
	return 0;
}

Test(store, migrates_a_version_2_database_and_keeps_incidents)
{
	int64_t counts[EV__COUNT][SEV_CRITICAL + 1];
	struct json_object *j, *got = NULL, *v;
	char ids[256] = "";
	struct store *s;

	load_fixture(FIXTURE_V2);
	s = open_store(STORE_LOCK);
	cr_expect_eq(store_version(s), 3);
	cr_expect_eq(count_events(s, 0, -1), 1);
	cr_assert_eq(store_event_counts(s, counts), 0);
	cr_expect_eq(counts[EV_MIGRATION_SUSPECTED][SEV_CRITICAL], 1);
	cr_expect_eq(sql_i64("SELECT count(*) FROM incidents"), 0);

	/* one row per incident, replaced as it changes */
	j = incident_json("b0b0b0b0-5000", "open", 1700000100000000000LL);
	cr_assert_eq(store_put_incident(s, j), 0);
	json_object_put(j);
	j = incident_json("b0b0b0b0-9000", "closed", 1700000200000000000LL);
	cr_assert_eq(store_put_incident(s, j), 0);
	json_object_put(j);
	cr_assert_eq(store_query_incidents(s, &(struct incident_query){ .open_only = true },
					   keep_ids, ids),
		     0);
	cr_expect_str_eq(ids, "b0b0b0b0-5000 ");
	ids[0] = 0;
	cr_assert_eq(store_query_incidents(s, NULL, keep_ids, ids), 0);
	cr_expect_str_eq(ids, "b0b0b0b0-5000 b0b0b0b0-9000 ");
	j = incident_json("b0b0b0b0-5000", "closed", 1700000100000000000LL);
	cr_assert_eq(store_put_incident(s, j), 0);
	json_object_put(j);
	cr_expect_eq(sql_i64("SELECT count(*) FROM incidents"), 2);
	cr_expect_eq(sql_i64("SELECT count(*) FROM incidents WHERE state = 'open'"), 0);
	cr_assert_eq(store_get_incident(s, "b0b0b0b0-5000", &got), 0);
	cr_assert(json_object_object_get_ex(got, "tally", &v));
	cr_expect_eq(store_get_incident(s, "nope", &j), -ENOENT);
	/* a document without its keys is refused */
	j = json_tokener_parse("{\"id\": \"x\"}");
	cr_expect_eq(store_put_incident(s, j), -EINVAL);
	json_object_put(j);
	json_object_put(got);
	/* retention never deletes incidents */
	cr_assert_geq(store_retain(s, &(struct store_limits){ .rows = 1, .days = 1 },
				   1800000000000000000LL),
		      0);
	cr_expect_eq(sql_i64("SELECT count(*) FROM incidents"), 2);
	store__free(s);
}

Test(store, refuses_a_newer_schema)
{
	struct store *s = open_store(0);
	struct errbuf err = { "" };
	char path[128];
	sqlite3 *db;

	store__free(s);
	snprintf(path, sizeof(path), "%s/%s", dir, STORE_DB_NAME);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, "UPDATE schema_version SET version = 99", 0, 0, 0),
		     SQLITE_OK);
	sqlite3_close(db);
	cr_expect_eq(store__new(&s, dir, 0, &err), -EPROTO);
	cr_expect(strstr(err.msg, "newer"), "%s", err.msg);
}

Test(store, events_round_trip_and_filter)
{
	struct store *s = open_store(STORE_LOCK);
	struct event_query q = { .kind = -1, .limit = 2 };
	struct collect c = { 0 };
	int64_t a, b;

	a = add_event(s, EV_FAULT_SIGILL, 1000, "avx2");
	b = add_event(s, EV_TIMING_STALL, 2000, "vm");
	add_event(s, EV_FAULT_SIGILL, 3000, "avx512f");
	cr_expect_lt(a, b);
	cr_expect_eq(count_events(s, 0, -1), 3);
	cr_expect_eq(count_events(s, 0, EV_FAULT_SIGILL), 2);
	cr_expect_eq(count_events(s, 2000, -1), 2);
	/* With a limit: the newest, oldest first. */
	cr_assert_eq(store_query_events(s, &q, collect_cb, &c), 0);
	cr_assert_eq(c.n, 2);
	cr_expect_str_eq(c.subjects[0], "vm");
	cr_expect_str_eq(c.subjects[1], "avx512f");
	/* --follow asks for ids after the last one it saw. */
	memset(&c, 0, sizeof(c));
	q = (struct event_query){ .kind = -1, .after_id = b };
	cr_assert_eq(store_query_events(s, &q, collect_cb, &c), 0);
	cr_expect_eq(c.n, 1);
	store__free(s);
	/* The CLI reads the same rows without the lock. */
	s = open_store(STORE_READONLY);
	cr_expect_eq(count_events(s, 0, -1), 3);
	store__free(s);
}

Test(store, readonly_without_a_database_says_so)
{
	struct errbuf err = { "" };
	struct store *s;

	cr_expect_eq(store__new(&s, dir, STORE_READONLY, &err), -ENOENT);
	cr_expect(strstr(err.msg, dir), "%s", err.msg);
}

Test(store, baseline_accept_and_boot_snapshots)
{
	struct store *s = open_store(STORE_LOCK);
	struct snapmeta m;
	char *json = NULL;
	int64_t p;

	cr_expect_eq(store_get_snapshot(s, SEL_BASELINE, NULL, &m, NULL), -ENOENT);
	add_snap(s, SNAP_BASELINE, 100, "boot-a", "{\"n\":1}");
	add_snap(s, SNAP_BOOT_FIRST, 100, "boot-a", "{\"n\":1}");
	add_snap(s, SNAP_BOOT_FIRST, 200, "boot-b", "{\"n\":2}");
	p = add_snap(s, SNAP_PERIODIC, 300, "boot-b", "{\"n\":3}");
	cr_assert_eq(store_get_snapshot(s, SEL_PREV_BOOT_FIRST, "boot-b", &m, &json), 0);
	cr_expect_str_eq(json, "{\"n\":1}");
	free(json);
	cr_assert_eq(store_get_snapshot(s, SEL_BOOT_FIRST, "boot-b", &m, NULL), 0);
	cr_expect_eq(m.realtime_ns, 200);
	cr_assert_eq(store_get_snapshot(s, SEL_LATEST, NULL, &m, NULL), 0);
	cr_expect_eq(m.id, p);
	cr_assert_eq(store_set_baseline(s, p), 0);
	cr_assert_eq(store_get_snapshot(s, SEL_BASELINE, NULL, &m, &json), 0);
	cr_expect_str_eq(json, "{\"n\":3}");
	cr_expect_eq(m.kind, SNAP_BASELINE);
	free(json);
	cr_expect_eq(sql_i64("SELECT count(*) FROM snapshots WHERE kind = 'baseline'"), 1);
	cr_expect_eq(store_set_baseline(s, 9999), -ENOENT);
	store__free(s);
}

Test(store, status_values)
{
	struct store *s = open_store(STORE_LOCK);
	char buf[64];

	cr_expect_eq(store_get_status(s, "mode", buf, sizeof(buf)), -ENOENT);
	cr_assert_eq(store_set_status(s, "mode", "degraded"), 0);
	cr_assert_eq(store_set_status(s, "mode", "full"), 0);
	cr_assert_eq(store_get_status(s, "mode", buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf, "full");
	store__free(s);
}

static int sum_faults(const char *class_, const char *feature, int64_t n, void *arg)
{
	(void)class_;
	(void)feature;
	*(int64_t *)arg += n;
	return 0;
}

Test(store, retention_keeps_counters_and_baseline)
{
	struct store *s = open_store(STORE_LOCK);
	struct store_limits l = { .rows = 10 };
	int64_t counts[EV__COUNT][SEV_CRITICAL + 1], faults = 0, now = 1000000000000000000;
	struct snapmeta m;
	char boot[16];

	add_snap(s, SNAP_BASELINE, 1, "boot-0", "{}");
	for (int i = 0; i < 4; i++) {
		snprintf(boot, sizeof(boot), "boot-%d", i);
		add_snap(s, SNAP_BOOT_FIRST, 2 + i, boot, "{}");
	}
	cr_assert_eq(store_begin(s), 0);
	for (int i = 0; i < 50; i++)
		add_snap(s, SNAP_PERIODIC, 10 + i, "boot-3", "{}");
	for (int i = 0; i < 200; i++) {
		add_event(s, EV_FAULT_SIGILL, 100 + i, "avx2");
		cr_assert_eq(store_count_fault(s, "migration_mismatch", "avx2", 1), 0);
		cr_assert_eq(store_add_timing_sample(s, 100 + i, "stall", i, NULL), 0);
	}
	cr_assert_eq(store_commit(s), 0);

	cr_assert_geq(store_retain(s, &l, now), 200);
	cr_expect_eq(count_events(s, 0, -1), 10);
	cr_expect_eq(sql_i64("SELECT count(*) FROM timing_samples"), 10);
	/* Counters are untouched. */
	cr_assert_eq(store_event_counts(s, counts), 0);
	cr_expect_eq(counts[EV_FAULT_SIGILL][SEV_WARNING], 200);
	cr_assert_eq(store_fault_counters(s, sum_faults, &faults), 0);
	cr_expect_eq(faults, 200);
	/* The baseline and the first snapshots of the two newest boots stay. */
	cr_expect_eq(store_get_snapshot(s, SEL_BASELINE, NULL, &m, NULL), 0);
	cr_expect_eq(store_get_snapshot(s, SEL_BOOT_FIRST, "boot-3", &m, NULL), 0);
	cr_expect_eq(store_get_snapshot(s, SEL_PREV_BOOT_FIRST, "boot-3", &m, NULL), 0);
	cr_expect_str_eq(m.boot_id, "boot-2");

	/* Age: everything is far older than a day before @now, except what must stay. */
	l = (struct store_limits){ .days = 1 };
	cr_assert_geq(store_retain(s, &l, now), 10);
	cr_expect_eq(count_events(s, 0, -1), 0);
	cr_expect_eq(store_get_snapshot(s, SEL_BASELINE, NULL, &m, NULL), 0);
	cr_expect_eq(sql_i64("SELECT count(*) FROM snapshots"), 3);
	store__free(s);
}

Test(store, retention_by_bytes)
{
	struct store *s = open_store(STORE_LOCK);
	struct store_limits l = { .bytes = 1 << 20 };
	char *big = malloc(20000);
	struct snapmeta m;

	memset(big, 'x', 19999);
	big[19999] = 0;
	add_snap(s, SNAP_BASELINE, 1, "boot-0", big);
	cr_assert_eq(store_begin(s), 0);
	for (int i = 0; i < 200; i++)
		cr_assert_eq(store_add_probe_run(s, 10 + i, big), 0);
	cr_assert_eq(store_commit(s), 0);
	cr_assert_gt(store_size(s), 3 << 20);
	cr_assert_gt(store_retain(s, &l, 1000), 0);
	cr_expect_leq(store_size(s), 1 << 20);
	cr_expect_gt(sql_i64("SELECT count(*) FROM probe_runs"), 0, "retention deleted too much");
	cr_expect_eq(store_get_snapshot(s, SEL_BASELINE, NULL, &m, NULL), 0);
	store__free(s);
	free(big);
}

/*
 * Retention by age against a clock set by hand: CLOCK_REALTIME stepped back an hour, or
 * forward ten years, after this boot's first snapshot.  Neither deletes a recent row; a
 * row of an earlier boot that is really older than the limit still goes.
 */
Test(store, retention_survives_clock_steps)
{
	struct store *s = open_store(STORE_LOCK);
	struct store_limits l = { .days = 1 };
	const int64_t hour = 3600 * NSEC_PER_SEC, day = 24 * hour;
	int64_t real = clock_real_ns(), mono = clock_mono_ns(), id;
	struct event *e;
	char json[160];

	snprintf(json, sizeof(json),
		 "{\"captured\": {\"realtime_ns\": %lld, \"monotonic_ns\": %lld}}", (long long)real,
		 (long long)mono);
	add_snap(s, SNAP_BOOT_FIRST, real, event_boot_id(), json);
	/* recent rows of this boot, and one row of an earlier boot three days old */
	for (int i = 0; i < 3; i++) {
		e = mkevent(EV_FAULT_SIGILL, real + i * NSEC_PER_SEC, "avx2");
		e->monotonic_ns = mono + i * NSEC_PER_SEC;
		snprintf(e->boot_id, sizeof(e->boot_id), "%s", event_boot_id());
		cr_assert_eq(store_add_event(s, e, &id), 0);
		event__free(e);
		cr_assert_eq(store_add_timing_sample(s, real + i * NSEC_PER_SEC, "stall", i, NULL),
			     0);
		cr_assert_eq(store_add_probe_run(s, real + i * NSEC_PER_SEC, "{}"), 0);
	}
	e = mkevent(EV_FAULT_SIGILL, real - 3 * day, "old");
	snprintf(e->boot_id, sizeof(e->boot_id), "an-earlier-boot");
	cr_assert_eq(store_add_event(s, e, &id), 0);
	event__free(e);

	/* forward ten years: "now" stays where the monotonic clock says it is */
	cr_assert_geq(store_retain(s, &l, real + 3650 * day), 0);
	cr_expect_eq(count_events(s, 0, -1), 3, "a clock set forward aged recent events");
	cr_expect_eq(sql_i64("SELECT count(*) FROM events WHERE summary LIKE '%old'"), 0,
		     "the three-day-old event of an earlier boot was kept");
	cr_expect_eq(sql_i64("SELECT count(*) FROM timing_samples"), 3);
	cr_expect_eq(sql_i64("SELECT count(*) FROM probe_runs"), 3);
	cr_expect_eq(sql_i64("SELECT count(*) FROM snapshots"), 1);
	/* stepped back an hour: the cutoff moves back too */
	cr_assert_geq(store_retain(s, &l, real - hour), 0);
	cr_expect_eq(count_events(s, 0, -1), 3);
	cr_expect_eq(sql_i64("SELECT count(*) FROM timing_samples"), 3);
	cr_expect_eq(sql_i64("SELECT count(*) FROM probe_runs"), 3);
	store__free(s);
}

Test(store, second_instance_refuses)
{
	struct store *a = open_store(STORE_LOCK), *b = NULL, *ro;
	struct errbuf err = { "" };
	char pidstr[32];
	int pid = 0;

	cr_expect_eq(store__new(&b, dir, STORE_LOCK, &err), -EBUSY);
	cr_expect_null(b);
	snprintf(pidstr, sizeof(pidstr), "pid %d", (int)getpid());
	cr_expect(strstr(err.msg, "another cpudrift") && strstr(err.msg, pidstr) &&
			  strstr(err.msg, dir),
		  "unclear message: %s", err.msg);
	cr_expect_eq(store_lock_held(dir, &pid), 1);
	cr_expect_eq(pid, getpid());
	/* Readers are never refused. */
	ro = open_store(STORE_READONLY);
	store__free(ro);
	store__free(a);
	cr_expect_eq(store_lock_held(dir, NULL), 0);
	b = open_store(STORE_LOCK);
	store__free(b);
}

/* A writer killed with SIGKILL mid-stream loses nothing it had committed. */
Test(store, kill_9_keeps_committed_events)
{
	int fds[2], status, n = 0;
	int64_t ids[16384];
	struct errbuf err;
	struct store *s;
	pid_t pid;

	s = open_store(STORE_LOCK);
	store__free(s);
	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		s = NULL;
		if (store__new(&s, dir, STORE_LOCK, &err))
			_exit(3);
		for (int i = 0;; i++) {
			struct event *e = event__new(EV_FAULT_SIGILL, SEV_WARNING);
			int64_t id;

			snprintf(e->subject, sizeof(e->subject), "storm-%d", i);
			if (store_add_event(s, e, &id) || store_count_fault(s, "storm", "avx2", 1))
				_exit(4);
			event__free(e);
			/* Reported only once committed: the parent checks each of these. */
			if (write(fds[1], &id, sizeof(id)) != sizeof(id))
				_exit(5);
		}
	}
	close(fds[1]);
	while (n < 300 && read(fds[0], &ids[n], sizeof(ids[0])) == sizeof(ids[0]))
		n++;
	kill(pid, SIGKILL);
	while (n < 16384 && read(fds[0], &ids[n], sizeof(ids[0])) == sizeof(ids[0]))
		n++;
	close(fds[0]);
	waitpid(pid, &status, 0);
	cr_assert(WIFSIGNALED(status), "writer exited early with %d", WEXITSTATUS(status));
	cr_assert_geq(n, 300);

	s = open_store(STORE_LOCK); /* the dead writer's lock is gone with it */
	memset(&err, 0, sizeof(err));
	cr_expect_eq(store_check(s, &err), 0, "%s", err.msg);
	{
		struct collect *c = calloc(1, sizeof(*c));
		struct event_query q = { .kind = -1 };
		int found = 0;

		cr_assert_eq(store_query_events(s, &q, collect_cb, c), 0);
		for (int i = 0; i < n; i++)
			for (int j = 0; j < c->n && j < 16384; j++)
				if (c->ids[j] == ids[i]) {
					found++;
					break;
				}
		cr_expect_eq(found, n, "%d of %d committed events lost", n - found, n);
		free(c);
	}
	store__free(s);
}
