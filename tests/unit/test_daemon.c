// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The real daemon (build/cpudrift run) in a temporary state dir: a real SIGILL from a real
 * child becomes a stored event, a spooled event whose hook `cpudrift hooks run` runs (also
 * after the daemon stopped) and a textfile change; a kill -9 during a fault storm loses
 * nothing the CLI had shown; bad configurations and a second daemon are refused with a
 * clear message; a reload applies every key or refuses the file, and `cpudrift reload`
 * says which; `baseline accept` reaches the running daemon; the daemon keeps every source
 * as an unprivileged user with ambient capabilities, and group members read its store.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "daemon/daemon.h"
#include "sinks/spool.h"
#include "testutil.h"

static char dir[256];
/* The daemon a test started last: teardown stops it even when an assertion failed. */
static pid_t daemon_pid;

static const char *build(const char *rel)
{
	static char buf[8][512];
	static int k;
	const char *b = getenv("CPUDRIFT_BUILD");

	k = (k + 1) % 8;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", b ? b : CPUDRIFT_SRCDIR "/build", rel);
	return buf[k];
}

static const char *path(const char *rel)
{
	static char buf[8][512];
	static int k;

	k = (k + 1) % 8;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, rel);
	return buf[k];
}

static void write_file(const char *p, const char *text, mode_t mode)
{
	FILE *f = fopen(p, "w");

	cr_assert_not_null(f, "cannot write %s", p);
	fputs(text, f);
	fclose(f);
	chmod(p, mode);
}

/* A state dir, a hook and a configuration: what every daemon test needs, root or not. */
static void setup_dir(void)
{
	char conf[2048];

	snprintf(dir, sizeof(dir), "/tmp/cpudrift-daemon-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	chmod(dir, 0755);
	mkdir(path("hooks"), 0755);
	mkdir(path("runner"), 0755);
	mkdir(path("out"), 0777);
	chmod(path("out"), 0777);
	/* The hook keeps what it was given: stdin and the environment. */
	snprintf(conf, sizeof(conf),
		 "#!/bin/sh\ncat > %s/event.$$.json\nenv | grep '^CPUDRIFT_' > %s/env.$$\n",
		 path("out"), path("out"));
	write_file(path("hooks/10-record"), conf, 0755);
	snprintf(conf, sizeof(conf),
		 "# test configuration\n"
		 "state_dir = %s/state\n"
		 "hooks_dir = %s/hooks\n"
		 "hook_cursor = %s/runner/cursor\n"
		 "textfile_path = %s/cpudrift.prom\n"
		 "journal = off\n"
		 "interval = 60\n"
		 /* The watcher sees every SIGILL of the machine: ours must not be rate-limited
		  * away by other people's faults. */
		 "hook_rate_limit = 0\n",
		 dir, dir, dir, dir);
	write_file(path("cpudrift.conf"), conf, 0644);
}

/* Tests of the fault watcher's path need BPF. */
static void setup(void)
{
	if (geteuid())
		cr_skip_test("the daemon's live test needs root (BPF)");
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
	if (!dir[0])
		return;
	tu_rmtree(dir);
	dir[0] = 0;
}

/* Start the daemon; stderr goes to DIR/daemon.log. */
static pid_t start_daemon(const char *conf)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (!pid) {
		int fd = open(path("daemon.log"), O_WRONLY | O_CREAT | O_APPEND, 0644);

		dup2(fd, 2);
		dup2(fd, 1);
		execl(build("cpudrift"), "cpudrift", "-v", "run", "--config", conf, (char *)NULL);
		_exit(127);
	}
	daemon_pid = pid;
	return pid;
}

static bool wait_for_file(const char *p, const char *needle, int ms)
{
	for (int t = 0; t < ms; t += 50) {
		char *s = tu_read_file(p);
		bool ok = s && (!needle || strstr(s, needle));

		free(s);
		if (ok)
			return true;
		usleep(50000);
	}
	return false;
}

static char *run_capture(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	char *buf = calloc(1, 1 << 20);
	size_t n;

	cr_assert_not_null(p);
	n = fread(buf, 1, (1 << 20) - 1, p);
	buf[n] = 0;
	pclose(p);
	return buf;
}

