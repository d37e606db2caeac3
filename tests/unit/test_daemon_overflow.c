// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The real daemon (build/cpudrift run) under a watchdog, with its fault ring buffer made
 * small (fault_ring_size = 8K, a few records) and processes that fault at 64 sites each as
 * fast as they can: the kernel cannot store every detail record.  What a user relies on
 * then: the drops are counted (cpudrift_bpf_lost_events_total) and reported (a stored
 * watcher.loss event), every fault is still counted exactly once in the store, the daemon
 * keeps pinging the watchdog and answers a reload while the storm lasts, and it stops
 * cleanly afterwards.
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
#include <unistd.h>

#include <sqlite3.h>

#include "testutil.h"

/* A ping a second, so that the longest gap measures the loop's longest stall. */
#define WATCHDOG_USEC 2000000
#define CHILDREN 16
#define SITES 64 /* the sites one process may hold (max_sites) */
#define STORM_S 6

static char dir[256];
static pid_t daemon_pid;

static const char *path(const char *rel)
{
	static char buf[8][512];
	static int k;

	k = (k + 1) % 8;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, rel);
	return buf[k];
}

static void teardown(void)
{
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGKILL);
		waitpid(daemon_pid, NULL, 0);
	}
	if (dir[0])
		tu_rmtree(dir);
}

