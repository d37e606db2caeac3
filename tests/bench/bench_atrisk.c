// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What keeping the process table and building at-risk lists cost.  Prints `name: value unit`
 * lines; asserts nothing.
 *
 * 1. The table alone on this machine's /proc, run on its own schedule for
 *    BENCH_TABLE_IDLE_S seconds (default 60): its share of one core (process CPU time).
 * 2. The worst single read: a process with 65,000 mappings (the kernel's default limit is
 *    65,530), which one step cannot split.
 * 3. With 10,000 real sleeping processes (tests/helpers/sleepers): the first pass (every
 *    process new), a steady pass, an at-risk list of all of them (median of 5), the table's
 *    heap.
 * 4. The real daemon with WATCHDOG_USEC=20 ms (a WATCHDOG=1 every 10 ms to a socket read
 *    here): the longest gap between pings idle, and while its table takes in 10,000 new
 *    processes.  A gap beyond 10 ms is how long the loop stood still.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capture/procscan.h"
#include "capture/proctable.h"
#include "core/clock.h"

#define SLEEPERS 10000

static char dir[] = "/tmp/cpudrift-bench-atrisk-XXXXXX";

static const char *build(const char *rel)
{
	static char buf[4][512];
	static int k;
	const char *b = getenv("CPUDRIFT_BUILD");

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", b ? b : "build", rel);
	return buf[k];
}