static void stop_daemon(pid_t pid)
{
	int status;

	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	daemon_pid = 0;
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "the daemon did not stop cleanly on SIGTERM (status 0x%x)", status);
}

/* Run the fault helper once: a real child that executes ud2 and dies of SIGILL. */
static void sigill_child(const char *mode, const char *arg)
{
	pid_t pid = fork();
	int status;

	if (!pid) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		execl(build("tests/helpers/sigill_child"), "sigill_child", mode, arg, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &status, 0);
}

Test(daemon, sigill_reaches_store_hook_and_textfile, .init = setup, .fini = teardown, .timeout = 60)
{
	pid_t pid = start_daemon(path("cpudrift.conf"));
	char cmd[1200], *events, *hook_json, *prom;

	cr_assert(wait_for_file(path("cpudrift.prom"), "cpudrift_up 1", 20000),
		  "no textfile after 20 s; daemon log:\n%s", tu_read_file(path("daemon.log")));
	prom = tu_read_file(path("cpudrift.prom"));
	cr_expect_null(strstr(prom, "class=\"not-feature-related\""), "fault counted too early");
	free(prom);

	sigill_child("ud2", NULL);

	/* 1. the store: the CLI reads it back without the daemon's help */
	snprintf(cmd, sizeof(cmd), "%s events --json --kind fault.sigill --state-dir %s",
		 build("cpudrift"), path("state"));
	events = NULL;
	for (int t = 0; t < 100; t++) {
		free(events);
		events = run_capture(cmd);
		if (strstr(events, "sigill_child"))
			break;
		usleep(100000);
	}
	cr_expect(strstr(events, "\"class\":\"not-feature-related\"") ||
			  strstr(events, "\"class\": \"not-feature-related\""),
		  "no classified fault in the store: %s", events);
	cr_expect(strstr(events, "\"mnemonic\""), "no mnemonic: %s", events);
	free(events);

	/* 2. spooled for the hooks; they run later, here after the daemon stopped */
	cr_expect(wait_for_file(path("cpudrift.prom"), "class=\"not-feature-related\"", 5000),
		  "textfile does not count the fault: %s", tu_read_file(path("cpudrift.prom")));
	stop_daemon(pid);
	/* A clean stop says so to the scraper. */
	cr_expect(wait_for_file(path("cpudrift.prom"), "cpudrift_up 0", 1000),
		  "textfile still says up after SIGTERM");
	snprintf(cmd, sizeof(cmd), "%s hooks run --config %s 2>&1; echo \"exit=$?\"",
		 build("cpudrift"), path("cpudrift.conf"));
	events = run_capture(cmd);
	cr_expect(strstr(events, "exit=0"), "cpudrift hooks run: %s", events);
	free(events);
	snprintf(cmd, sizeof(cmd), "cat %s/event.*.json 2>/dev/null", path("out"));
	hook_json = run_capture(cmd);
	cr_expect(strstr(hook_json, "fault.sigill") && strstr(hook_json, "sigill_child"),
		  "the hook never saw the fault: %s", hook_json);
	free(hook_json);
	snprintf(cmd, sizeof(cmd), "cat %s/env.* 2>/dev/null", path("out"));
	events = run_capture(cmd);
	cr_expect(strstr(events, "CPUDRIFT_KIND=fault.sigill"), "hook environment: %s", events);
	free(events);

	/* 3. the textfile: node_exporter's user reads it; it says when it was written */
	{
		struct stat st;

		prom = tu_read_file(path("cpudrift.prom"));
		cr_expect(prom && strstr(prom, "\ncpudrift_last_update_timestamp_seconds 1"), "%s",
			  prom);
		free(prom);
		cr_assert_eq(stat(path("cpudrift.prom"), &st), 0);
		cr_expect_eq(st.st_mode & 07777, 0644, "textfile mode %04o", st.st_mode & 07777);
	}

	/* 4. restarted, the daemon deletes what the runner is done with (entries of faults
	 *    that came since, from anyone on the machine, may be there) */
	unlink(path("daemon.log"));
	pid = start_daemon(path("cpudrift.conf"));
	cr_assert(wait_for_file(path("daemon.log"), "running (", 20000), "no restart");
	{
		struct spool_cursor c;
		uint64_t *seqs;
		int fd = open(path("state/spool"), O_RDONLY | O_DIRECTORY), n;

		cr_assert_eq(spool_cursor_read(path("runner/cursor"), &c), 0, "no cursor");
		cr_expect_gt(c.seq, 0, "the runner did nothing");
		cr_assert(fd >= 0);
		n = spool_list(fd, 0, &seqs);
		close(fd);
		cr_assert_geq(n, 0);
		for (int i = 0; i < n; i++)
			cr_expect_gt(
				seqs[i], c.seq,
				"spool entry %llu, done by the runner (cursor %llu), is still there",
				(unsigned long long)seqs[i], (unsigned long long)c.seq);
		free(seqs);
	}
	stop_daemon(pid);
}

