// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Faults a guest meets, injected into the real daemon (build/cpudrift run) and its real
 * store: a full disk (a small tmpfs under the state dir), a read-only state dir, a corrupt
 * database (truncated, garbage, a valid header over damaged pages), a database of a newer
 * cpudrift, no journald socket, and SIGTERM in the middle of a store write, a capture or a
 * probe run.  What a user relies on: events still reach the other sinks, the failure is
 * said (log, `status`, textfile), nothing recorded is lost, the file stays sound, and the
 * daemon never exits so that systemd would restart it into the same failure.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sqlite3.h>
#include <systemd/sd-journal.h>

#include "daemon/daemon.h"
#include "sinks/store.h"
#include "testutil.h"

TestSuite(robust_store);

static char dir[256];
static pid_t daemon_pid, journald_pid;

static const char *path(const char *rel)
{
	static char buf[8][512];
	static int k;

	k = (k + 1) % 8;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, rel);
	return buf[k];
}

static void write_file(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");

	cr_assert_not_null(f, "cannot write %s", p);
	fputs(text, f);
	fclose(f);
}

/* A state dir, a hook folder (events are spooled while it exists) and a configuration. */
static void setup_dir(void)
{
	char conf[2048];

	snprintf(dir, sizeof(dir), "/tmp/cpudrift-robust-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	chmod(dir, 0755);
	mkdir(path("state"), 0750);
	mkdir(path("hooks"), 0755);
	mkdir(path("runner"), 0755);
	snprintf(conf, sizeof(conf),
		 "state_dir = %s/state\n"
		 "hooks_dir = %s/hooks\n"
		 "hook_cursor = %s/runner/cursor\n"
		 "textfile_path = %s/cpudrift.prom\n"
		 "journal = off\n"
		 "interval = 60\n"
		 "hook_rate_limit = 0\n",
		 dir, dir, dir, dir);
	write_file(path("cpudrift.conf"), conf);
}

/* The live tests: the fault watcher needs root and BTF. */
static void setup_live(void)
{
	if (geteuid())
		cr_skip_test("needs root (the fault watcher's BPF, mounts)");
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		cr_skip_test("no BTF at /sys/kernel/btf/vmlinux");
	setup_dir();
}

static void teardown(void)
{
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGKILL);
		waitpid(daemon_pid, NULL, 0);
		daemon_pid = 0;
	}
	if (journald_pid > 0) {
		kill(journald_pid, SIGKILL);
		waitpid(journald_pid, NULL, 0);
		journald_pid = 0;
	}
	if (!dir[0])
		return;
	/* A tmpfs a test mounted lives in its own mount namespace, gone with the test. */
	umount2(path("state"), MNT_DETACH);
	tu_rmtree(dir);
	dir[0] = 0;
}

