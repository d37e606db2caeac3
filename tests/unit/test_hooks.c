// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Hooks, live: real hook processes run by the real runner over a real spool.  The event's
 * JSON on stdin and its fields in the environment; unsafe folders and hooks refused (owner,
 * group- and world-write, symlinks, FIFOs, names run-parts would skip); the hook executed
 * from the descriptor that was checked, not from what is at its name later; bounded output;
 * a hook that calls setsid, forks and never exits loses every process at the timeout; the
 * runner's order and cursor.  Hooks must belong to root, so these tests need root.
 */
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

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "core/log.h"
#include "sinks/hookexec.h"
#include "sinks/sink_hooks.h"
#include "sinks/spool.h"
#include "testutil.h"

static char dir[64];

static const char *at(const char *rel)
{
	static char buf[8][400];
	static int k;

	k = (k + 1) % 8;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, rel);
	return buf[k];
}

static void setup(void)
{
	if (geteuid() != 0)
		cr_skip_test("hooks must belong to root: creating them needs root");
	strcpy(dir, "/tmp/cpudrift-hooks-XXXXXX");
	cr_assert(mkdtemp(dir));
	chmod(dir, 0755);
	mkdir(at("hooks.d"), 0755);
	mkdir(at("state"), 0755);
	mkdir(at("runner"), 0755);
	mkdir(at("out"), 0755);
}

static void teardown(void)
{
	if (dir[0])
		tu_rmtree(dir);
	dir[0] = 0;
}

TestSuite(hooks, .init = setup, .fini = teardown, .timeout = 60);

static void put(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	cr_assert(f, "cannot write %s", path);
	fputs(text, f);
	fclose(f);
	cr_assert_eq(chmod(path, mode), 0);
}

/* A hook that appends "NAME SEQ" to out/log: the order the runner ran things in. */
static void logging_hook(const char *name)
{
	char text[512], path[256];

	snprintf(text, sizeof(text), "#!/bin/sh\necho \"$CPUDRIFT_HOOK $CPUDRIFT_SEQ\" >> %s\n",
		 at("out/log"));
	snprintf(path, sizeof(path), "hooks.d/%s", name);
	put(at(path), text, 0755);
}

static struct event *sample_event(int n)
{
	struct event *e = event__new(EV_FAULT_SIGILL, SEV_CRITICAL);

	cr_assert(e);
	e->pid = 4242 + n;
	snprintf(e->subject, sizeof(e->subject), "app");
	snprintf(e->summary, sizeof(e->summary), "pid %d (app) died on vpaddd: avx2 lost", e->pid);
	json_object_object_add(e->body, "feature", json_object_new_string("avx2"));
	json_object_object_add(e->body, "class", json_object_new_string("feature-lost"));
	json_object_object_add(e->body, "confidence", json_object_new_double(0.9));
	json_object_object_add(e->body, "comm", json_object_new_string("app"));
	return e;
}

/* Spool @n events the way the daemon does. */
static void spool_events(int first, int n)
{
	struct spool_opts o = { .state_dir = at("state"),
				.cursor_path = at("runner/cursor"),
				.hooks_dir = at("hooks.d") };
	struct errbuf err = { "" };
	struct spool *sp;

	cr_assert_eq(spool__new(&sp, &o, &err), 0, "%s", err.msg);
	for (int i = first; i < first + n; i++) {
		struct event *e = sample_event(i);

		cr_assert_eq(spool_add(sp, e), 1);
		event__free(e);
	}
	spool__free(sp);
}

static int run_runner(unsigned timeout_ms, struct hooks_stats *st, struct errbuf *err)
{
	struct hooks_opts o = { .state_dir = at("state"),
				.hooks_dir = at("hooks.d"),
				.cursor_path = at("runner/cursor"),
				.timeout_ms = timeout_ms };

	memset(err, 0, sizeof(*err));
	return hooks_run_spool(&o, st, err);
}

static struct spool_cursor cursor(void)
{
	struct spool_cursor c;

	cr_assert_eq(spool_cursor_read(at("runner/cursor"), &c), 0, "no cursor file");
	return c;
}

/* Alive: not gone and not a zombie. */
static bool alive(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	return p && p[2] != 'Z' && p[2] != 'X';
}

static pid_t read_pid(const char *rel)
{
	char *t = NULL;

	for (int i = 0; i < 100 && !(t = tu_read_file(at(rel))); i++)
		usleep(20000);
	cr_assert(t, "%s was never written", rel);
	pid_t pid = atoi(t);
	free(t);
	return pid;
}