static int64_t cpu_ns(void)
{
	return clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* --- 1. idle --------------------------------------------------------------------------------- */

static void idle_share(void)
{
	const char *env = getenv("BENCH_TABLE_IDLE_S");
	int64_t secs = env ? atoll(env) : 60, end, c0, t0;
	struct proctable_stats st;
	struct proctable *t;

	if (proctable__new(&(struct proctable_opts){ 0 }, &t))
		return;
	proctable_refresh(t, 0);
	c0 = cpu_ns();
	t0 = clock_mono_ns();
	end = t0 + secs * NSEC_PER_SEC;
	for (int64_t now = t0; now < end; now = clock_mono_ns()) {
		int64_t due = proctable_due(t);
		struct timespec ts;

		if (due > now) {
			ts = clock_timespec(due < end ? due : end);
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			continue;
		}
		proctable_step(t, now);
	}
	proctable_get_stats(t, &st);
	printf("proctable_processes: %zu processes\n", st.entries);
	printf("proctable_idle_cpu_share_pct: %.4f %% (over %lld s)\n",
	       (double)(cpu_ns() - c0) / (double)(clock_mono_ns() - t0) * 100, (long long)secs);
	printf("proctable_idle_pass_cpu_ms: %.2f ms\n", st.last_pass_ns / 1e6);
	printf("proctable_idle_period_s: %.0f s\n", st.next_period_ns / 1e9);
	proctable__free(t);
}

/* --- 2. the worst single read ------------------------------------------------------------------ */

static void worst_read(void)
{
	int p[2];
	pid_t c;
	char go;
	struct procscan *s;
	struct proc_facts f;
	double ms[5];

	if (pipe(p))
		return;
	c = fork();
	if (c < 0)
		return;
	if (!c) {
		long page = sysconf(_SC_PAGESIZE);
		char *m;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* 65,000 one-page mappings; alternate protections keep them apart */
		m = mmap(NULL, 65000 * page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		for (long i = 0; m != MAP_FAILED && i < 65000; i += 2)
			mprotect(m + i * page, page, PROT_READ | PROT_WRITE);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &go, 1) != 1 || procscan__new("/proc", NULL, &s)) {
		kill(c, SIGKILL);
		waitpid(c, NULL, 0);
		return;
	}
	for (int i = 0; i < 5; i++) {
		int64_t t0 = clock_mono_ns();

		procscan_read(s, c, PROCSCAN_ALL, &f);
		ms[i] = (clock_mono_ns() - t0) / 1e6;
	}
	qsort(ms, 5, sizeof(double), dcmp);
	printf("procscan_read_65000_maps_ms: %.1f ms (median of 5)\n", ms[2]);
	procscan__free(s);
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	close(p[0]);
}

/* --- 3. 10,000 processes ---------------------------------------------------------------------- */

static pid_t sleepers_pid;
static int sleepers_in = -1;

static long start_sleepers(void)
{
	int in[2], out[2];
	char line[64] = "";
	long n = 0;
	FILE *f;

	if (pipe(in) || pipe(out))
		return 0;
	sleepers_pid = fork();
	if (sleepers_pid < 0)
		return 0;
	if (!sleepers_pid) {
		char arg[16];

		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		snprintf(arg, sizeof(arg), "%d", SLEEPERS);
		execl(build("tests/helpers/sleepers"), "sleepers", arg, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	sleepers_in = in[1];
	f = fdopen(out[0], "r");
	if (f && fgets(line, sizeof(line), f))
		sscanf(line, "ready %ld", &n);
	if (f)
		fclose(f);
	return n;
}

static void stop_sleepers(void)
{
	if (sleepers_in >= 0)
		close(sleepers_in);
	sleepers_in = -1;
	if (sleepers_pid > 0)
		waitpid(sleepers_pid, NULL, 0);
	sleepers_pid = 0;
}

static void ten_thousand(void)
{
	struct proctable_stats st;
	struct proctable *t;
	struct mallinfo2 m0, m1;
	double ms[5], cpu[5];
	size_t bytes = 0;
	int64_t c0, w0, checked = 0;

	m0 = mallinfo2();
	if (proctable__new(&(struct proctable_opts){ 0 }, &t))
		return;
	c0 = cpu_ns();
	w0 = clock_mono_ns();
	proctable_refresh(t, 0);
	proctable_get_stats(t, &st);
	printf("proctable_10k_first_pass_cpu_ms: %.0f ms (%zu processes)\n", (cpu_ns() - c0) / 1e6,
	       st.entries);
	printf("proctable_10k_first_pass_wall_ms: %.0f ms\n", (clock_mono_ns() - w0) / 1e6);
	printf("proctable_10k_longest_step_ms: %.2f ms (wall; %.2f ms of CPU)\n",
	       st.longest_step_ns / 1e6, st.longest_step_cpu_ns / 1e6);
	proctable_refresh(t, 0);
	proctable_get_stats(t, &st);
	printf("proctable_10k_pass_cpu_ms: %.0f ms\n", st.last_pass_ns / 1e6);
	printf("proctable_10k_period_s: %.0f s\n", st.next_period_ns / 1e9);
	m1 = mallinfo2();
	printf("proctable_10k_heap_kb: %zu kB\n",
	       (m1.uordblks + m1.hblkhd - m0.uordblks - m0.hblkhd) >> 10);
	for (int i = 0; i < 5; i++) {
		struct atrisk_query q = { .change_boot_ns = clock_boot_ns(), .level = 3 };
		struct atrisk_json_opts o = { .listed_max = ATRISK_LISTED_MAX };
		struct json_object *j, *v;
		int64_t t0 = clock_mono_ns(), cpu0 = cpu_ns();

		featset_add(&q.lost, feature_lookup("avx2"));
		j = proctable_at_risk(t, &q, &o);
		ms[i] = (clock_mono_ns() - t0) / 1e6;
		cpu[i] = (cpu_ns() - cpu0) / 1e6;
		if (!j)
			continue;
		bytes = strlen(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
		if (json_object_object_get_ex(j, "checked", &v))
			checked = json_object_get_int64(v);
		json_object_put(j);
	}
	qsort(ms, 5, sizeof(double), dcmp);
	qsort(cpu, 5, sizeof(double), dcmp);
	printf("atrisk_list_10k_ms: %.1f ms (median of 5; max %.1f ms; CPU %.1f ms)\n", ms[2],
	       ms[4], cpu[2]);
	printf("atrisk_list_10k_checked: %lld processes re-read at list time\n",
	       (long long)checked);
	printf("atrisk_list_10k_json_bytes: %zu bytes\n", bytes);
	proctable__free(t);
}

/* --- 4. the daemon's loop ------------------------------------------------------------------- */

struct gaps {
	int fd;
	volatile bool stop, ready;
	volatile int64_t max_gap, last;
};

static void *read_pings(void *arg)
{
	struct gaps *g = arg;
	char buf[512];

	while (!g->stop) {
		struct pollfd p = { g->fd, POLLIN, 0 };
		ssize_t n;
		int64_t now;

		if (poll(&p, 1, 50) <= 0)
			continue;
		n = recv(g->fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = 0;
		now = clock_mono_ns();
		if (strstr(buf, "READY=1"))
			g->ready = true;
		if (strstr(buf, "WATCHDOG=1") && g->ready) {
			if (g->last && now - g->last > g->max_gap)
				g->max_gap = now - g->last;
			g->last = now;
		}
	}
	return NULL;
}

static bool log_has(const char *log, long at_least)
{
	FILE *f = fopen(log, "r");
	char line[512];
	bool ok = false;

	while (f && fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "process table: ");

		if (p && strtol(p + 15, NULL, 10) >= at_least)
			ok = true;
	}
	if (f)
		fclose(f);
	return ok;
}

static void daemon_loop(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char conf[512], log[512], buf[1024];
	struct gaps g = { 0 };
	pthread_t th;
	pid_t d;
	FILE *f;

	snprintf(conf, sizeof(conf), "%s/cpudrift.conf", dir);
	snprintf(log, sizeof(log), "%s/daemon.log", dir);
	f = fopen(conf, "w");
	fprintf(f, "state_dir = %s/state\nhooks_dir = off\ntextfile_path = off\njournal = off\n",
		dir);
	fclose(f);
	g.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/notify", dir);
	if (g.fd < 0 || bind(g.fd, (struct sockaddr *)&a, sizeof(a)))
		return;
	pthread_create(&th, NULL, read_pings, &g);
	d = fork();
	if (d < 0) {
		g.stop = true;
		pthread_join(th, NULL);
		return;
	}
	if (!d) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 1);
		dup2(fd, 2);
		setenv("NOTIFY_SOCKET", a.sun_path, 1);
		setenv("WATCHDOG_USEC", "20000", 1);
		execl(build("cpudrift"), "cpudrift", "-v", "-v", "run", "--config", conf,
		      (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 300 && !g.ready; i++)
		usleep(100000);
	sleep(20);
	printf("daemon_loop_gap_max_idle_ms: %.1f ms (pings every 10 ms, over 20 s)\n",
	       g.max_gap / 1e6);
	g.max_gap = 0;
	if (start_sleepers() >= SLEEPERS) {
		for (int i = 0; i < 900 && !log_has(log, SLEEPERS); i++)
			usleep(100000);
		sleep(1);
		printf("daemon_loop_gap_max_ingest_ms: %.1f ms (pings every 10 ms, while the table "
		       "takes in %d new processes)\n",
		       g.max_gap / 1e6, SLEEPERS);
		snprintf(buf, sizeof(buf), "grep 'process table: [0-9]\\{5\\}' %s | tail -1", log);
		fflush(stdout);
		if (system(buf))
			printf("daemon_table_pass: not found\n");
	}
	stop_sleepers();
	kill(d, SIGTERM);
	waitpid(d, NULL, 0);
	g.stop = true;
	pthread_join(th, NULL);
	close(g.fd);
}

int main(void)
{
	char cmd[600];

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!mkdtemp(dir))
		return 1;
	chmod(dir, 0755);
	idle_share();
	worst_read();
	if (start_sleepers() >= SLEEPERS)
		ten_thousand();
	else
		printf("proctable_10k_skipped: 1 (could not start %d processes)\n", SLEEPERS);
	stop_sleepers();
	/* without root the daemon runs degraded; its loop and its table are the same */
	daemon_loop();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) ? 1 : 0;
}
