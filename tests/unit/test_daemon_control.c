// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The running daemon as an operator meets it (build/cpudrift run, real files, real
 * signals): SIGHUP applies every key or refuses the whole file, and `cpudrift reload` waits
 * for that answer and fails on a refusal; `baseline accept` reaches the running daemon; a
 * full hook spool drops, counts and shows; the daemon keeps every source as an unprivileged
 * user with ambient capabilities (the unit's way); members of the store's group read it,
 * with the daemon running or stopped.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json-c/json.h>
#include <sqlite3.h>

#include "core/features.h"
#include "core/log.h"
#include "core/snapshot.h"
#include "sinks/store.h"
#include "testutil.h"

#define NOBODY 65534
#define UNIT_CAPS "bpf,+perfmon,+sys_ptrace,+syslog"

static char dir[64];
static pid_t daemon_pid;

static const char *at(const char *rel)
{
	static char buf[8][256];
	static int k;

	k = (k + 1) % 8;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, rel);
	return buf[k];
}

static void put(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");

	cr_assert(f, "cannot write %s", p);
	fputs(text, f);
	fclose(f);
}

/* The test configuration plus @extra lines (later lines win). */
static void conf(const char *extra)
{
	char text[4096];

	snprintf(text, sizeof(text),
		 "state_dir = %s\nhooks_dir = %s\nhook_cursor = %s\ntextfile_path = %s\n"
		 "journal = off\ninterval = 60\n%s",
		 at("state"), at("hooks"), at("runner/cursor"), at("cpudrift.prom"), extra);
	put(at("cpudrift.conf"), text);
}

static void setup_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cpudrift-ctl-XXXXXX");
	cr_assert(mkdtemp(dir));
	chmod(dir, 0755);
	mkdir(at("hooks"), 0755);
	mkdir(at("runner"), 0755);
	conf("");
}

static void setup_live(void)
{
	if (geteuid())
		cr_skip_test("needs root (BPF, other users)");
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		cr_skip_test("no BTF at /sys/kernel/btf/vmlinux");
	setup_dir();
}

static void stop(void)
{
	int status;

	if (daemon_pid <= 0)
		return;
	kill(daemon_pid, SIGTERM);
	waitpid(daemon_pid, &status, 0);
	daemon_pid = 0;
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "the daemon did not stop cleanly (status 0x%x)", status);
}

static void teardown(void)
{
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGKILL);
		waitpid(daemon_pid, NULL, 0);
		daemon_pid = 0;
	}
	if (dir[0])
		tu_rmtree(dir);
	dir[0] = 0;
}

TestSuite(daemon_control, .fini = teardown, .timeout = 90);

/* `cpudrift -v run --config DIR/cpudrift.conf`, through @wrap (e.g. setpriv ...) if given. */
static void start(const char *wrap)
{
	char cmd[1024];
	pid_t pid;

	snprintf(cmd, sizeof(cmd), "exec %s %s -v run --config %s 2>>%s", wrap ? wrap : "",
		 tu_build("cpudrift"), at("cpudrift.conf"), at("daemon.log"));
	unlink(at("daemon.log"));
	pid = fork();
	cr_assert_geq(pid, 0);
	if (!pid) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	daemon_pid = pid;
	cr_assert(tu_wait_for(at("daemon.log"), "running (", 30000), "the daemon did not start: %s",
		  tu_read_file(at("daemon.log")));
}

static struct json_object *status_json(const char *state)
{
	char cmd[512], *out;
	struct json_object *o;

	snprintf(cmd, sizeof(cmd), "%s status --json --state-dir %s", tu_build("cpudrift"), state);
	out = tu_run(cmd, NULL);
	o = json_tokener_parse(out);
	cr_assert(o, "status --json: %s", out);
	free(out);
	return o;
}

