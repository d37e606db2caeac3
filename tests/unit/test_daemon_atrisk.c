// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The real daemon (build/cpudrift run) under a watchdog, with 10,000 real sleeping
 * processes: its process table takes them in, a real SIGILL makes it build an at-risk
 * list of all of them, and meanwhile its WATCHDOG=1 pings keep coming (NOTIFY_SOCKET and
 * WATCHDOG_USEC point at a socket this test reads, as systemd would set them) and its
 * resident memory stays bounded.
 *
 * The fault has to be a migration's: the store is seeded (through `run --replay`) with a
 * baseline of this machine plus TBM, which this CPU lacks, and the latest snapshot of this
 * machine as it is; the child then executes a TBM instruction, which the daemon
 * classifies feature-lost and turns into a high verdict that lists the processes at risk.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "core/clock.h"
#include "core/features.h"
#include "testutil.h"

#define SLEEPERS 10000
#define WATCHDOG_USEC 2000000 /* systemd would kill a service silent for this long */
/*
 * bextr eax, eax, 1 in its TBM (XOP) form: AMD dropped TBM after Bulldozer, and no other
 * test here executes it, so no other test's fault on this shared machine reads as this
 * baseline's loss.
 */
#define LOST_FEATURE "tbm"
#define LOST_BYTES "8fea7810c001000000"

static char dir[256];
static pid_t daemon_pid, sleepers_pid;
static int sleepers_in = -1;

static const char *path(const char *rel)
{
	static char buf[8][512];
	static int k;

	k = (k + 1) % 8;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, rel);
	return buf[k];
}

static void stop_all(void)
{
	if (sleepers_in >= 0)
		close(sleepers_in);
	sleepers_in = -1;
	if (sleepers_pid > 0)
		waitpid(sleepers_pid, NULL, 0);
	sleepers_pid = 0;
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGKILL);
		waitpid(daemon_pid, NULL, 0);
	}
	daemon_pid = 0;
	if (dir[0])
		tu_rmtree(dir);
	dir[0] = 0;
}

static char *run_capture(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	char *buf = NULL;
	size_t len = 0;

	cr_assert_not_null(p);
	if (getdelim(&buf, &len, 0, p) < 0) {
		free(buf);
		buf = strdup("");
	}
	pclose(p);
	return buf;
}

/* Add LOST_FEATURE to a snapshot's CPUID (its bit from the feature table). */
static void add_lost(struct json_object *snap)
{
	static const char *const regs[] = { "eax", "ebx", "ecx", "edx" };
	const struct feature *f = &feature_table[feature_lookup(LOST_FEATURE)];
	struct json_object *vcpus, *feats;

	cr_assert(json_object_object_get_ex(snap, "vcpus", &vcpus));
	for (size_t i = 0; i < json_object_array_length(vcpus); i++) {
		struct json_object *leaves;

		cr_assert(json_object_object_get_ex(json_object_array_get_idx(vcpus, i), "leaves",
						    &leaves));
		for (size_t k = 0; k < json_object_array_length(leaves); k++) {
			struct json_object *l = json_object_array_get_idx(leaves, k), *v;
			char hex[24];

			json_object_object_get_ex(l, "leaf", &v);
			if (strtoul(json_object_get_string(v), NULL, 16) != f->leaf)
				continue;
			json_object_object_get_ex(l, "subleaf", &v);
			if ((unsigned)json_object_get_int(v) != f->subleaf)
				continue;
			json_object_object_get_ex(l, regs[f->reg], &v);
			snprintf(hex, sizeof(hex), "0x%08lx",
				 strtoul(json_object_get_string(v), NULL, 16) | (1ul << f->bit));
			json_object_object_add(l, regs[f->reg], json_object_new_string(hex));
		}
	}
	if (json_object_object_get_ex(snap, "features", &feats))
		json_object_array_add(feats, json_object_new_string(LOST_FEATURE));
}

static void shift(struct json_object *o, const char *key, int64_t by)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, key, &v))
		json_object_object_add(o, key,
				       json_object_new_int64(json_object_get_int64(v) + by));
}