/* Start the daemon in a process group of its own; stderr goes to DIR/daemon.log. */
static pid_t start_daemon(void)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (!pid) {
		int fd = open(path("daemon.log"), O_WRONLY | O_CREAT | O_APPEND, 0644);

		setpgid(0, 0);
		dup2(fd, 2);
		dup2(fd, 1);
		execl(tu_build("cpudrift"), "cpudrift", "-v", "run", "--config",
		      path("cpudrift.conf"), (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	daemon_pid = pid;
	return pid;
}

/* SIGTERM (to the whole group when @group), then its exit status, or -1 when it did not exit. */
static int stop_daemon(pid_t pid, bool group)
{
	int status;

	kill(group ? -pid : pid, SIGTERM);
	waitpid(pid, &status, 0);
	daemon_pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool running(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) == 0;
}

static void sigill_child(const char *mode, const char *arg)
{
	pid_t pid = fork();

	if (!pid) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		execl(tu_build("tests/helpers/sigill_child"), "sigill_child", mode, arg,
		      (char *)NULL);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
}

static char *cli(const char *args)
{
	char cmd[1600];

	snprintf(cmd, sizeof(cmd), "%s %s --config %s 2>&1", tu_build("cpudrift"), args,
		 path("cpudrift.conf"));
	return tu_run(cmd, NULL);
}

/* Poll `cpudrift ARGS` until its output holds @needle, for up to @ms. */
static bool cli_wait(const char *args, const char *needle, int ms)
{
	for (int t = 0; t < ms; t += 200) {
		char *out = cli(args);
		bool ok = strstr(out, needle) != NULL;

		free(out);
		if (ok)
			return true;
		usleep(200000);
	}
	return false;
}

static int count_lines(const char *text, const char *a, const char *b)
{
	int n = 0;

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *end = strchr(l, '\n');
		size_t len = end ? (size_t)(end - l) : strlen(l);
		char line[2048];

		snprintf(line, sizeof(line), "%.*s", (int)(len < 2047 ? len : 2047), l);
		n += strstr(line, a) && strstr(line, b);
	}
	return n;
}

/* One integer from the database at @db, -1 on error. */
static int64_t db_i64(const char *db, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

static bool integrity_ok(const char *db)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	bool ok = false;

	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return false;
	if (sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		ok = !strcmp((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	sqlite3_close(h);
	return ok;
}

/* Fill the file system of @p: a file grown until the disk refuses more. */
static void fill(const char *p)
{
	static char block[65536];
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	cr_assert_geq(fd, 0);
	memset(block, 0x5a, sizeof(block));
	while (write(fd, block, sizeof(block)) > 0)
		;
	while (write(fd, block, 512) > 0)
		;
	close(fd);
}

/* How many journal entries (of our private journald) name process @comm. */
static int journal_count(const char *comm)
{
	sd_journal *j;
	char match[128];
	int n = 0;

	if (sd_journal_open_directory(&j, "/run/log/journal", 0) < 0)
		return 0;
	snprintf(match, sizeof(match), "CPUDRIFT_COMM=%s", comm);
	sd_journal_add_match(j, match, 0);
	SD_JOURNAL_FOREACH(j)
	n++;
	sd_journal_close(j);
	return n;
}

static void config_add(const char *line)
{
	FILE *f = fopen(path("cpudrift.conf"), "a");

	cr_assert_not_null(f);
	fputs(line, f);
	fclose(f);
}

/*
 * A full disk: events still reach the journal and the textfile (in another folder); the
 * store says it is full (log, status, textfile) and keeps what it could not write in memory;
 * when space returns it writes it, and the next fault, and the file is sound.
 */
Test(robust_store, full_disk, .init = setup_live, .fini = teardown, .timeout = 240)
{
	char name[32], *before, *after, *out, *save = NULL, *prom;
	int fd[2], full_at = -1;
	pid_t pid;

	cr_assert_eq(pipe(fd), 0);
	if (tu_private_journald(fd[1], &journald_pid)) {
		char msg[300] = "";

		close(fd[1]);
		msg[read(fd[0], msg, sizeof(msg) - 1) > 0 ? strlen(msg) : 0] = 0;
		cr_skip_test("no private journald: %s", msg);
	}
	cr_assert_eq(mount("tmpfs", path("state"), "tmpfs", 0, "size=4m,mode=0750"), 0,
		     "mount a small tmpfs: %s", strerror(errno));
	config_add("journal = on\n");
	pid = start_daemon();
	cr_assert(tu_wait_for(path("cpudrift.prom"), "cpudrift_up 1", 30000),
		  "daemon not up; log:\n%s", tu_read_file(path("daemon.log")));
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "before-%d", i);
		sigill_child("named", name);
	}
	cr_assert(cli_wait("events --json --kind fault.sigill", "before-2", 20000),
		  "the faults before are not stored");
	before = cli("events --json");

	fill(path("state/filler"));
	/* New processes, new events, until a write needs room the disk no longer has. */
	for (int i = 0; i < 150 && full_at < 0; i++) {
		snprintf(name, sizeof(name), "full-%d", i);
		sigill_child("named", name);
		usleep(100000);
		out = cli("status --json");
		if (strstr(out, "\"state\":\"full\"") || strstr(out, "\"state\": \"full\""))
			full_at = i;
		free(out);
	}
	cr_assert_geq(full_at, 0, "the store never said it is full; log:\n%s",
		      tu_read_file(path("daemon.log")));
	snprintf(name, sizeof(name), "full-%d", full_at);
	/* the other sinks: the journal and the textfile got the fault that found it full */
	for (int t = 0; t < 40 && !journal_count(name); t++)
		usleep(100000);
	cr_expect_gt(journal_count(name), 0, "the journal lacks %s while the disk is full", name);
	cr_expect(tu_wait_for(path("cpudrift.prom"), "cpudrift_store_up{state=\"full\"} 0", 5000),
		  "textfile: %s", tu_read_file(path("cpudrift.prom")));
	prom = tu_read_file(path("cpudrift.prom"));
	cr_expect(prom && !strstr(prom, "cpudrift_store_errors_total 0\n") &&
			  strstr(prom, "cpudrift_store_errors_total "),
		  "no store errors counted: %s", prom);
	free(prom);
	out = cli("status");
	cr_expect(strstr(out, "store:") && strstr(out, "full since"), "status: %s", out);
	free(out);
	out = tu_read_file(path("daemon.log"));
	cr_expect(strstr(out, "cannot be written: it is full"), "log: %s", out);
	cr_expect_eq(count_lines(out, "cannot be written", "full"), 1,
		     "the full disk is not said exactly once: %s", out);
	free(out);
	cr_expect(running(pid), "the daemon stopped on a full disk");

	/* Space returns: what waited is written, and a new fault after it. */
	unlink(path("state/filler"));
	sigill_child("named", "after-full");
	cr_expect(cli_wait("events --json --kind fault.sigill", "after-full", 30000),
		  "the store did not resume; log:\n%s", tu_read_file(path("daemon.log")));
	after = cli("events --json");
	cr_expect(strstr(after, name), "%s (written while full) was lost", name);
	for (char *l = strtok_r(before, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		cr_expect(strstr(after, l), "an event from before the disk filled is lost: %s", l);
	free(before);
	free(after);
	cr_expect(cli_wait("status --json", "\"state\":\"ok\"", 10000) ||
			  cli_wait("status --json", "\"state\": \"ok\"", 1000),
		  "status still says the store fails");
	cr_expect(tu_wait_for(path("cpudrift.prom"), "cpudrift_store_up{state=\"ok\"} 1", 5000),
		  "textfile: %s", tu_read_file(path("cpudrift.prom")));
	cr_expect_eq(stop_daemon(pid, false), 0, "not a clean stop");
	cr_expect(integrity_ok(path("state/cpudrift.db")), "integrity_check failed");
	/* Every stored event is counted once: the counters match the rows. */
	cr_expect_eq(db_i64(path("state/cpudrift.db"), "SELECT count(*) FROM events"),
		     db_i64(path("state/cpudrift.db"), "SELECT sum(count) FROM event_counters"),
		     "event counters and events disagree");
}

/*
 * A read-only state dir: a clear error, the daemon runs on without a store and says so in
 * its log, `status` and the textfile, and stops with status 0 (no restart loop).
 */
Test(robust_store, read_only_state_dir, .init = setup_dir, .fini = teardown, .timeout = 120)
{
	char *out;
	pid_t pid;
	int rc;

	/* A store from an earlier run, then the folder turns read-only. */
	pid = start_daemon();
	cr_assert(tu_wait_for(path("cpudrift.prom"), "cpudrift_up 1", 30000), "daemon not up");
	cr_assert_eq(stop_daemon(pid, false), 0);
	unlink(path("daemon.log"));
	if (!geteuid()) {
		cr_assert_eq(unshare(CLONE_NEWNS), 0);
		cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
		cr_assert_eq(mount(path("state"), path("state"), NULL, MS_BIND, NULL), 0);
		cr_assert_eq(
			mount(NULL, path("state"), NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), 0,
			"remount read-only: %s", strerror(errno));
	} else {
		chmod(path("state"), 0555);
	}
	pid = start_daemon();
	cr_assert(tu_wait_for(path("daemon.log"), "running (", 30000), "daemon not up; log:\n%s",
		  tu_read_file(path("daemon.log")));
	cr_expect(tu_wait_for(path("cpudrift.prom"), "cpudrift_store_up{state=\"read-only\"} 0",
			      5000),
		  "textfile: %s", tu_read_file(path("cpudrift.prom")));
	out = tu_read_file(path("daemon.log"));
	cr_expect(strstr(out, "cannot be written") && strstr(out, path("state")),
		  "no clear error: %s", out);
	cr_expect(strstr(out, "running without an evidence store"), "log: %s", out);
	free(out);
	out = cli("status");
	cr_expect(strstr(out, "no evidence store") && strstr(out, "read-only"), "status: %s", out);
	free(out);
	out = cli("status --json");
	cr_expect(strstr(out, "\"read-only\""), "status --json: %s", out);
	free(out);
	sleep(2);
	cr_expect(running(pid), "the daemon exited without a store");
	rc = stop_daemon(pid, false);
	cr_expect_eq(rc, 0, "exit status %d: systemd would restart it", rc);
	if (geteuid())
		chmod(path("state"), 0750);
}

/* A store made by a real run of the daemon, then stopped; the baseline's realtime_ns. */
static int64_t make_store(void)
{
	pid_t pid = start_daemon();

	cr_assert(tu_wait_for(path("cpudrift.prom"), "cpudrift_up 1", 30000),
		  "daemon not up; log:\n%s", tu_read_file(path("daemon.log")));
	cr_assert_eq(stop_daemon(pid, false), 0);
	unlink(path("daemon.log"));
	return db_i64(path("state/cpudrift.db"),
		      "SELECT realtime_ns FROM snapshots WHERE kind = 'baseline'");
}

enum damage { TRUNCATED, GARBAGE, BAD_PAGES };

static void damage(enum damage how)
{
	const char *db = path("state/cpudrift.db");
	struct stat st;
	char *junk;
	int fd;

	cr_assert_eq(stat(db, &st), 0);
	fd = open(db, O_WRONLY);
	cr_assert_geq(fd, 0);
	junk = malloc(st.st_size);
	for (off_t i = 0; i < st.st_size; i++)
		junk[i] = (char)(rand() & 0xff);
	switch (how) {
	case TRUNCATED:
		/* a host crash lost the file's tail */
		cr_assert_eq(ftruncate(fd, st.st_size / 2), 0);
		break;
	case GARBAGE:
		cr_assert_eq(pwrite(fd, junk, st.st_size, 0), st.st_size);
		break;
	case BAD_PAGES:
		/* the 100-byte header stays valid; every page after the first is garbage */
		cr_assert_eq(pwrite(fd, junk, st.st_size - 4096, 4096), st.st_size - 4096);
		break;
	}
	close(fd);
	free(junk);
}

static void corrupt_case(enum damage how, const char *what)
{
	char *out;
	glob_t g;
	pid_t pid;
	int64_t base;
	bool kept;

	setup_dir();
	base = make_store();
	cr_assert_gt(base, 0, "%s: no baseline in the first store", what);
	damage(how);
	pid = start_daemon();
	cr_assert(tu_wait_for(path("daemon.log"), "running (", 30000), "%s: not up; log:\n%s", what,
		  tu_read_file(path("daemon.log")));
	cr_expect_eq(stop_daemon(pid, false), 0, "%s: not a clean stop", what);
	out = tu_read_file(path("daemon.log"));
	cr_expect(strstr(out, "is corrupt") && strstr(out, "moved aside"), "%s: log: %s", what,
		  out);
	free(out);
	cr_assert_eq(glob(path("state/cpudrift.db.corrupt-*"), 0, NULL, &g), 0,
		     "%s: nothing moved aside", what);
	cr_expect(strstr(g.gl_pathv[0], "cpudrift.db.corrupt-20"), "%s: %s", what, g.gl_pathv[0]);
	globfree(&g);
	cr_expect(integrity_ok(path("state/cpudrift.db")), "%s: the new store is not sound", what);
	out = cli("events --json --kind store.recovered");
	cr_expect(strstr(out, "store.recovered"), "%s: no store.recovered event: %s", what, out);
	kept = strstr(out, "\"baseline\":\"recovered\"") != NULL;
	free(out);
	out = cli("status --json");
	if (kept) {
		cr_expect_eq(db_i64(path("state/cpudrift.db"),
				    "SELECT realtime_ns FROM snapshots WHERE kind = 'baseline'"),
			     base, "%s: a different baseline came back", what);
		cr_expect_null(strstr(out, "baseline_provisional"), "%s: %s", what, out);
	} else {
		cr_expect(how != TRUNCATED || strstr(out, "baseline_provisional"), "%s", out);
		cr_expect(strstr(out, "\"baseline_provisional\""),
			  "%s: the stand-in baseline is not flagged: %s", what, out);
		free(out);
		out = cli("status");
		cr_expect(strstr(out, "PROVISIONAL"), "%s: status: %s", what, out);
		free(out);
		/* A person accepts it: no longer provisional. */
		out = cli("baseline accept");
		free(out);
		out = cli("status --json");
		cr_expect_null(strstr(out, "baseline_provisional"), "%s: still provisional: %s",
			       what, out);
	}
	free(out);
	cr_log_info("%s: baseline %s", what, kept ? "recovered" : "provisional");
	teardown();
}

/*
 * A corrupt database at start (truncated, garbage, a valid header over damaged pages): moved
 * aside as cpudrift.db.corrupt-TIMESTAMP, a new store, store.recovered, and the baseline read
 * back when it can be, else a provisional one flagged until a person accepts one.
 */
Test(robust_store, corrupt_database, .fini = teardown, .timeout = 240)
{
	srand(17);
	corrupt_case(TRUNCATED, "truncated");
	corrupt_case(GARBAGE, "garbage");
	corrupt_case(BAD_PAGES, "damaged pages");
}

static char *read_all(const char *p, size_t *len)
{
	FILE *f = fopen(p, "r");
	char *buf;
	struct stat st;

	cr_assert_not_null(f);
	cr_assert_eq(fstat(fileno(f), &st), 0);
	buf = malloc(st.st_size + 1);
	*len = fread(buf, 1, st.st_size, f);
	fclose(f);
	return buf;
}

/*
 * A database of a newer cpudrift (after a downgrade): refused with a clear message and exit
 * status DAEMON_EXIT_STORE_NEWER, which the unit does not restart on; not one byte changed.
 */
Test(robust_store, newer_schema_refused_untouched, .init = setup_dir, .fini = teardown,
     .timeout = 120)
{
	char cmd[1200], sql[128], *out, *a, *b, *unit;
	size_t la, lb;
	struct stat s1, s2;
	sqlite3 *h;
	glob_t g;
	int rc;

	make_store();
	cr_assert_eq(sqlite3_open(path("state/cpudrift.db"), &h), SQLITE_OK);
	snprintf(sql, sizeof(sql), "UPDATE schema_version SET version = %d",
		 STORE_SCHEMA_VERSION + 1);
	cr_assert_eq(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	cr_assert_eq(stat(path("state/cpudrift.db"), &s1), 0);
	a = read_all(path("state/cpudrift.db"), &la);
	sleep(1); /* a rewrite would show in the mtime */

	snprintf(cmd, sizeof(cmd), "%s run --config %s 2>&1; echo \"exit=$?\"",
		 tu_build("cpudrift"), path("cpudrift.conf"));
	out = tu_run(cmd, &rc);
	cr_expect(strstr(out, "newer than this cpudrift") && strstr(out, "left as it is"),
		  "no clear message: %s", out);
	snprintf(sql, sizeof(sql), "exit=%d", DAEMON_EXIT_STORE_NEWER);
	cr_expect(strstr(out, sql), "exit status: %s", out);
	free(out);

	cr_assert_eq(stat(path("state/cpudrift.db"), &s2), 0);
	b = read_all(path("state/cpudrift.db"), &lb);
	cr_expect(la == lb && !memcmp(a, b, la), "the newer database was changed");
	cr_expect(s1.st_mtim.tv_sec == s2.st_mtim.tv_sec &&
			  s1.st_mtim.tv_nsec == s2.st_mtim.tv_nsec,
		  "its mtime changed");
	free(a);
	free(b);
	cr_expect_eq(glob(path("state/cpudrift.db.corrupt-*"), 0, NULL, &g), GLOB_NOMATCH,
		     "a newer database was taken for a corrupt one");
	globfree(&g);

	/* systemd: no restart into the same refusal */
	unit = tu_read_file(CPUDRIFT_SRCDIR "/packaging/systemd/cpudrift.service");
	cr_assert_not_null(unit);
	snprintf(sql, sizeof(sql), "\nRestartPreventExitStatus=%d\n", DAEMON_EXIT_STORE_NEWER);
	cr_expect(strstr(unit, sql), "the unit lacks%s", sql);
	free(unit);
}

/*
 * No journald socket: the store, the textfile and the hook spool get every event, and the
 * journal's failure is one warning, not one per event.
 */
Test(robust_store, no_journald_socket, .init = setup_live, .fini = teardown, .timeout = 120)
{
	char name[32], *out;
	glob_t g;
	pid_t pid;

	cr_assert_eq(unshare(CLONE_NEWNS), 0);
	cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	mkdir("/run/systemd", 0755);
	cr_assert_eq(mount("tmpfs", "/run/systemd", "tmpfs", 0, "mode=0755"), 0);
	cr_assert_neq(access("/run/systemd/journal/socket", F_OK), 0);
	config_add("journal = on\n");
	pid = start_daemon();
	cr_assert(tu_wait_for(path("cpudrift.prom"), "cpudrift_up 1", 30000), "daemon not up");
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "nojournal-%d", i);
		sigill_child("named", name);
	}
	cr_expect(cli_wait("events --json --kind fault.sigill", "nojournal-4", 20000),
		  "the store lacks the faults");
	out = cli("events --json --kind fault.sigill");
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "nojournal-%d", i);
		cr_expect(strstr(out, name), "%s is not stored", name);
	}
	free(out);
	cr_expect(tu_wait_for(path("cpudrift.prom"), "kind=\"fault.sigill\"", 5000),
		  "the textfile counts no fault");
	cr_expect_eq(glob(path("state/spool/*.json"), 0, NULL, &g), 0, "nothing spooled");
	cr_expect_geq(g.gl_pathc, 5, "%zu spooled", g.gl_pathc);
	globfree(&g);
	cr_expect_eq(stop_daemon(pid, false), 0);
	out = tu_read_file(path("daemon.log"));
	cr_expect_eq(count_lines(out, "warning", "journal"), 1,
		     "not exactly one warning about the journal:\n%s", out);
	free(out);
}

/* Every stored event's JSON reads; the counters match the rows they count. */
static void expect_consistent(const char *db)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	int64_t deltas = 0, bad = 0;

	cr_assert(integrity_ok(db), "integrity_check failed");
	cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(h, "SELECT kind, json FROM events", -1, &st, NULL),
		     SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct json_object *o =
			json_tokener_parse((const char *)sqlite3_column_text(st, 1));
		struct json_object *body, *d;

		if (!o) {
			bad++;
			continue;
		}
		if (!strcmp((const char *)sqlite3_column_text(st, 0), "fault.sigill") &&
		    json_object_object_get_ex(o, "body", &body) &&
		    json_object_object_get_ex(body, "delta", &d))
			deltas += json_object_get_int64(d);
		json_object_put(o);
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
	cr_expect_eq(bad, 0, "%lld stored events are not JSON", (long long)bad);
	cr_expect_eq(db_i64(db, "SELECT count(*) FROM events"),
		     db_i64(db, "SELECT sum(count) FROM event_counters"),
		     "event counters and events disagree");
	cr_expect_eq(db_i64(db, "SELECT count(*) FROM (SELECT kind, severity, count(*) AS n FROM"
				" events GROUP BY kind, severity EXCEPT SELECT kind, severity,"
				" count FROM event_counters)"),
		     0, "a (kind, severity) counter differs from its rows");
	cr_expect_eq(db_i64(db, "SELECT coalesce(sum(count), 0) FROM fault_counters"
				" WHERE class != 'untracked'"),
		     deltas, "fault counters and the faults stored disagree");
	cr_expect_eq(db_i64(db, "SELECT count(*) FROM events WHERE kind LIKE 'probe.%'"), 0,
		     "an interrupted probe run became evidence");
}