Test(hooks, hook_gets_the_event_json_on_stdin_and_its_fields_in_the_environment)
{
	struct event *e = sample_event(0);
	struct json_object *got, *want;
	struct hooks_stats st;
	struct errbuf err;
	char text[512], *json, *env;

	snprintf(text, sizeof(text), "#!/bin/sh\ncat > %s\nenv > %s\n", at("out/stdin.json"),
		 at("out/env"));
	put(at("hooks.d/10-record"), text, 0755);
	spool_events(0, 1);
	/* What the unit's EnvironmentFile= gives passes on; an event's name does not leak. */
	setenv("CPUDRIFT_WEBHOOK_URL", "https://example.org/x", 1);
	setenv("CPUDRIFT_KIND", "forged", 1);
	cr_assert_eq(run_runner(5000, &st, &err), 0, "%s", err.msg);
	unsetenv("CPUDRIFT_WEBHOOK_URL");
	unsetenv("CPUDRIFT_KIND");
	cr_expect_eq(st.runs, 1);
	json = tu_read_file(at("out/stdin.json"));
	cr_assert(json, "the hook did not run");
	got = json_tokener_parse(json);
	want = event_to_json(e);
	/* The spool entry was the event as the daemon had it: same time, same everything. */
	json_object_object_del(want, "time");
	json_object_object_del(want, "realtime_ns");
	json_object_object_del(want, "monotonic_ns");
	json_object_object_del(got, "time");
	json_object_object_del(got, "realtime_ns");
	json_object_object_del(got, "monotonic_ns");
	cr_expect(json_object_equal(got, want), "stdin was %s", json);
	env = tu_read_file(at("out/env"));
	cr_assert(env);
	cr_expect(strstr(env, "CPUDRIFT_KIND=fault.sigill\n"), "%s", env);
	cr_expect(!strstr(env, "CPUDRIFT_KIND=forged"), "%s", env);
	cr_expect(strstr(env, "CPUDRIFT_SEVERITY=critical\n"), "%s", env);
	cr_expect(strstr(env, "CPUDRIFT_FEATURE=avx2\n"), "%s", env);
	cr_expect(strstr(env, "CPUDRIFT_PID=4242\n"), "%s", env);
	cr_expect(strstr(env, "CPUDRIFT_CLASS=feature-lost\n"), "%s", env);
	cr_expect(strstr(env, "CPUDRIFT_CONFIDENCE=0.9\n"), "%s", env);
	cr_expect(strstr(env, "CPUDRIFT_SEQ=1\n"), "%s", env);
	cr_expect(strstr(env, "CPUDRIFT_HOOK=10-record\n"), "%s", env);
	cr_expect(strstr(env, "CPUDRIFT_WEBHOOK_URL=https://example.org/x\n"), "%s", env);
	json_object_put(got);
	json_object_put(want);
	free(json);
	free(env);
	event__free(e);
}

Test(hooks, the_runner_goes_in_order_and_remembers_how_far_it_got)
{
	struct hooks_stats st;
	struct errbuf err;
	char *log;

	logging_hook("20-b");
	logging_hook("10-a");
	spool_events(0, 3);
	cr_assert_eq(run_runner(5000, &st, &err), 0, "%s", err.msg);
	cr_expect_eq(st.events, 3);
	cr_expect_eq(cursor().seq, 3);
	/* Nothing new: nothing runs again. */
	cr_assert_eq(run_runner(5000, &st, &err), 0, "%s", err.msg);
	cr_expect_eq(st.events, 0);
	spool_events(3, 1);
	cr_assert_eq(run_runner(5000, &st, &err), 0, "%s", err.msg);
	log = tu_read_file(at("out/log"));
	cr_expect_str_eq(log, "10-a 1\n20-b 1\n10-a 2\n20-b 2\n10-a 3\n20-b 3\n10-a 4\n20-b 4\n");
	cr_expect_eq(cursor().events, 4);
	cr_expect_eq(cursor().hook_runs, 8);
	free(log);
}