/*
 * The seed: this machine's snapshot and probe run (a one-second `cpudrift record`), first
 * with LOST_FEATURE added two seconds earlier, then as it is.
 */
static void seed_store(void)
{
	char cmd[2048], *rec, *save = NULL;
	struct json_object *cpuid = NULL, *probe = NULL;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s record -o %s --duration 1 2>&1", tu_build("cpudrift"),
		 path("rec.jsonl"));
	free(run_capture(cmd));
	rec = tu_read_file(path("rec.jsonl"));
	cr_assert_not_null(rec, "cpudrift record wrote nothing");
	for (char *l = strtok_r(rec, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		struct json_object *o = json_tokener_parse(l), *src;

		if (o && json_object_object_get_ex(o, "src", &src) && !cpuid &&
		    !strcmp(json_object_get_string(src), "cpuid"))
			cpuid = o;
		else if (o && src && !probe && !strcmp(json_object_get_string(src), "probe"))
			probe = o;
		else
			json_object_put(o);
	}
	free(rec);
	cr_assert(cpuid && probe, "no snapshot and probe run in the recording");
	f = fopen(path("seed.jsonl"), "w");
	cr_assert_not_null(f);
	for (int pass = 0; pass < 2; pass++) {
		struct json_object *c = NULL, *p = NULL, *snap, *cap;
		int64_t by = pass ? 0 : -2 * 1000000000LL;

		json_object_deep_copy(cpuid, &c, NULL);
		json_object_deep_copy(probe, &p, NULL);
		cr_assert(json_object_object_get_ex(c, "snapshot", &snap));
		cr_assert(json_object_object_get_ex(snap, "captured", &cap));
		shift(c, "mono_ns", by);
		shift(c, "real_ns", by);
		shift(p, "mono_ns", by);
		shift(p, "real_ns", by);
		shift(cap, "monotonic_ns", by);
		shift(cap, "realtime_ns", by);
		if (!pass)
			add_lost(snap);
		fprintf(f, "%s\n%s\n", json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN),
			json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN));
		json_object_put(c);
		json_object_put(p);
	}
	fclose(f);
	json_object_put(cpuid);
	json_object_put(probe);
	snprintf(cmd, sizeof(cmd), "%s run --config %s --replay %s 2>&1", tu_build("cpudrift"),
		 path("cpudrift.conf"), path("seed.jsonl"));
	free(run_capture(cmd));
	/*
	 * The seeded move is an incident of its own, here over (as if its processes had been
	 * restarted): the FP16 fault below opens the next one, whose processes at risk are
	 * those started before the fault, the sleepers among them.  Left open, the fault would
	 * join it, and the sleepers, started after its change, would rightly not be at risk.
	 */
	{
		sqlite3 *db;
		char *msg = NULL;

		cr_assert_eq(sqlite3_open(path("state/cpudrift.db"), &db), SQLITE_OK);
		cr_assert_eq(
			sqlite3_exec(db, "UPDATE incidents SET state = 'closed'", NULL, NULL, &msg),
			SQLITE_OK, "%s", msg);
		sqlite3_close(db);
	}
	snprintf(cmd, sizeof(cmd), "%s baseline show --json --state-dir %s", tu_build("cpudrift"),
		 path("state"));
	rec = run_capture(cmd);
	cr_assert(strstr(rec, LOST_FEATURE), "the seeded baseline lacks %s: %s", LOST_FEATURE, rec);
	free(rec);
}

static bool wait_log(const char *needle_fmt, long at_least, int ms)
{
	for (int t = 0; t < ms; t += 200) {
		char *log = tu_read_file(path("daemon.log")), *p = log;

		while (p && (p = strstr(p, needle_fmt))) {
			p += strlen(needle_fmt);
			if (strtol(p, NULL, 10) >= at_least) {
				free(log);
				return true;
			}
		}
		free(log);
		usleep(200000);
	}
	return false;
}