Test(daemon, second_daemon_refused, .init = setup_dir, .fini = teardown, .timeout = 60)
{
	pid_t pid = start_daemon(path("cpudrift.conf"));
	char cmd[600], *out;

	cr_assert(wait_for_file(path("cpudrift.prom"), "cpudrift_up 1", 20000), "daemon not up");
	snprintf(cmd, sizeof(cmd), "%s run --config %s 2>&1; echo \"exit=$?\"", build("cpudrift"),
		 path("cpudrift.conf"));
	out = run_capture(cmd);
	cr_expect(strstr(out, "another cpudrift"), "no clear message: %s", out);
	cr_expect(strstr(out, "exit=2"), "second daemon exit status: %s", out);
	free(out);
	stop_daemon(pid);
}

static void expect_config_error(const char *text, const char *needle)
{
	char cmd[600], *out;

	write_file(path("bad.conf"), text, 0644);
	snprintf(cmd, sizeof(cmd), "%s run --config %s --state-dir %s 2>&1; echo \"exit=$?\"",
		 build("cpudrift"), path("bad.conf"), path("state"));
	out = run_capture(cmd);
	cr_expect(strstr(out, needle), "expected '%s' in: %s", needle, out);
	cr_expect(strstr(out, "exit=2"), "exit status: %s", out);
	free(out);
}

Test(daemon, bad_configuration_is_fatal_with_file_line_key, .init = setup_dir, .fini = teardown)
{
	expect_config_error("interval = 60\nbogus_key = 1\n",
			    "bad.conf:2: unknown key 'bogus_key'");
	expect_config_error("# comment\n\ninterval = soon\n",
			    "bad.conf:3: bad value for 'interval'");
	expect_config_error("interval\n", "bad.conf:1");
	/* An explicit --config that does not exist is an error, not the defaults. */
	{
		char cmd[600], *out;

		snprintf(cmd, sizeof(cmd), "%s run --config %s 2>&1; echo \"exit=$?\"",
			 build("cpudrift"), path("missing.conf"));
		out = run_capture(cmd);
		cr_expect(strstr(out, "missing.conf"), "no file name: %s", out);
		cr_expect(strstr(out, "exit=2"), "exit status: %s", out);
		free(out);
	}
}