Test(hooks, a_failing_hook_is_recorded_and_the_others_still_run)
{
	struct spool_cursor c;
	struct hooks_stats st;
	struct errbuf err;
	char *log;

	put(at("hooks.d/10-fail"), "#!/bin/sh\necho 'cannot reach pager' >&2\nexit 3\n", 0755);
	logging_hook("20-ok");
	spool_events(0, 1);
	cr_expect_eq(run_runner(5000, &st, &err), 1, "%s", err.msg);
	cr_expect_eq(st.failed, 1);
	c = cursor();
	cr_expect_eq(c.seq, 1, "the event is done even though a hook failed");
	cr_expect_eq(c.hook_failures, 1);
	cr_expect(strstr(c.last_error, "10-fail") && strstr(c.last_error, "exit status 3") &&
			  strstr(c.last_error, "cannot reach pager"),
		  "%s", c.last_error);
	log = tu_read_file(at("out/log"));
	cr_expect_str_eq(log, "20-ok 1\n");
	free(log);
}

Test(hooks, unsafe_hooks_are_refused_and_the_rest_run)
{
	struct hooks_stats st;
	struct errbuf err;
	char *log;

	logging_hook("10-owned-by-nobody");
	cr_assert_eq(chown(at("hooks.d/10-owned-by-nobody"), 65534, 65534), 0);
	logging_hook("20-group-writable");
	chmod(at("hooks.d/20-group-writable"), 0775);
	logging_hook("30-world-writable");
	chmod(at("hooks.d/30-world-writable"), 0757);
	logging_hook("target");
	rename(at("hooks.d/target"), at("target"));
	cr_assert_eq(symlink(at("target"), at("hooks.d/40-symlink")), 0);
	cr_assert_eq(mkfifo(at("hooks.d/50-fifo"), 0755), 0);
	logging_hook("60-ok");
	/* Names run-parts skips: package leftovers and editor backups never run. */
	logging_hook("60-ok.dpkg-dist");
	logging_hook("60-ok~");
	logging_hook(".hidden");
	put(at("hooks.d/README"), "not a hook: no execute bit\n", 0644);
	spool_events(0, 1);
	cr_expect_eq(run_runner(5000, &st, &err), 1, "%s", err.msg);
	cr_expect_eq(st.refused, 5, "refused %llu", (unsigned long long)st.refused);
	cr_expect_eq(st.failed, 5);
	log = tu_read_file(at("out/log"));
	cr_expect_str_eq(log, "60-ok 1\n", "what ran: %s", log);
	free(log);
}

Test(hooks, an_unsafe_folder_runs_nothing_and_keeps_the_events)
{
	static const struct {
		mode_t mode;
		uid_t uid;
		const char *why;
	} bad[] = { { 0775, 0, "group-writable" },
		    { 0757, 0, "world-writable" },
		    { 0755, 65534, "not owned by root" } };
	struct hooks_stats st;
	struct errbuf err;

	logging_hook("10-a");
	spool_events(0, 2);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		chmod(at("hooks.d"), bad[i].mode);
		cr_assert_eq(chown(at("hooks.d"), bad[i].uid, 0), 0);
		cr_expect_eq(run_runner(5000, &st, &err), -EPERM);
		cr_expect(strstr(err.msg, bad[i].why), "%s", err.msg);
		cr_expect(access(at("out/log"), F_OK), "a hook ran from an unsafe folder");
		cr_expect_eq(cursor().seq, 0, "the cursor moved past events whose hooks never ran");
		cr_expect(strstr(cursor().last_error, bad[i].why), "%s", cursor().last_error);
	}
	chmod(at("hooks.d"), 0755);
	cr_assert_eq(chown(at("hooks.d"), 0, 0), 0);
	cr_expect_eq(run_runner(5000, &st, &err), 0, "%s", err.msg);
	cr_expect_eq(st.events, 2, "the waiting events run once the folder is fixed");
	cr_expect_eq(cursor().seq, 2);
}

Test(hooks, a_spool_others_can_write_is_not_read)
{
	struct hooks_stats st;
	struct errbuf err;

	logging_hook("10-a");
	spool_events(0, 1);
	chmod(at("state/spool"), 0770);
	cr_expect_eq(run_runner(5000, &st, &err), -EPERM);
	cr_expect(strstr(err.msg, "writable by others"), "%s", err.msg);
	cr_expect(access(at("out/log"), F_OK), "a hook ran for an entry anyone could forge");
}

