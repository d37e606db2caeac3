// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The sinks, live: hooks run as real processes (JSON on stdin, fields in the
 * environment, failing and hanging hooks killed and reported), the Prometheus textfile is
 * checked by promtool and scraped through a real node_exporter, and journal entries go
 * to a real systemd-journald started in a private mount namespace.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <systemd/sd-journal.h>

#include "core/features.h"
#include "core/log.h"
#include "sinks/sink_hooks.h"
#include "sinks/sink_journal.h"
#include "sinks/sink_textfile.h"
#include "testutil.h"

#define CATALOG CPUDRIFT_SRCDIR "/packaging/catalog/cpudrift.catalog"

static char dir[64];

static void mkdir_tmp(void)
{
	strcpy(dir, "/tmp/cpudrift-sinks-XXXXXX");
	cr_assert(mkdtemp(dir));
	/* Hooks run as the unprivileged hook user when we are root: they must reach it. */
	chmod(dir, 0777);
}

static void rm_tmp(void)
{
	tu_rmtree(dir);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct event *sample_event(void)
{
	struct event *e = event__new(EV_FAULT_SIGILL, SEV_CRITICAL);

	cr_assert(e);
	e->pid = 4242;
	snprintf(e->subject, sizeof(e->subject), "app");
	snprintf(e->summary, sizeof(e->summary), "pid 4242 (app) died on vpaddd: avx2 lost");
	json_object_object_add(e->body, "feature", json_object_new_string("avx2"));
	json_object_object_add(e->body, "class", json_object_new_string("migration_mismatch"));
	json_object_object_add(e->body, "confidence", json_object_new_double(0.9));
	json_object_object_add(e->body, "comm", json_object_new_string("app"));
	return e;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	cr_assert(f, "cannot write %s", path);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static struct hooks *new_hooks(const char *hdir, unsigned timeout_ms, unsigned rate)
{
	struct hooks_opts o = {
		.dir = hdir, .user = "nobody", .timeout_ms = timeout_ms, .rate_per_min = rate
	};
	struct errbuf err = { "" };
	struct hooks *h;

	cr_assert_eq(hooks__new(&h, &o, &err), 0, "%s", err.msg);
	return h;
}

/* Poll like the daemon does until no hook runs; fails after @limit_ms. */
static void wait_hooks(struct hooks *h, int limit_ms)
{
	int64_t end = mono_ms() + limit_ms;

	while (hooks_running(h) && mono_ms() < end) {
		hooks_poll(h);
		usleep(10000);
	}
	cr_assert_eq(hooks_running(h), 0, "hooks still running after %d ms", limit_ms);
}

/* Gone, or a zombie waiting for whoever inherited it. */
static bool alive(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	return p && p[2] != 'Z' && p[2] != 'X';
}

TestSuite(sink_hooks, .init = mkdir_tmp, .fini = rm_tmp);

Test(sink_hooks, hook_gets_json_on_stdin_and_fields_in_env)
{
	char hdir[128], script[512], path[160], *json, *env;
	struct event *e = sample_event();
	struct json_object *got, *want;
	struct hooks_stats st;
	struct hooks *h;

	snprintf(hdir, sizeof(hdir), "%s/hooks.d", dir);
	mkdir(hdir, 0755);
	snprintf(script, sizeof(script),
		 "#!/bin/sh\ncat > %s/stdin.json\n{ env; echo UID=$(id -u); } > %s/env.txt\n", dir,
		 dir);
	snprintf(path, sizeof(path), "%s/10-record", hdir);
	write_file(path, script, 0755);
	snprintf(path, sizeof(path), "%s/.hidden", hdir);
	write_file(path, "#!/bin/sh\ntouch /tmp/never\n", 0755);
	snprintf(path, sizeof(path), "%s/README", hdir); /* not executable: not a hook */
	write_file(path, "not a hook\n", 0644);

	h = new_hooks(hdir, 5000, 0);
	cr_assert_eq(hooks_run(h, e), 1);
	wait_hooks(h, 5000);
	hooks_get_stats(h, &st);
	cr_expect_eq(st.failed, 0, "%s", hooks_last_error(h));

	snprintf(path, sizeof(path), "%s/stdin.json", dir);
	json = tu_read_file(path);
	cr_assert(json, "the hook did not run");
	got = json_tokener_parse(json);
	want = event_to_json(e);
	cr_expect(json_object_equal(got, want), "stdin was %s", json);
	snprintf(path, sizeof(path), "%s/env.txt", dir);
	env = tu_read_file(path);
	cr_assert(env);
	cr_expect(strstr(env, "CPUDRIFT_KIND=fault.sigill\n"), "%s", env);
	cr_expect(strstr(env, "CPUDRIFT_SEVERITY=critical\n"), "%s", env);
	cr_expect(strstr(env, "CPUDRIFT_FEATURE=avx2\n"), "%s", env);
	cr_expect(strstr(env, "CPUDRIFT_PID=4242\n"), "%s", env);
	cr_expect(strstr(env, "CPUDRIFT_CLASS=migration_mismatch\n"), "%s", env);
	cr_expect(strstr(env, "CPUDRIFT_CONFIDENCE=0.9\n"), "%s", env);
	if (geteuid() == 0)
		cr_expect(!strstr(env, "UID=0\n"), "the hook ran as root: %s", env);
	cr_expect(access("/tmp/never", F_OK), "a dot file ran as a hook");
	json_object_put(got);
	json_object_put(want);
	free(json);
	free(env);
	hooks__free(h);
	event__free(e);
}

Test(sink_hooks, failing_hook_is_logged_with_its_output)
{
	char hdir[128], path[160];
	struct event *e = sample_event();
	struct hooks_stats st;
	struct hooks *h;

	snprintf(hdir, sizeof(hdir), "%s", dir);
	snprintf(path, sizeof(path), "%s/fail", hdir);
	write_file(path, "#!/bin/sh\necho 'cannot reach pager' >&2\nexit 3\n", 0755);
	h = new_hooks(hdir, 5000, 0);
	cr_assert_eq(hooks_run(h, e), 1);
	wait_hooks(h, 5000);
	hooks_get_stats(h, &st);
	cr_expect_eq(st.failed, 1);
	cr_expect(strstr(hooks_last_error(h), "fail") &&
			  strstr(hooks_last_error(h), "exit status 3") &&
			  strstr(hooks_last_error(h), "cannot reach pager"),
		  "%s", hooks_last_error(h));
	hooks__free(h);
	event__free(e);
}

Test(sink_hooks, hanging_hook_is_killed_with_its_children)
{
	char hdir[128], path[160], script[256], *pidtxt;
	struct event *e = sample_event();
	struct hooks_stats st;
	struct hooks *h;
	int64_t t0;
	pid_t grandchild;

	snprintf(hdir, sizeof(hdir), "%s", dir);
	snprintf(path, sizeof(path), "%s/hang", hdir);
	snprintf(script, sizeof(script), "#!/bin/sh\nsleep 60 &\necho $! > %s/sleep.pid\nwait\n",
		 dir);
	write_file(path, script, 0755);
	h = new_hooks(hdir, 300, 0);
	t0 = mono_ms();
	cr_assert_eq(hooks_run(h, e), 1);
	cr_expect_lt(mono_ms() - t0, 200, "hooks_run blocked");
	wait_hooks(h, 3000);
	cr_expect_lt(mono_ms() - t0, 2000);
	hooks_get_stats(h, &st);
	cr_expect_eq(st.timed_out, 1);
	cr_expect(strstr(hooks_last_error(h), "timed out"), "%s", hooks_last_error(h));
	snprintf(path, sizeof(path), "%s/sleep.pid", dir);
	pidtxt = tu_read_file(path);
	cr_assert(pidtxt, "the hook did not start its child");
	grandchild = atoi(pidtxt);
	usleep(100000);
	cr_expect(grandchild > 0 && !alive(grandchild), "the hook's child %d survived", grandchild);
	free(pidtxt);
	hooks__free(h);
	event__free(e);
}

Test(sink_hooks, huge_event_to_a_hook_that_never_reads_does_not_block)
{
	char path[160];
	struct event *e = sample_event();
	char *big = malloc(1 << 20);
	struct hooks *h;
	int64_t t0;

	memset(big, 'a', (1 << 20) - 1);
	big[(1 << 20) - 1] = 0;
	json_object_object_add(e->body, "big", json_object_new_string(big));
	snprintf(path, sizeof(path), "%s/lazy", dir);
	write_file(path, "#!/bin/sh\nsleep 0.2\n", 0755);
	h = new_hooks(dir, 5000, 0);
	t0 = mono_ms();
	cr_assert_eq(hooks_run(h, e), 1);
	cr_expect_lt(mono_ms() - t0, 500, "hooks_run blocked on a hook that does not read");
	wait_hooks(h, 5000);
	hooks__free(h);
	event__free(e);
	free(big);
}

Test(sink_hooks, rate_limit_drops_and_counts)
{
	char path[160];
	struct event *e = sample_event();
	struct hooks_stats st;
	struct hooks *h;
	int started = 0;

	snprintf(path, sizeof(path), "%s/ok", dir);
	write_file(path, "#!/bin/sh\nexit 0\n", 0755);
	h = new_hooks(dir, 5000, 2);
	for (int i = 0; i < 5; i++)
		started += hooks_run(h, e);
	wait_hooks(h, 5000);
	hooks_get_stats(h, &st);
	cr_expect_eq(started, 2);
	cr_expect_eq(st.dropped, 3);
	cr_expect_eq(st.failed, 0, "%s", hooks_last_error(h));
	hooks__free(h);
	event__free(e);
}

Test(sink_hooks, unknown_hook_user_is_an_error_for_root)
{
	struct hooks_opts o = { .dir = "/nonexistent", .user = "no-such-user-cpudrift" };
	struct errbuf err = { "" };
	struct hooks *h = NULL;
	int r = hooks__new(&h, &o, &err);

	if (geteuid() != 0) {
		cr_expect_eq(r, 0);
		hooks__free(h);
		cr_skip_test("not root: hooks run as the daemon's own user");
	}
	cr_expect_eq(r, -EINVAL);
	cr_expect(strstr(err.msg, "no-such-user-cpudrift"), "%s", err.msg);
}