static int integrity_ok(const char *db)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	int ok = 0;

	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		ok = !strcmp((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	sqlite3_close(h);
	return ok;
}

Test(daemon, kill_9_during_storm_loses_nothing_shown, .init = setup, .fini = teardown,
     .timeout = 120)
{
	pid_t pid = start_daemon(path("cpudrift.conf")), storm;
	char cmd[600], *before, *after, *line, *save = NULL;
	int status, shown = 0;

	cr_assert(wait_for_file(path("cpudrift.prom"), "cpudrift_up 1", 20000), "daemon not up");
	/* Distinct processes give distinct events; one storm child adds 100,000 faults. */
	for (int i = 0; i < 20; i++)
		sigill_child("ud2", NULL);
	storm = fork();
	if (!storm) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		execl(build("tests/helpers/sigill_child"), "sigill_child", "storm", "100000",
		      (char *)NULL);
		_exit(127);
	}
	usleep(300000);
	snprintf(cmd, sizeof(cmd), "%s events --json --state-dir %s", build("cpudrift"),
		 path("state"));
	before = run_capture(cmd);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	waitpid(storm, &status, 0);
	cr_assert(integrity_ok(path("state/cpudrift.db")), "integrity check failed after kill -9");

	/* Restart on the same state dir: the lock died with the process. */
	unlink(path("daemon.log"));
	pid = start_daemon(path("cpudrift.conf"));
	cr_assert(wait_for_file(path("daemon.log"), "running (", 20000), "no restart");
	after = run_capture(cmd);
	for (line = strtok_r(before, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		shown++;
		cr_expect(strstr(after, line), "event lost after kill -9: %s", line);
	}
	cr_expect_gt(shown, 0, "the CLI showed no event before the kill");
	free(before);
	free(after);
	stop_daemon(pid);
}

/* The events of one JSON document per line (`events --json`, `replay --json`), as text. */
static int split_events(char *out, char **v, int max)
{
	char *save = NULL;
	int n = 0;

	for (char *l = strtok_r(out, "\n", &save); l && n < max; l = strtok_r(NULL, "\n", &save))
		if (*l == '{')
			v[n++] = l;
	return n;
}

/*
 * The wiring, not the analysis against itself: the real daemon with a recording in place
 * of its live sources stores exactly the events `cpudrift replay` prints for it.
 */
Test(daemon, run_replay_stores_what_replay_prints, .init = setup_dir, .fini = teardown,
     .timeout = 60)
{
	static const char *const recs[] = { "feature_drift.jsonl", "paused_migration.jsonl",
					    "noise.jsonl", "stall_vm.jsonl" };

	for (size_t r = 0; r < sizeof(recs) / sizeof(recs[0]); r++) {
		char cmd[4096], rec[512], state[300], *stored, *printed, *a[400], *b[400];
		int na, nb;

		snprintf(rec, sizeof(rec), "%s/tests/fixtures/recordings/%s", CPUDRIFT_SRCDIR,
			 recs[r]);
		snprintf(state, sizeof(state), "%s/state-%zu", dir, r);
		snprintf(cmd, sizeof(cmd),
			 "%s run --config %s --state-dir %s --replay %s 2>&1 && "
			 "%s events --json --state-dir %s",
			 build("cpudrift"), path("cpudrift.conf"), state, rec, build("cpudrift"),
			 state);
		stored = run_capture(cmd);
		snprintf(cmd, sizeof(cmd), "%s replay --json %s", build("cpudrift"), rec);
		printed = run_capture(cmd);
		na = split_events(stored, a, 400);
		nb = split_events(printed, b, 400);
		cr_expect_gt(nb, 0, "%s: replay printed nothing", recs[r]);
		cr_expect_eq(na, nb, "%s: the daemon stored %d events, replay printed %d", recs[r],
			     na, nb);
		for (int i = 0; i < na && i < nb; i++) {
			struct json_object *x = json_tokener_parse(a[i]),
					   *y = json_tokener_parse(b[i]);

			/* The store numbers its rows; everything else must be the same. */
			json_object_object_del(x, "id");
			cr_expect(json_object_equal(x, y), "%s: event %d differs:\n%s\n%s", recs[r],
				  i, a[i], b[i]);
			json_object_put(x);
			json_object_put(y);
		}
		free(stored);
		free(printed);
	}
}

/*
 * One incident, issued twice (a host-clock step, then CLOCK_REALTIME's step joins it): the
 * store keeps both issues, the hooks, which page people, get only the first because the
 * second changes neither confidence nor severity.
 */
Test(daemon, an_incident_pages_people_once_per_change, .init = setup_dir, .fini = teardown,
     .timeout = 60)
{
	char cmd[2048], *stored, *hooked;
	int issues = 0, paged = 0;

	snprintf(cmd, sizeof(cmd),
		 "%s run --config %s --replay %s/tests/fixtures/recordings/paused_migration.jsonl"
		 " 2>&1 && %s events --json --kind migration.suspected --state-dir %s",
		 build("cpudrift"), path("cpudrift.conf"), CPUDRIFT_SRCDIR, build("cpudrift"),
		 path("state"));
	stored = run_capture(cmd);
	for (char *p = stored; (p = strstr(p, "\"incident_id\"")); p++)
		issues++;
	cr_expect_eq(issues, 2, "stored issues: %s", stored);
	/* what was spooled for the hooks, as the hook runner hands it to them */
	snprintf(cmd, sizeof(cmd), "%s hooks run --config %s 2>&1; cat %s/event.*.json",
		 build("cpudrift"), path("cpudrift.conf"), path("out"));
	hooked = run_capture(cmd);
	for (char *p = hooked; (p = strstr(p, "\"kind\":\"migration.suspected\"")); p++)
		paged++;
	cr_expect_eq(paged, 1, "hooks ran for %d issues: %s", paged, hooked);
	free(hooked);
	free(stored);
}

Test(daemon, alert_rules_pass_promtool)
{
	char *out;

	if (system("command -v promtool >/dev/null 2>&1"))
		cr_skip_test("promtool is not installed (Debian package prometheus)");
	out = run_capture("promtool check rules " CPUDRIFT_SRCDIR
			  "/packaging/prometheus/cpudrift.rules.yml 2>&1; echo \"exit=$?\"");
	cr_expect(strstr(out, "SUCCESS: 8 rules found"), "promtool: %s", out);
	cr_expect(strstr(out, "exit=0"), "promtool: %s", out);
	free(out);
}

/*
 * The rules' own unit tests (packaging/prometheus/cpudrift.rules.test.yml): among them, the
 * down alert fires after a kill -9 (the file frozen at cpudrift_up 1), after a clean stop and
 * when the series is absent, and stays quiet while the file is refreshed.
 */
Test(daemon, alert_rules_pass_their_promtool_unit_tests)
{
	char *out;

	if (system("command -v promtool >/dev/null 2>&1"))
		cr_skip_test("promtool is not installed (Debian package prometheus)");
	out = run_capture("cd " CPUDRIFT_SRCDIR "/packaging/prometheus && promtool test rules "
			  "cpudrift.rules.test.yml 2>&1; echo \"exit=$?\"");
	cr_expect(strstr(out, "SUCCESS"), "promtool test rules: %s", out);
	cr_expect(strstr(out, "exit=0"), "promtool test rules: %s", out);
	free(out);
}

Test(daemon, unit_sets_the_same_glibc_mask_as_the_program)
{
	char *unit = tu_read_file(CPUDRIFT_SRCDIR "/packaging/systemd/cpudrift.service");
	char want[600];

	cr_assert_not_null(unit);
	snprintf(want, sizeof(want), "Environment=GLIBC_TUNABLES=%s\n", DAEMON_HWCAPS_TUNABLE);
	cr_expect(strstr(unit, want),
		  "the unit's GLIBC_TUNABLES differs from DAEMON_HWCAPS_TUNABLE");
	free(unit);
}

/* export = on: the live daemon leaves a snapshot `cpudrift fleet` reads; a replay does not. */
Test(daemon, export_on_writes_a_fleet_ready_snapshot, .init = setup_dir, .fini = teardown,
     .timeout = 60)
{
	char cmd[1200], *out;
	FILE *f = fopen(path("cpudrift.conf"), "a");
	pid_t pid;

	cr_assert_not_null(f);
	fputs("export = on\n", f);
	fclose(f);
	pid = start_daemon(path("cpudrift.conf"));
	cr_assert(wait_for_file(path("state/export/snapshot.json"), "\"vcpus\"", 20000),
		  "no export after 20 s; daemon log:\n%s", tu_read_file(path("daemon.log")));
	stop_daemon(pid);
	snprintf(cmd, sizeof(cmd), "%s fleet %s %s/tests/fixtures/dumps/cpuid-r-epyc-kvm.txt 2>&1",
		 build("cpudrift"), path("state/export/snapshot.json"), CPUDRIFT_SRCDIR);
	out = run_capture(cmd);
	cr_expect(strstr(out, "2 inputs"), "fleet on the export: %s", out);
	free(out);

	snprintf(cmd, sizeof(cmd),
		 "%s run --config %s --state-dir %s/replayed --replay "
		 "%s/tests/fixtures/recordings/feature_drift.jsonl >/dev/null 2>&1; "
		 "test -e %s/replayed/cpudrift.db && echo replayed; "
		 "test -e %s/replayed/export/snapshot.json && echo exported || echo none",
		 build("cpudrift"), path("cpudrift.conf"), dir, CPUDRIFT_SRCDIR, dir, dir);
	out = run_capture(cmd);
	cr_expect(strstr(out, "replayed"), "the replay did not run: %s", out);
	cr_expect(strstr(out, "none"), "a replay exported a snapshot: %s", out);
	free(out);
}