/* Checked, then swapped: what runs is what was checked. */
Test(hooks, the_hook_runs_from_the_descriptor_that_was_checked)
{
	struct errbuf err = { "" };
	struct hook_result res;
	char *env[] = { "PATH=/usr/bin:/bin", NULL };
	int dfd, fd;

	put(at("hooks.d/10-x"), "#!/bin/sh\necho checked\n", 0755);
	cr_assert_eq(hookexec_open_dir(at("hooks.d"), &dfd, &err), 0, "%s", err.msg);
	cr_assert_eq(hookexec_open(dfd, "10-x", &fd, &err), 0, "%s", err.msg);
	/* Replaced by rename (a new inode at the name) ... */
	put(at("swap"), "#!/bin/sh\necho swapped\n", 0755);
	cr_assert_eq(rename(at("swap"), at("hooks.d/10-x")), 0);
	cr_assert_eq(hookexec_run(fd, "10-x", env, "", 0, 5000, &res, &err), 0, "%s", err.msg);
	cr_expect_str_eq(res.out, "checked\n");
	close(fd);
	/* ... or deleted and a symlink put in its place. */
	cr_assert_eq(hookexec_open(dfd, "10-x", &fd, &err), 0, "%s", err.msg);
	unlink(at("hooks.d/10-x"));
	put(at("evil"), "#!/bin/sh\necho evil\n", 0755);
	cr_assert_eq(symlink(at("evil"), at("hooks.d/10-x")), 0);
	cr_assert_eq(hookexec_run(fd, "10-x", env, "", 0, 5000, &res, &err), 0, "%s", err.msg);
	cr_expect_str_eq(res.out, "swapped\n");
	close(fd);
	close(dfd);
}

Test(hooks, output_is_bounded_and_counted)
{
	struct errbuf err = { "" };
	struct hook_result res;
	char *env[] = { "PATH=/usr/bin:/bin", NULL };
	int dfd, fd;

	/* 16 MiB on stdout and stderr. */
	put(at("hooks.d/10-loud"),
	    "#!/bin/sh\nhead -c 8388608 /dev/zero | tr '\\0' a\nhead -c 8388608 /dev/zero >&2\n",
	    0755);
	cr_assert_eq(hookexec_open_dir(at("hooks.d"), &dfd, &err), 0, "%s", err.msg);
	cr_assert_eq(hookexec_open(dfd, "10-loud", &fd, &err), 0, "%s", err.msg);
	cr_assert_eq(hookexec_run(fd, "10-loud", env, "", 0, 30000, &res, &err), 0, "%s", err.msg);
	cr_expect(!res.timed_out);
	cr_expect_eq(res.out_len, HOOK_OUTPUT_KEEP);
	cr_expect_eq(res.out_total, 16u << 20);
	cr_expect_eq(strlen(res.out), HOOK_OUTPUT_KEEP);
	cr_expect_eq(res.out[0], 'a');
	close(fd);
	close(dfd);
}

Test(hooks, a_hook_that_never_reads_its_stdin_does_not_block)
{
	struct errbuf err = { "" };
	struct hook_result res;
	char *env[] = { NULL }, *big = malloc(4 << 20);
	int dfd, fd;

	memset(big, '{', 4 << 20);
	put(at("hooks.d/10-lazy"), "#!/bin/sh\nexit 0\n", 0755);
	cr_assert_eq(hookexec_open_dir(at("hooks.d"), &dfd, &err), 0, "%s", err.msg);
	cr_assert_eq(hookexec_open(dfd, "10-lazy", &fd, &err), 0, "%s", err.msg);
	cr_assert_eq(hookexec_run(fd, "10-lazy", env, big, 4 << 20, 5000, &res, &err), 0);
	cr_expect(!res.timed_out, "a hook that did not read its stdin timed out");
	cr_expect(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0);
	close(fd);
	close(dfd);
	free(big);
}

/*
 * The hook starts a process in a session of its own (setsid), which starts a child; all
 * three never exit.  At the timeout every one of them is gone.
 */