static int64_t query_i64(const char *db, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -1;
	sqlite3_busy_timeout(h, 5000);
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

/* The value of a metric line that starts with @prefix in the textfile, -1 when none. */
static long long metric(const char *prefix)
{
	char *t = tu_read_file(path("cpudrift.prom")), *p = t;
	long long v = -1;

	while (p && (p = strstr(p, prefix))) {
		if (p == t || p[-1] == '\n') {
			v = strtoll(p + strlen(prefix), NULL, 10);
			break;
		}
		p += strlen(prefix);
	}
	free(t);
	return v;
}

/* WatchdogSec= of the shipped unit, in seconds. */
static long unit_watchdog_s(void)
{
	char *u = tu_read_file(CPUDRIFT_SRCDIR "/packaging/systemd/cpudrift.service");
	char *w = u ? strstr(u, "\nWatchdogSec=") : NULL;
	long s = w ? strtol(w + 13, NULL, 10) : 0;

	free(u);
	cr_assert_gt(s, 0, "no WatchdogSec=Ns in packaging/systemd/cpudrift.service");
	return s;
}

struct sprayer {
	pid_t pid;
	int in, out; /* its stdin (closed: stop) and stdout (its total) */
};

static void spray(struct sprayer *s)
{
	int in[2], out[2];
	char n[16];

	/* close-on-exec: a later sprayer holding this one's stdin would keep it running */
	cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	s->pid = fork();
	cr_assert_geq(s->pid, 0);
	if (!s->pid) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		snprintf(n, sizeof(n), "%d", SITES);
		execl(tu_build("tests/helpers/sigill_child"), "sigill_child", "spray", n, "loop",
		      (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	s->in = in[1];
	s->out = out[0];
	/* it prints its page and waits for a byte before it faults */
	cr_assert_eq(write(s->in, "g", 1), 1);
}

/* Stop a sprayer; the number of faults it made. */
static long stop_spray(struct sprayer *s)
{
	char buf[256] = "";
	FILE *f;
	long total = -1;

	close(s->in);
	f = fdopen(s->out, "r");
	/* "ready ADDR", "done", then the total */
	while (f && fgets(buf, sizeof(buf), f))
		if (buf[0] >= '0' && buf[0] <= '9')
			total = atol(buf);
	if (f)
		fclose(f);
	waitpid(s->pid, NULL, 0);
	return total;
}

Test(daemon_overflow, drops_are_counted_and_the_daemon_keeps_pinging, .fini = teardown,
     .timeout = 180)
{
	struct sprayer sp[CHILDREN];
	struct tu_notes notes = { .fd = -1 };
	char conf[1024], cmd[1024], *out, *rows;
	long long lost, faults = 0, counted = -1;
	int64_t pings_before, loss_events;
	long rss;
	int rc, status;
	FILE *f;

	if (geteuid())
		cr_skip_test("the fault watcher needs root (CAP_BPF, CAP_PERFMON)");
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		cr_skip_test("no kernel BTF (/sys/kernel/btf/vmlinux): no CO-RE fault watcher");
	snprintf(dir, sizeof(dir), "/tmp/cpudrift-overflow-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	chmod(dir, 0755);
	snprintf(conf, sizeof(conf),
		 "state_dir = %s/state\nhooks_dir = off\ntextfile_path = %s/cpudrift.prom\n"
		 "journal = off\ninterval = 60\nfault_ring_size = 8K\n",
		 dir, dir);
	f = fopen(path("cpudrift.conf"), "w");
	cr_assert_not_null(f);
	fputs(conf, f);
	fclose(f);

	tu_notes_start(&notes, path("notify"));
	daemon_pid = tu_start_watched_daemon(path("cpudrift.conf"), path("daemon.log"),
					     path("notify"), WATCHDOG_USEC);
	for (int i = 0; i < 300 && !notes.ready; i++)
		usleep(100000);
	cr_assert(notes.ready, "no READY=1 in 30 s; log:\n%s", tu_read_file(path("daemon.log")));
	cr_assert(tu_wait_for(path("cpudrift.prom"), "cpudrift_up 1", 20000), "no textfile");
	out = tu_read_file(path("daemon.log"));
	cr_assert(out && strstr(out, "fault watcher"), "no fault watcher in the log:\n%s", out);
	free(out);

	/* the storm: CHILDREN processes, SITES sites each, faulting until stopped */
	pings_before = notes.pings;
	for (int i = 0; i < CHILDREN; i++)
		spray(&sp[i]);
	sleep(STORM_S / 2);
	/* the loop answers while the storm lasts */
	snprintf(cmd, sizeof(cmd), "%s reload --state-dir %s 2>&1", tu_build("cpudrift"),
		 path("state"));
	out = tu_run(cmd, &rc);
	cr_expect_eq(rc, 0, "reload during the storm failed (%d): %s", rc, out);
	free(out);
	rss = tu_rss_kb(daemon_pid);
	sleep(STORM_S - STORM_S / 2);
	for (int i = 0; i < CHILDREN; i++) {
		long n = stop_spray(&sp[i]);

		cr_assert_geq(n, SITES, "sprayer %d reported no total", i);
		faults += n;
	}

	/* every fault counted once: the exits flush what no record carried */
	for (int t = 0; t < 300 && counted != faults; t++) {
		usleep(100000);
		/* ud2 is their class; other processes' faults (a probe run) count elsewhere */
		counted = query_i64(path("state/cpudrift.db"),
				    "SELECT coalesce(sum(count), 0) FROM fault_counters WHERE "
				    "class = 'not-feature-related'");
	}
	lost = metric("cpudrift_bpf_lost_events_total ");
	loss_events = query_i64(path("state/cpudrift.db"),
				"SELECT count(*) FROM events WHERE kind = 'watcher.loss' AND "
				"json_extract(json, '$.body.drops') > 0");
	snprintf(cmd, sizeof(cmd),
		 "sqlite3 %s 'SELECT class, feature, count FROM fault_counters; SELECT "
		 "json_extract(json, \"$.body.exe\"), count(*), sum(json_extract(json, "
		 "\"$.body.delta\")) FROM events WHERE kind = \"fault.sigill\" GROUP BY 1' 2>&1",
		 path("state/cpudrift.db"));
	rows = tu_run(cmd, NULL);
	kill(daemon_pid, SIGTERM);
	waitpid(daemon_pid, &status, 0);
	daemon_pid = 0;
	tu_notes_stop(&notes);

	cr_log_info("%lld faults by %d processes; %lld counted; %lld records dropped; %ld pings "
		    "(longest gap %.3f s); RSS %ld kB mid-storm",
		    faults, CHILDREN, counted, lost, (long)notes.pings, notes.max_gap / 1e9, rss);
	cr_expect_gt(lost, 0, "the ring buffer never overflowed: this test proves nothing");
	cr_expect_gt(loss_events, 0, "no stored watcher.loss event reports the drops");
	cr_expect_eq(counted, faults, "%lld faults made, %lld counted in the store:\n%s", faults,
		     counted, rows);
	free(rows);
	cr_expect_gt(notes.pings, pings_before + STORM_S / 2,
		     "only %ld WATCHDOG=1 pings through the storm",
		     (long)(notes.pings - pings_before));
	cr_expect_lt(
		notes.max_gap, unit_watchdog_s() * 1000000000LL,
		"%.2f s without a ping: systemd would have killed the daemon (WatchdogSec=%lds)",
		notes.max_gap / 1e9, unit_watchdog_s());
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "the daemon did not stop cleanly after the storm (status %#x)", status);
}