static const char *jstr(struct json_object *o, const char *path)
{
	char key[64];
	const char *dot;

	while ((dot = strchr(path, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		o = json_object_object_get(o, key);
		path = dot + 1;
	}
	o = json_object_object_get(o, path);
	return o ? json_object_get_string(o) : "";
}

static char *reload(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "%s reload --config %s 2>&1; echo \"exit=$?\"",
		 tu_build("cpudrift"), at("cpudrift.conf"));
	return tu_run(cmd, NULL);
}

Test(daemon_control, reload_applies_every_key_or_refuses_the_whole_file, .init = setup_dir)
{
	struct json_object *st;
	char *out, *log;
	bool stall;

	start(NULL);
	cr_assert(tu_wait_for(at("cpudrift.prom"), "cpudrift_up 1", 20000), "no textfile");
	st = status_json(at("state"));
	stall = json_object_get_boolean(json_object_object_get(
		json_object_object_get(json_object_object_get(st, "sources"), "stall"), "active"));
	json_object_put(st);

	/* 1. a good file: every key in force at once */
	{
		char extra[512];

		snprintf(extra, sizeof(extra),
			 "stall_threshold_us = 70000\ntextfile_path = %s\nlog_level = error\n"
			 "fault_ring_size = 1M\n",
			 at("moved.prom"));
		conf(extra);
	}
	out = reload();
	cr_expect(strstr(out, "exit=0") && strstr(out, "configuration applied"), "%s", out);
	cr_expect(strstr(out, "textfile_path") && strstr(out, "stall_threshold_us") &&
			  strstr(out, "log_level"),
		  "the answer does not name the changed keys: %s", out);
	/* the ring buffer is sized at load: the rest applies, the size waits for a restart */
	cr_expect(strstr(out, "fault_ring_size takes a restart"), "%s", out);
	free(out);
	cr_expect(tu_wait_for(at("moved.prom"), "cpudrift_up 1", 5000),
		  "no textfile at the new path");
	cr_expect(access(at("cpudrift.prom"), F_OK), "the old textfile stays and would go stale");
	st = status_json(at("state"));
	cr_expect_str_eq(jstr(st, "reload_result"), "applied");
	/* The stall program's threshold is the observable one (BPF: root). */
	if (stall)
		cr_expect(strstr(jstr(st, "sources.stall.detail"), "threshold 70000 us"),
			  "stall threshold not applied: %s", jstr(st, "sources.stall.detail"));
	json_object_put(st);
	/* -v from the command line outlives log_level = error: this info line was logged. */
	log = tu_read_file(at("daemon.log"));
	cr_expect(strstr(log, "configuration reloaded"), "-v was dropped by the reload: %s", log);
	free(log);

	/* 2. a bad file: refused whole, the daemon runs on with the old one, reload fails */
	{
		char extra[512];

		snprintf(extra, sizeof(extra),
			 "stall_threshold_us = 90000\ntextfile_path = %s\nbogus_key = 1\n",
			 at("moved.prom"));
		conf(extra);
	}
	out = reload();
	cr_expect(strstr(out, "exit=1"), "a refused file did not fail the reload: %s", out);
	cr_expect(strstr(out, "cpudrift.conf:9: unknown key 'bogus_key'") &&
			  strstr(out, "the old one stays"),
		  "%s", out);
	free(out);
	cr_expect_eq(kill(daemon_pid, 0), 0, "the daemon died of a bad configuration");
	st = status_json(at("state"));
	cr_expect_str_eq(jstr(st, "reload_result"), "refused");
	cr_expect(strstr(jstr(st, "reload_message"), "bogus_key"), "%s",
		  jstr(st, "reload_message"));
	if (stall)
		cr_expect(strstr(jstr(st, "sources.stall.detail"), "threshold 70000 us"),
			  "part of a refused file was applied: %s",
			  jstr(st, "sources.stall.detail"));
	json_object_put(st);

	/* 3. a new state dir takes a restart: refused too (here signalled by hand, since
	 *    `cpudrift reload` looks for the daemon in the new folder and finds none) */
	{
		char extra[512], seq[32];

		snprintf(extra, sizeof(extra), "state_dir = %s\n", at("elsewhere"));
		conf(extra);
		st = status_json(at("state"));
		snprintf(seq, sizeof(seq), "%s", jstr(st, "reload_seq"));
		json_object_put(st);
		out = reload();
		cr_expect(strstr(out, "exit=2") && strstr(out, "no cpudrift daemon runs"), "%s",
			  out);
		free(out);
		kill(daemon_pid, SIGHUP);
		for (int i = 0; i < 50; i++) {
			st = status_json(at("state"));
			if (strcmp(jstr(st, "reload_seq"), seq))
				break;
			json_object_put(st);
			st = NULL;
			usleep(100000);
		}
		cr_assert(st, "no answer to SIGHUP");
		cr_expect_str_eq(jstr(st, "reload_result"), "refused");
		cr_expect(strstr(jstr(st, "reload_message"), "state_dir"), "%s",
			  jstr(st, "reload_message"));
		json_object_put(st);
	}
	stop();
}

/*
 * A feature this machine lacks, set in the raw CPUID leaves of every vCPU of @s (features
 * are decoded from the leaves when a snapshot is read back): a baseline with it makes the
 * textfile say it was lost.
 */
static int add_missing_feature(struct snapshot *s)
{
	for (int id = 0; id < FEAT__COUNT; id++) {
		const struct feature *f = &feature_table[id];
		bool everywhere = true;

		if (featset_has(&s->features, id) || f->xstate || f->leaf >= 0x40000000u)
			continue;
		for (int c = 0; c < s->nvcpus && everywhere; c++)
			everywhere = vcpu_dump_get(&s->vcpus[c], f->leaf, f->subleaf) != NULL;
		if (!everywhere)
			continue;
		for (int c = 0; c < s->nvcpus; c++) {
			struct leafval lv = *vcpu_dump_get(&s->vcpus[c], f->leaf, f->subleaf);

			lv.r[f->reg] |= 1u << f->bit;
			cr_assert_eq(vcpu_dump_put(&s->vcpus[c], f->leaf, f->subleaf, lv.r), 0);
		}
		return id;
	}
	return -1;
}

Test(daemon_control, baseline_accept_reaches_the_running_daemon, .init = setup_dir)
{
	struct errbuf err = { "" };
	struct snapshot *snap;
	struct snapmeta m;
	struct store *s;
	char cmd[600], want[200], *out;
	int64_t id;
	int feat;

	start(NULL);
	cr_assert(tu_wait_for(at("cpudrift.prom"), "cpudrift_up 1", 20000), "no textfile");
	/* A snapshot as another machine would have it: one feature more, another date. */
	cr_assert_eq(store__new(&s, at("state"), 0, &err), 0, "%s", err.msg);
	cr_assert_eq(store_load_snapshot(s, SEL_BASELINE, NULL, &m, &snap, &err), 0, "%s", err.msg);
	feat = add_missing_feature(snap);
	cr_assert_geq(feat, 0, "this machine has every feature of the table");
	snap->realtime_ns = 1600000000LL * 1000000000LL;
	cr_assert_eq(store_save_snapshot(s, snap, SNAP_PERIODIC, &id), 0);
	snapshot__free(snap);
	store__free(s);

	snprintf(cmd, sizeof(cmd), "%s baseline accept --id %lld --state-dir %s 2>&1; echo exit=$?",
		 tu_build("cpudrift"), (long long)id, at("state"));
	out = tu_run(cmd, NULL);
	cr_expect(strstr(out, "exit=0") && strstr(out, "uses it now"), "%s", out);
	free(out);
	snprintf(want, sizeof(want), "cpudrift_features_lost{feature=\"%s\"} 1",
		 feature_table[feat].name);
	cr_expect(tu_wait_for(at("cpudrift.prom"), want, 5000),
		  "the running daemon does not use the new baseline: %s",
		  tu_read_file(at("cpudrift.prom")));
	cr_expect(tu_wait_for(at("cpudrift.prom"),
			      "cpudrift_baseline_timestamp_seconds 1600000000\n", 1000),
		  "%s", tu_read_file(at("cpudrift.prom")));
	stop();
}

static long metric(const char *text, const char *name)
{
	const char *p = strstr(text, name);

	return p ? atol(p + strlen(name)) : -1;
}

Test(daemon_control, a_full_spool_drops_counts_and_shows, .init = setup_live)
{
	char cmd[600], *out, *prom;
	struct json_object *st;
	long dropped;

	conf("hook_spool_max = 2\nhook_rate_limit = 0\n");
	start(NULL);
	cr_assert(tu_wait_for(at("cpudrift.prom"), "cpudrift_up 1", 20000), "no textfile");
	for (int i = 0; i < 5; i++) {
		snprintf(cmd, sizeof(cmd), "%s ud2 </dev/null >/dev/null 2>&1",
			 tu_build("tests/helpers/sigill_child"));
		cr_assert_neq(system(cmd), -1);
	}
	cr_expect(tu_wait_for(at("daemon.log"), "dropped from a full spool", 10000),
		  "no drop in the log");
	prom = NULL;
	dropped = -1;
	for (int i = 0; i < 50 && dropped < 3; i++) {
		free(prom);
		usleep(100000);
		prom = tu_read_file(at("cpudrift.prom"));
		dropped =
			metric(prom, "cpudrift_hook_events_dropped_total{reason=\"spool_full\"} ");
	}
	cr_expect_geq(dropped, 3, "textfile: %s", prom);
	free(prom);
	snprintf(cmd, sizeof(cmd), "ls %s | grep -c 'json$'", at("state/spool"));
	out = tu_run(cmd, NULL);
	cr_expect_str_eq(out, "2\n", "the spool holds more than hook_spool_max");
	free(out);
	/* status shows it (the sources are recorded at every reload and every minute) */
	out = reload();
	free(out);
	st = status_json(at("state"));
	cr_expect(strstr(jstr(st, "sources.hooks_spool.detail"), "(full)"), "%s",
		  jstr(st, "sources.hooks_spool.detail"));
	cr_expect(!strstr(jstr(st, "sources.hooks_spool.detail"), " 0 (full)"), "%s",
		  jstr(st, "sources.hooks_spool.detail"));
	json_object_put(st);
	stop();
}

/*
 * The unit runs the daemon as a user of its own with CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE and
 * CAP_SYSLOG as ambient capabilities.  Every source that runs for root runs for it too, and
 * a fault of another user's process still names its executable.
 */
Test(daemon_control, an_unprivileged_user_with_ambient_caps_keeps_every_source, .init = setup_live)
{
	struct json_object *root_st, *user_st, *src;
	char wrap[512], cmd[600], *out, addr[64];
	int to[2], from[2];
	pid_t child;

	if (access("/usr/bin/setpriv", X_OK))
		cr_skip_test("setpriv (util-linux) is missing");
	start(NULL);
	root_st = status_json(at("state"));
	stop();

	mkdir(at("u"), 0755);
	cr_assert_eq(chown(at("u"), NOBODY, NOBODY), 0);
	snprintf(cmd, sizeof(cmd),
		 "state_dir = %s\nhooks_dir = %s\nhook_cursor = %s\ntextfile_path = %s\n"
		 "journal = off\ninterval = 60\n",
		 at("u/state"), at("hooks"), at("u/cursor"), at("u/cpudrift.prom"));
	put(at("cpudrift.conf"), cmd);
	snprintf(
		wrap, sizeof(wrap),
		"setpriv --reuid=%d --regid=%d --clear-groups --no-new-privs --inh-caps=-all,+" UNIT_CAPS
		" --ambient-caps=-all,+" UNIT_CAPS " --bounding-set=-all,+" UNIT_CAPS,
		NOBODY, NOBODY);
	start(wrap);
	user_st = status_json(at("u/state"));
	cr_expect_str_eq(jstr(user_st, "mode"), "full", "%s", jstr(user_st, "mode_reason"));
	src = json_object_object_get(root_st, "sources");
	cr_assert(src, "no sources in the status");
	json_object_object_foreach(src, name, v)
	{
		char key[128], detail[128];

		if (!json_object_get_boolean(json_object_object_get(v, "active")))
			continue;
		snprintf(key, sizeof(key), "sources.%s.active", name);
		snprintf(detail, sizeof(detail), "sources.%s.detail", name);
		cr_expect_str_eq(jstr(user_st, key), "true",
				 "%s runs for root, not for the user: %s", name,
				 jstr(user_st, detail));
	}
	cr_expect_str_eq(jstr(user_st, "sources.processes.active"), "true");

	/* A root process faults and lives on: the user daemon still reads its /proc/PID/exe. */
	cr_assert_eq(pipe(to), 0);
	cr_assert_eq(pipe(from), 0);
	child = fork();
	if (!child) {
		dup2(to[0], 0);
		dup2(from[1], 1);
		execl(tu_build("tests/helpers/sigill_child"), "sigill_child", "handled",
		      (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	cr_assert_gt(read(from[0], addr, sizeof(addr)), 0);
	cr_assert_eq(write(to[1], "x", 1), 1); /* fault now */
	cr_assert_gt(read(from[0], addr, sizeof(addr)), 0); /* survived */
	snprintf(cmd, sizeof(cmd), "%s events --json --kind fault.sigill --state-dir %s",
		 tu_build("cpudrift"), at("u/state"));
	out = NULL;
	for (int i = 0; i < 50; i++) {
		free(out);
		out = tu_run(cmd, NULL);
		if (strstr(out, "sigill_child"))
			break;
		usleep(100000);
	}
	cr_expect(strstr(out, "tests/helpers/sigill_child\""),
		  "the user daemon could not name another user's executable: %s", out);
	free(out);
	cr_assert_eq(write(to[1], "x", 1), 1);
	waitpid(child, NULL, 0);
	json_object_put(root_st);
	json_object_put(user_st);
	stop();
}

/* The unit's Group=adm: members read the store, with the daemon running and stopped. */
Test(daemon_control, members_of_the_store_group_read_it, .init = setup_live)
{
	static const char *const files[] = { "cpudrift.db", "cpudrift.db-wal", "cpudrift.db-shm",
					     "cpudrift.lock" };
	struct group *g = getgrnam("adm");
	gid_t gid = g ? g->gr_gid : 4;
	char cmd[800], *out;

	if (access("/usr/bin/setpriv", X_OK))
		cr_skip_test("setpriv (util-linux) is missing");
	mkdir(at("state"), 0750);
	cr_assert_eq(chown(at("state"), 0, gid), 0);
	start(NULL);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct stat st;
		char rel[64];

		snprintf(rel, sizeof(rel), "state/%s", files[i]);
		cr_assert_eq(stat(at(rel), &st), 0, "%s missing", rel);
		cr_expect_eq(st.st_mode & 07777, 0640, "%s mode %04o", rel, st.st_mode & 07777);
		cr_expect_eq(st.st_gid, gid, "%s group %u", rel, (unsigned)st.st_gid);
	}
	for (int running = 1; running >= 0; running--) {
		/* a member of the group, and for contrast someone who is not */
		snprintf(
			cmd, sizeof(cmd),
			"setpriv --reuid=%d --regid=%d --groups=%u %s events --json --state-dir %s "
			">/dev/null 2>&1; echo member=$?; "
			"setpriv --reuid=%d --regid=%d --groups=%u %s status --json --state-dir %s "
			"2>&1; echo status=$?; "
			"setpriv --reuid=%d --regid=%d --clear-groups %s events --state-dir %s "
			">/dev/null 2>&1; echo other=$?",
			NOBODY, NOBODY, (unsigned)gid, tu_build("cpudrift"), at("state"), NOBODY,
			NOBODY, (unsigned)gid, tu_build("cpudrift"), at("state"), NOBODY, NOBODY,
			tu_build("cpudrift"), at("state"));
		out = tu_run(cmd, NULL);
		cr_expect(strstr(out, "member=0"), "daemon %s: a group member cannot read: %s",
			  running ? "running" : "stopped", out);
		cr_expect(strstr(out, "\"baseline\""), "daemon %s: %s",
			  running ? "running" : "stopped", out);
		cr_expect(strstr(out, running ? "status=0" : "status=1"), "daemon %s: %s",
			  running ? "running" : "stopped", out);
		cr_expect(strstr(out, "other=2"), "someone outside the group read the store: %s",
			  out);
		free(out);
		if (running)
			stop();
	}
}

/* Faults of a kind the watcher does not report now, then does after a reload. */
static int trap_events(void)
{
	char cmd[600], *out, *p;
	int n = 0;

	snprintf(cmd, sizeof(cmd),
		 "%s bytes cc </dev/null >/dev/null 2>&1; sleep 1; "
		 "%s events --json --kind fault.sigill --state-dir %s",
		 tu_build("tests/helpers/sigill_child"), tu_build("cpudrift"), at("state"));
	out = tu_run(cmd, NULL);
	for (p = out; (p = strstr(p, "SIGTRAP")); p++)
		n++;
	free(out);
	return n;
}

Test(daemon_control, fault_signals_change_without_a_restart, .init = setup_live)
{
	char *out;
	int before;

	start(NULL);
	cr_assert(tu_wait_for(at("cpudrift.prom"), "cpudrift_up 1", 20000), "no textfile");
	before = trap_events();
	cr_expect_eq(before, 0, "SIGTRAP reported while only SIGILL is watched");
	conf("fault_signals = SIGILL,SIGTRAP\n");
	out = reload();
	cr_expect(strstr(out, "exit=0") && strstr(out, "fault_signals"), "%s", out);
	free(out);
	cr_expect_gt(trap_events(), 0, "the new fault_signals were not applied by the reload");
	stop();
}

/* A textfile that cannot be written is logged once, not every minute, and once it works again. */
Test(daemon_control, a_textfile_error_is_logged_once_per_change, .init = setup_dir)
{
	char extra[300], *log, *p, *out;
	int n = 0;

	snprintf(extra, sizeof(extra), "textfile_path = %s\n", at("nodir/cpudrift.prom"));
	conf(extra);
	start(NULL);
	for (int i = 0; i < 3; i++) {
		out = reload(); /* every reload rewrites the textfile */
		free(out);
	}
	log = tu_read_file(at("daemon.log"));
	for (p = log; (p = strstr(p, "failed to write the Prometheus textfile")); p++)
		n++;
	cr_expect_eq(n, 1, "logged %d times: %s", n, log);
	free(log);
	mkdir(at("nodir"), 0755);
	conf(extra);
	out = reload();
	free(out);
	cr_expect(tu_wait_for(at("daemon.log"), "is written again", 5000), "%s",
		  tu_read_file(at("daemon.log")));
	cr_expect(tu_wait_for(at("nodir/cpudrift.prom"), "cpudrift_up 1", 1000));
	stop();
}

/*
 * Readers of the store (the CLI, a script with sqlite3) come and go while the daemon writes:
 * the daemon must never lose the locks SQLite holds on the -shm it has mapped (a reader
 * would reset it under the daemon, which then dies of SIGBUS).
 */
Test(daemon_control, readers_coming_and_going_never_hurt_the_daemon, .init = setup_live)
{
	char cmd[800], *out;

	start(NULL);
	cr_assert(tu_wait_for(at("cpudrift.prom"), "cpudrift_up 1", 20000), "no textfile");
	for (int i = 0; i < 20; i++) {
		sqlite3 *h = NULL;

		snprintf(cmd, sizeof(cmd),
			 "%s ud2 </dev/null >/dev/null 2>&1; %s events --json --state-dir %s "
			 ">/dev/null 2>&1; echo ok",
			 tu_build("tests/helpers/sigill_child"), tu_build("cpudrift"), at("state"));
		out = tu_run(cmd, NULL);
		free(out);
		/* a reader of its own, as a script would be */
		if (sqlite3_open_v2(at("state/cpudrift.db"), &h, SQLITE_OPEN_READONLY, NULL) ==
		    SQLITE_OK)
			sqlite3_exec(h, "SELECT count(*) FROM events", NULL, NULL, NULL);
		sqlite3_close(h);
		cr_assert_eq(kill(daemon_pid, 0), 0, "the daemon died after %d readers", i + 1);
	}
	usleep(500000);
	cr_expect_eq(waitpid(daemon_pid, NULL, WNOHANG), 0, "the daemon is gone");
	stop();
}