static struct json_object *get(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	cr_assert(json_object_object_get_ex(o, k, &v), "no '%s' in %.2000s", k,
		  json_object_to_json_string(o));
	return v;
}

/* The newest migration.suspected whose reasons hold the fault of @pid; NULL after @ms. */
static struct json_object *verdict_for(pid_t pid, int ms)
{
	char cmd[1024], needle[64];

	snprintf(cmd, sizeof(cmd), "%s events --json --kind migration.suspected --state-dir %s",
		 tu_build("cpudrift"), path("state"));
	snprintf(needle, sizeof(needle), "(pid %d)", pid);
	for (int t = 0; t < ms; t += 500) {
		char *out = run_capture(cmd), *save = NULL;
		struct json_object *found = NULL;

		for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			struct json_object *e = json_tokener_parse(l), *body, *reasons, *ar;

			if (e && strstr(l, needle) && json_object_object_get_ex(e, "body", &body) &&
			    json_object_object_get_ex(body, "reasons", &reasons) &&
			    json_object_object_get_ex(body, "at_risk", &ar)) {
				json_object_put(found);
				found = e;
			} else {
				json_object_put(e);
			}
		}
		free(out);
		if (found)
			return found;
		usleep(500000);
	}
	return NULL;
}

/* Run the fault helper on LOST_BYTES; its pid. */
static pid_t lost_feature_fault(void)
{
	pid_t pid = fork();
	int status;

	cr_assert_geq(pid, 0);
	if (!pid) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		execl(tu_build("tests/helpers/sigill_child"), "sigill_child", "bytes", LOST_BYTES,
		      (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGILL,
		  "the %s instruction did not fault here (status 0x%x)", LOST_FEATURE, status);
	return pid;
}

Test(daemon_atrisk, ten_thousand_processes_keep_the_watchdog_fed, .fini = stop_all, .timeout = 300)
{
	char conf[1024], line[64];
	struct tu_notes notes = { .fd = -1 };
	struct json_object *v, *ar, *procs;
	long rss0, rss1, started = 0;
	int64_t spawned_boot_ns;
	pid_t fault, daemon_pid_was;
	int in[2], out[2];
	FILE *sl;

	if (geteuid())
		cr_skip_test("the daemon's fault watcher needs root (BPF)");
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		cr_skip_test("no BTF at /sys/kernel/btf/vmlinux");
	snprintf(dir, sizeof(dir), "/tmp/cpudrift-atrisk-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	chmod(dir, 0755);
	/*
	 * No timing evidence: on a shared, loaded machine a stall could open the verdict
	 * before the processes start, and then they would rightly not be at risk.
	 */
	snprintf(conf, sizeof(conf),
		 "state_dir = %s/state\nhooks_dir = off\ntextfile_path = off\njournal = off\n"
		 "interval = 60\nstall_threshold_us = 600000000\nclock_step_ms = 86400000\n"
		 "hostclock_step_ms = 86400000\ntsc_rate_ppm = 1000000\nsteal_permille = 1000\n"
		 "steal_factor = 1000\ncpuid_latency_pct = 10000\n"
		 "cpuid_latency_min_ns = 1000000000\n",
		 dir);
	sl = fopen(path("cpudrift.conf"), "w");
	fputs(conf, sl);
	fclose(sl);
	seed_store();

	/* the daemon, as systemd would start it with WatchdogSec=2s */
	tu_notes_start(&notes, path("notify"));
	daemon_pid = tu_start_watched_daemon(path("cpudrift.conf"), path("daemon.log"),
					     path("notify"), WATCHDOG_USEC);
	for (int i = 0; i < 300 && !notes.ready; i++)
		usleep(100000);
	cr_assert(notes.ready, "no READY=1 in 30 s; log:\n%s", tu_read_file(path("daemon.log")));
	rss0 = tu_rss_kb(daemon_pid);

	/* 10,000 sleeping processes */
	cr_assert_eq(pipe(in), 0);
	cr_assert_eq(pipe(out), 0);
	sleepers_pid = fork();
	cr_assert_geq(sleepers_pid, 0);
	if (!sleepers_pid) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		snprintf(line, sizeof(line), "%d", SLEEPERS);
		execl(tu_build("tests/helpers/sleepers"), "sleepers", line, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	sleepers_in = in[1];
	sl = fdopen(out[0], "r");
	if (!fgets(line, sizeof(line), sl) || sscanf(line, "ready %ld", &started) != 1)
		cr_assert_fail("the sleepers helper said nothing");
	fclose(sl);
	if (started < SLEEPERS)
		cr_skip_test("only %ld of %d processes could be started (pid_max, pids.max)",
			     started, SLEEPERS);
	/* start times have clock-tick resolution */
	usleep(20000);
	spawned_boot_ns = clock_boot_ns();

	/* the table takes them in at its next pass, a slice at a time */
	cr_assert(wait_log("process table: ", SLEEPERS, 90000),
		  "the process table never held %d processes; log:\n%s", SLEEPERS,
		  tu_read_file(path("daemon.log")));
	/* a real SIGILL of a feature the baseline had: a verdict listing the processes at risk */
	fault = lost_feature_fault();
	v = verdict_for(fault, 60000);
	rss1 = tu_rss_kb(daemon_pid);

	/* let them go; the daemon keeps pinging */
	close(sleepers_in);
	sleepers_in = -1;
	waitpid(sleepers_pid, NULL, 0);
	sleepers_pid = 0;
	sleep(3);
	daemon_pid_was = daemon_pid;
	kill(daemon_pid, SIGTERM);
	waitpid(daemon_pid, NULL, 0);
	daemon_pid = 0;
	tu_notes_stop(&notes);

	cr_expect_gt(notes.pings, 5, "only %ld WATCHDOG=1 pings", (long)notes.pings);
	cr_expect_lt(notes.max_gap, WATCHDOG_USEC * 1000LL,
		     "%.2f s without a ping: systemd would have killed the daemon",
		     notes.max_gap / 1e9);
	cr_log_info("%ld pings, longest gap %.3f s; RSS %ld kB before, %ld kB with %d processes",
		    (long)notes.pings, notes.max_gap / 1e9, rss0, rss1, SLEEPERS);
	/* bounded: 32 bytes an entry, shared cgroup paths, the list's own temporaries */
#ifdef __SANITIZE_ADDRESS__
	/* ASan's shadow memory and quarantine make RSS no measure: the plain build checks it. */
	cr_log_info("RSS not checked under ASan");
#else
	cr_expect_lt(rss1 - rss0, 8 * 1024, "RSS grew from %ld to %ld kB", rss0, rss1);
#endif

	/*
	 * The verdict opens at its first evidence.  Any process on this machine may fault or
	 * stall: evidence from before the processes started is not this test's, and a list
	 * that leaves them out is then right.
	 */
	if (!v)
		cr_assert_fail("no verdict names the fault of pid %d; log:\n%s", fault,
			       tu_read_file(path("daemon.log")));
	ar = get(get(v, "body"), "at_risk");
	if (json_object_get_int64(get(ar, "change_boot_ns")) < spawned_boot_ns) {
		json_object_put(v);
		cr_skip_test("the verdict opened on evidence from before the test's processes "
			     "started (another process on this machine)");
	}
	cr_expect_geq(json_object_get_int64(get(ar, "total")), SLEEPERS);
	procs = get(ar, "processes");
	cr_expect_eq(json_object_array_length(procs), 50);
	for (size_t i = 0; i < json_object_array_length(procs); i++)
		cr_expect_neq(json_object_get_int(get(json_object_array_get_idx(procs, i), "pid")),
			      daemon_pid_was, "cpudrift lists itself");
	cr_expect_str_eq(json_object_get_string(json_object_array_get_idx(get(ar, "lost"), 0)),
			 LOST_FEATURE);
	cr_expect_gt(json_object_array_length(get(ar, "groups")), 0);
	json_object_put(v);
}