/*
 * SIGTERM in the middle of the start (a capture, a probe run, the first store writes) and of
 * a fault storm's store writes, sent to the daemon's whole process group as systemd's
 * KillMode=control-group does (its probe children included): every stop is clean (status 0)
 * and the store holds no partial row.
 */
Test(robust_store, sigterm_mid_write, .init = setup_live, .fini = teardown, .timeout = 400)
{
	for (int i = 0; i < 20; i++) {
		char want[24];
		pid_t pid = start_daemon(), storm = 0;
		int delay_ms = (i * 137) % 1600, rc;

		/* The store is open (its lock holds the pid): SIGTERM is the daemon's now. */
		snprintf(want, sizeof(want), "%d\n", pid);
		cr_assert(tu_wait_for(path("state/cpudrift.lock"), want, 20000),
			  "run %d: the daemon did not start", i);
		if (i % 2) {
			storm = fork();
			if (!storm) {
				int null = open("/dev/null", O_RDWR);

				dup2(null, 0);
				dup2(null, 1);
				execl(tu_build("tests/helpers/sigill_child"), "sigill_child",
				      "storm", "200000", (char *)NULL);
				_exit(127);
			}
		}
		usleep(delay_ms * 1000);
		rc = stop_daemon(pid, true);
		cr_expect_eq(rc, 0, "run %d (SIGTERM after %d ms%s): exit status %d; log:\n%s", i,
			     delay_ms, storm ? ", in a storm" : "", rc,
			     tu_read_file(path("daemon.log")));
		if (storm)
			waitpid(storm, NULL, 0);
	}
	expect_consistent(path("state/cpudrift.db"));
}
