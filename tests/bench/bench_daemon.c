// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon as a user runs it (build/cpudrift run, default settings but for the paths):
 * CPU share idle, resident memory, CPU during a fault storm, and the latency from a SIGILL
 * to the stored event, to its spool entry, and to the hook run (`cpudrift hooks run`
 * started the moment the entry appears, as cpudrift-hooks.path would; this machine has no
 * systemd to time the path unit itself, nor a journald).  Then bpftrace doing only the SIGILL tracing,
 * for comparison: its resident memory and start-up time.  Then the ring-buffer overflow
 * (see overflow()).  Prints `name: value unit` lines; asserts nothing.  BENCH_DAEMON_IDLE_S
 * sets the idle window (default 60 s), BENCH_OVERFLOW_S the overflow's (default 20 s).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

static char dir[] = "/tmp/cpudrift-bench-XXXXXX";

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *build(const char *rel)
{
	static char buf[4][512];
	static int k;
	const char *b = getenv("CPUDRIFT_BUILD");

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", b ? b : "build", rel);
	return buf[k];
}

/* utime + stime of @pid in seconds, or -1. */
static double cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	p = strrchr(buf, ')');
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static pid_t spawn(char *const argv[], const char *out)
{
	pid_t pid = fork();

	if (!pid) {
		int fd = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static int run_child(const char *mode, const char *arg)
{
	char *argv[] = { (char *)build("tests/helpers/sigill_child"), (char *)mode, (char *)arg,
			 NULL };
	int status;
	pid_t pid = spawn(argv, NULL);

	waitpid(pid, &status, 0);
	return status;
}

static long count_rows(const char *db, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	long n = -1;

	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -1;
	sqlite3_busy_timeout(h, 1000);
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return n;
}

/* The newest spool entry's number ("NNN.json"; temporary files start with a dot). */
static long newest_entry(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	long n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && strstr(de->d_name, ".json") && atol(de->d_name) > n)
			n = atol(de->d_name);
	closedir(d);
	return n;
}

static bool exists(const char *p)
{
	return access(p, F_OK) == 0;
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The value of the textfile line that starts with @prefix, -1 when none. */
static long long metric(const char *prom, const char *prefix)
{
	char line[512];
	long long v = -1;
	FILE *f = fopen(prom, "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, prefix, strlen(prefix)))
			v = strtoll(line + strlen(prefix), NULL, 10);
	if (f)
		fclose(f);
	return v;
}

/*
 * The ring-buffer overflow of tests/unit/test_daemon_overflow.c, timed: a daemon with an
 * 8 KiB fault ring buffer and SPRAYERS processes faulting at 64 sites each for @secs: its
 * CPU share, its largest resident set (sampled every 100 ms) and the records it lost.
 */
#define SPRAYERS 16
static void overflow(int secs)
{
	char conf[600], prom[600], log[600];
	char *argv[] = { (char *)build("cpudrift"), "run", "--config", conf, NULL };
	pid_t d, sp[SPRAYERS];
	int go[SPRAYERS];
	long rss, rss_max = 0;
	double t0, c0, wall;
	FILE *f;

	snprintf(conf, sizeof(conf), "%s/overflow.conf", dir);
	snprintf(prom, sizeof(prom), "%s/overflow.prom", dir);
	snprintf(log, sizeof(log), "%s/overflow.log", dir);
	f = fopen(conf, "w");
	if (!f)
		return;
	fprintf(f,
		"state_dir = %s/overflow-state\nhooks_dir = off\ntextfile_path = %s\n"
		"journal = off\nfault_ring_size = 8K\n",
		dir, prom);
	fclose(f);
	d = spawn(argv, log);
	t0 = now_s();
	while (metric(prom, "cpudrift_up ") != 1 && now_s() - t0 < 30)
		usleep(10000);
	c0 = cpu_s(d);
	t0 = now_s();
	for (int i = 0; i < SPRAYERS; i++) {
		int in[2];
		char *sargv[] = { (char *)build("tests/helpers/sigill_child"), "spray", "64",
				  "loop", NULL };

		if (pipe2(in, O_CLOEXEC))
			return;
		sp[i] = fork();
		if (!sp[i]) {
			int null = open("/dev/null", O_WRONLY);

			dup2(in[0], 0);
			dup2(null, 1);
			execv(sargv[0], sargv);
			_exit(127);
		}
		close(in[0]);
		go[i] = in[1];
		if (write(go[i], "g", 1) != 1)
			perror("write");
	}
	while (now_s() - t0 < secs) {
		rss = rss_kb(d);
		if (rss > rss_max)
			rss_max = rss;
		usleep(100000);
	}
	wall = now_s() - t0;
	printf("daemon_overflow_cpu_share_pct: %.2f %% (%d processes faulting at 64 sites each, "
	       "%d s)\n",
	       (cpu_s(d) - c0) / wall * 100, SPRAYERS, secs);
	printf("daemon_overflow_rss_max_kb: %ld kB\n", rss_max);
	for (int i = 0; i < SPRAYERS; i++) {
		close(go[i]);
		waitpid(sp[i], NULL, 0);
	}
	sleep(3); /* the exits' flush, the textfile's next write */
	printf("daemon_overflow_records_dropped: %lld\n",
	       metric(prom, "cpudrift_bpf_lost_events_total "));
	printf("daemon_overflow_rss_after_kb: %ld kB\n", rss_kb(d));
	kill(d, SIGTERM);
	waitpid(d, NULL, 0);
}

int main(void)
{
	char conf[512], hooks[512], outd[512], db[600], prom[512], log[512], buf[2048], spool[600];
	const char *idle_env = getenv("BENCH_DAEMON_IDLE_S");
	const char *overflow_env = getenv("BENCH_OVERFLOW_S");
	int idle = idle_env ? atoi(idle_env) : 60;
	int overflow_s = overflow_env ? atoi(overflow_env) : 20;
	double lat_store[20], lat_spool[20], lat_hook[20], t0, c0;
	char *argv[8];
	pid_t d;
	FILE *f;

	if (geteuid()) {
		printf("daemon_bench_skipped: 1 (needs root for BPF)\n");
		return 0;
	}
	if (!mkdtemp(dir))
		return 1;
	snprintf(hooks, sizeof(hooks), "%s/hooks", dir);
	snprintf(outd, sizeof(outd), "%s/out", dir);
	snprintf(prom, sizeof(prom), "%s/cpudrift.prom", dir);
	snprintf(db, sizeof(db), "%s/state/cpudrift.db", dir);
	snprintf(log, sizeof(log), "%s/daemon.log", dir);
	snprintf(spool, sizeof(spool), "%s/state/spool", dir);
	mkdir(hooks, 0755);
	mkdir(outd, 0777);
	chmod(outd, 0777);
	chmod(dir, 0755);
	snprintf(buf, sizeof(buf), "%s/10-mark", hooks);
	f = fopen(buf, "w");
	fprintf(f, "#!/bin/sh\ntouch %s/pid.$CPUDRIFT_PID\n", outd);
	fclose(f);
	chmod(buf, 0755);
	snprintf(conf, sizeof(conf), "%s/cpudrift.conf", dir);
	f = fopen(conf, "w");
	fprintf(f,
		"state_dir = %s/state\nhooks_dir = %s\ntextfile_path = %s\nhook_rate_limit = 0\n"
		"hook_cursor = %s/cursor\n",
		dir, hooks, prom, dir);
	fclose(f);

	argv[0] = (char *)build("cpudrift");
	argv[1] = "run";
	argv[2] = "--config";
	argv[3] = conf;
	argv[4] = NULL;
	t0 = now_s();
	d = spawn(argv, log);
	while (!exists(prom) && now_s() - t0 < 30)
		usleep(10000);
	printf("daemon_startup_ms: %.0f ms\n", (now_s() - t0) * 1e3);

	/* idle: default settings, nothing happening */
	sleep(2);
	c0 = cpu_s(d);
	t0 = now_s();
	sleep(idle);
	printf("daemon_idle_cpu_share_pct: %.4f %% (over %d s)\n",
	       (cpu_s(d) - c0) / (now_s() - t0) * 100, idle);
	printf("daemon_rss_kb: %ld kB\n", rss_kb(d));

	/* latency: one SIGILL from a fresh child to its stored event, its spool entry and its
	 * hook run */
	for (int i = 0; i < 20; i++) {
		long before =
			count_rows(db, "SELECT count(*) FROM events WHERE kind = 'fault.sigill'");
		char mark[600];
		double ts = now_s(), got_store = 0, got_spool = 0, got_hook = 0;
		long entries = newest_entry(spool);
		pid_t c, runner = 0;

		argv[0] = (char *)build("tests/helpers/sigill_child");
		argv[1] = "ud2";
		argv[2] = NULL;
		c = spawn(argv, NULL);
		waitpid(c, NULL, 0);
		snprintf(mark, sizeof(mark), "%s/pid.%d", outd, c);
		while ((!got_store || !got_hook) && now_s() - ts < 10) {
			if (!got_store &&
			    count_rows(db,
				       "SELECT count(*) FROM events WHERE kind = 'fault.sigill'") >
				    before)
				got_store = now_s();
			if (!got_spool && newest_entry(spool) > entries) {
				char *rargv[] = { (char *)build("cpudrift"),
						  "hooks",
						  "run",
						  "--config",
						  conf,
						  NULL };

				got_spool = now_s();
				runner = spawn(rargv, NULL);
			}
			if (!got_hook && exists(mark))
				got_hook = now_s();
			usleep(200);
		}
		if (runner)
			waitpid(runner, NULL, 0);
		lat_store[i] = got_store ? got_store - ts : 10;
		lat_spool[i] = got_spool ? got_spool - ts : 10;
		lat_hook[i] = got_hook ? got_hook - ts : 10;
		usleep(300000);
	}
	qsort(lat_store, 20, sizeof(double), dcmp);
	qsort(lat_hook, 20, sizeof(double), dcmp);
	qsort(lat_spool, 20, sizeof(double), dcmp);
	printf("daemon_sigill_to_store_median_ms: %.1f ms\n", lat_store[10] * 1e3);
	printf("daemon_sigill_to_spool_median_ms: %.1f ms\n", lat_spool[10] * 1e3);
	printf("daemon_sigill_to_hook_median_ms: %.1f ms\n", lat_hook[10] * 1e3);

	/* a storm: one process faulting as fast as it can */
	c0 = cpu_s(d);
	t0 = now_s();
	run_child("storm", "1000000");
	{
		double wall = now_s() - t0;

		printf("daemon_storm_fault_rate: %.0f faults/s\n", 1e6 / wall);
		printf("daemon_storm_cpu_share_pct: %.2f %%\n", (cpu_s(d) - c0) / wall * 100);
	}
	printf("daemon_rss_after_storm_kb: %ld kB\n", rss_kb(d));
	kill(d, SIGTERM);
	waitpid(d, NULL, 0);

	overflow(overflow_s);

	/* bpftrace doing only the SIGILL tracing */
	if (!system("command -v bpftrace >/dev/null 2>&1")) {
		char out[600], *line = NULL;
		size_t cap = 0;
		pid_t b;
		double started = 0;

		snprintf(out, sizeof(out), "%s/bpftrace.out", dir);
		argv[0] = "bpftrace";
		argv[1] = "-e";
		argv[2] = "tracepoint:signal:signal_generate /args->sig == 4/ "
			  "{ printf(\"%d %s\\n\", pid, comm); }";
		argv[3] = NULL;
		t0 = now_s();
		b = spawn(argv, out);
		while (now_s() - t0 < 60 && !started) {
			FILE *o = fopen(out, "r");

			while (o && getline(&line, &cap, o) > 0)
				if (strstr(line, "Attaching"))
					started = now_s();
			if (o)
				fclose(o);
			usleep(10000);
		}
		free(line);
		printf("bpftrace_startup_ms: %.0f ms\n", started ? (started - t0) * 1e3 : -1);
		sleep(1);
		printf("bpftrace_rss_kb: %ld kB\n", rss_kb(b));
		kill(b, SIGINT);
		waitpid(b, NULL, 0);
	}
	snprintf(buf, sizeof(buf), "rm -rf %s", dir);
	if (system(buf))
		return 1;
	return 0;
}