Test(hooks, setsid_grandchildren_are_killed_at_the_timeout)
{
	struct hooks_stats st;
	struct errbuf err;
	char text[1024];
	pid_t hook, leader, grandchild;

	/* Each writes "PID SESSION" (field 6 of /proc/PID/stat). */
	snprintf(text, sizeof(text),
		 "#!/bin/sh\n"
		 "setsid sh -c 'echo $$ $(cut -d\\  -f6 /proc/$$/stat) > %s; sleep 600 & "
		 "echo $! > %s; while :; do sleep 1; done' </dev/null >/dev/null 2>&1 &\n"
		 "echo $$ $(cut -d\\  -f6 /proc/$$/stat) > %s\n"
		 "while :; do sleep 1; done\n",
		 at("out/leader"), at("out/grandchild"), at("out/hook"));
	put(at("hooks.d/10-hang"), text, 0755);
	spool_events(0, 1);
	/* Long enough for a loaded machine to start all three before the timeout. */
	cr_expect_eq(run_runner(4000, &st, &err), 1, "%s", err.msg);
	cr_expect_eq(st.timed_out, 1);
	hook = read_pid("out/hook");
	leader = read_pid("out/leader");
	grandchild = read_pid("out/grandchild");
	{
		char *a = tu_read_file(at("out/hook")), *b = tu_read_file(at("out/leader"));

		cr_assert(a && b && strchr(a, ' ') && strchr(b, ' '));
		cr_expect_neq(atoi(strchr(a, ' ')), atoi(strchr(b, ' ')),
			      "the helper did not get a session of its own: %s / %s", a, b);
		free(a);
		free(b);
	}
	cr_expect(!alive(hook), "the hook %d survived its timeout", hook);
	cr_expect(!alive(leader), "the setsid process %d survived", leader);
	cr_expect(!alive(grandchild), "its child %d survived", grandchild);
	cr_expect(strstr(cursor().last_error, "timed out"), "%s", cursor().last_error);
	cr_expect_eq(cursor().hook_timeouts, 1);
	cr_expect_eq(cursor().seq, 1);
}

/* A hook that exits at once but leaves a daemon behind: the daemon goes too. */
Test(hooks, what_a_hook_leaves_running_is_killed_when_it_exits)
{
	struct errbuf err = { "" };
	struct hook_result res;
	char *env[] = { "PATH=/usr/bin:/bin", NULL }, text[512];
	int dfd, fd;
	pid_t left;

	snprintf(text, sizeof(text),
		 "#!/bin/sh\nsetsid sh -c 'echo $$ > %s; exec sleep 600' </dev/null >/dev/null "
		 "2>&1 &\nwhile [ ! -s %s ]; do sleep 0.05; done\nexit 0\n",
		 at("out/left"), at("out/left"));
	put(at("hooks.d/10-fork"), text, 0755);
	cr_assert_eq(hookexec_init(), 0);
	cr_assert_eq(hookexec_open_dir(at("hooks.d"), &dfd, &err), 0, "%s", err.msg);
	cr_assert_eq(hookexec_open(dfd, "10-fork", &fd, &err), 0, "%s", err.msg);
	cr_assert_eq(hookexec_run(fd, "10-fork", env, "", 0, 10000, &res, &err), 0, "%s", err.msg);
	cr_expect(!res.timed_out);
	cr_expect(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0);
	left = read_pid("out/left");
	cr_expect_geq(res.leftovers, 1);
	cr_expect(!alive(left), "process %d the hook left survived it", left);
	close(fd);
	close(dfd);
}

/* `cpudrift hooks run` as the hook unit runs it, paths from its options; its exit status. */
Test(hooks, the_command_takes_its_paths_from_options_and_says_how_it_went)
{
	char cmd[1024], *out;

	put(at("empty.conf"), "# nothing: every path comes from the options\n", 0644);
	logging_hook("10-a");
	spool_events(0, 2);
#define RUN                                                                                        \
	snprintf(cmd, sizeof(cmd),                                                                 \
		 "%s hooks run --config %s --state-dir %s --hooks-dir %s --cursor %s --timeout 2 " \
		 "2>&1; echo \"exit=$?\"",                                                         \
		 tu_build("cpudrift"), at("empty.conf"), at("state"), at("hooks.d"),               \
		 at("runner/cursor"))
	RUN;
	out = tu_run(cmd, NULL);
	cr_expect(strstr(out, "exit=0"), "%s", out);
	free(out);
	cr_expect_eq(cursor().seq, 2);
	put(at("hooks.d/20-fail"), "#!/bin/sh\nexit 9\n", 0755);
	spool_events(2, 1);
	RUN;
	out = tu_run(cmd, NULL);
	cr_expect(strstr(out, "exit=1") && strstr(out, "exit status 9"), "%s", out);
	free(out);
	chmod(at("hooks.d"), 0757);
	spool_events(3, 1);
	RUN;
	out = tu_run(cmd, NULL);
	cr_expect(strstr(out, "exit=2") && strstr(out, "world-writable"), "%s", out);
	free(out);
	cr_expect_eq(cursor().seq, 3, "an unsafe folder moved the cursor");
#undef RUN
}
