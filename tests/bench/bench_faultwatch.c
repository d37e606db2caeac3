// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fault watcher cost.  The BPF program's run time per signal_generate (bpf_stats, as
 * kernel.bpf_stats_enabled gives it) in separate storms: signals it ignores (SIGUSR1 sent
 * to oneself, SIGCHLD of exiting children), faults it counts (a ud2 storm at one site: the
 * rate limit keeps almost all of them to the counting path), faults it details (every one),
 * and forged signals; the faulting process's own cost per fault without and with the
 * watcher; the latency from a SIGILL to its classified record in user space; the
 * watcher's resident memory.  Storm averages; other processes' signals on the machine
 * land in the same counters.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "analysis/attrib.h"
#include "analysis/classify.h"
#include "capture/capture.h"
#include "capture/faultwatch.h"
#include "core/log.h"
#include "core/snapshot.h"

#define NLAT 1000

struct bench {
	const struct snapshot *snap;
	pid_t pid;
	int n;
	double lat_us[NLAT];
};

static char build_dir[4096];

static int on_fault(const struct fault *f, void *ctx)
{
	struct bench *b = ctx;
	struct classification c;
	struct attribution a;
	struct classify_input in = { .attr = &a, .amx_permitted = -1 };
	struct timespec ts;

	if (!b || f->pid != b->pid || b->n >= NLAT || f->kind != FAULT_DETAIL)
		return 0;
	in.sig = f->sig;
	in.trap_nr = f->trap_nr;
	in.comm = f->comm;
	in.advertised = &b->snap->features;
	in.has_xcr0 = b->snap->has_xcr0;
	in.xcr0 = b->snap->xcr0;
	attrib_decode(f->bytes, f->nbytes, &a);
	classify_fault(&in, &c);
	clock_gettime(CLOCK_BOOTTIME, &ts);
	b->lat_us[b->n++] = ((double)ts.tv_sec * 1e9 + ts.tv_nsec - (double)f->boot_ns) / 1e3;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static long rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/*
 * Run the fault helper with @args, polling @fw (may be NULL) while it runs; the last
 * number it printed (its own ns per fault or signal).
 */
static double run_helper(struct faultwatch *fw, const char *const *args)
{
	char helper[4200], line[64] = "", last[64] = "";
	int out[2], status;
	pid_t pid;
	FILE *f;

	snprintf(helper, sizeof(helper), "%s/tests/helpers/sigill_child", build_dir);
	if (pipe(out))
		return -1;
	pid = fork();
	if (!pid) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(out[1], 1);
		close(out[0]);
		execv(helper, (char *const *)args);
		_exit(127);
	}
	close(out[1]);
	f = fdopen(out[0], "r");
	while (fgets(line, sizeof(line), f)) {
		snprintf(last, sizeof(last), "%s", line);
		if (fw)
			faultwatch_poll(fw, 0);
	}
	fclose(f);
	while (waitpid(pid, &status, 0) < 0)
		;
	if (fw) {
		faultwatch_consume(fw, 0, NULL);
		faultwatch_flush(fw, 0, 0, NULL);
	}
	return strtod(last, NULL);
}

struct run {
	__u64 ns, cnt;
};

static struct run prog_run(int fd)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return (struct run){ 0, 0 };
	return (struct run){ info.run_time_ns, info.run_cnt };
}

/*
 * One storm: the program's average run time over it, printed as @name (NULL: not printed);
 * the helper's own cost per fault or signal.
 */
static double storm(struct faultwatch *fw, const char *name, const char *const *args)
{
	struct run r0 = prog_run(faultwatch_prog_fd(fw)), r1;
	double own = run_helper(fw, args);

	r1 = prog_run(faultwatch_prog_fd(fw));
	if (!name)
		return own;
	if (r1.cnt > r0.cnt)
		printf("faultwatch_bpf_ns_per_%s: %.0f ns (%llu runs)\n", name,
		       (double)(r1.ns - r0.ns) / (double)(r1.cnt - r0.cnt),
		       (unsigned long long)(r1.cnt - r0.cnt));
	else
		printf("faultwatch_bpf_ns_per_%s: unavailable (bpf_stats)\n", name);
	return own;
}

int main(void)
{
	/* One site's bucket keeps the storm on the counting path; the latency run details all. */
	struct faultwatch_opts counting = { 0 };
	struct faultwatch_opts detailing = { .burst = 1u << 30,
					     .interval_ns = 1,
					     .detail_burst = 1u << 30,
					     .detail_interval_ns = 1 };
	struct capture_opts co = { .only_cpu = -1, .skip_extra = true };
	static struct bench b;
	struct errbuf err = { "" };
	struct snapshot *s = NULL;
	struct faultwatch *fw;
	const char *build = getenv("CPUDRIFT_BUILD");
	int stats_fd;
	double bare, watched;

	if (geteuid() != 0) {
		fprintf(stderr, "bench_faultwatch: skipped: needs root\n");
		return 0;
	}
	snprintf(build_dir, sizeof(build_dir), "%s", build ? build : "build");
	if (capture_snapshot(&s, &co, &err)) {
		fprintf(stderr, "bench_faultwatch: %s\n", err.msg);
		return 1;
	}
	b.snap = s;

	/*
	 * The faulting process alone, then watched: the minimum of three runs each, taken in
	 * turns, so that other load on the machine weighs on both alike.
	 */
	{
		const char *timed[] = { "sigill_child", "timed", "50000", NULL };

		if (faultwatch__new(&counting, on_fault, NULL, &fw, &err)) {
			fprintf(stderr, "bench_faultwatch: %s\n", err.msg);
			return 1;
		}
		stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		printf("faultwatch_variant: %s\n", fault_variant_name(faultwatch_variant(fw)));
		bare = watched = 1e18;
		for (int i = 0; i < 3; i++) {
			double w = storm(fw, i ? NULL : "counted_fault", timed);

			faultwatch__free(fw);
			fw = NULL;
			double u = run_helper(NULL, timed);

			bare = u < bare ? u : bare;
			watched = w < watched ? w : watched;
			if (faultwatch__new(&counting, on_fault, NULL, &fw, &err)) {
				fprintf(stderr, "bench_faultwatch: %s\n", err.msg);
				return 1;
			}
		}
		printf("faultwatch_process_ns_per_fault_unwatched: %.0f ns\n", bare);
		printf("faultwatch_process_ns_per_fault_watched: %.0f ns\n", watched);
		printf("faultwatch_process_added_ns_per_fault: %.0f ns\n", watched - bare);
	}
	{
		const char *usr1[] = { "sigill_child", "signals", "USR1", "200000", NULL };
		const char *chld[] = { "sigill_child", "signals", "CHLD", "3000", NULL };
		struct run e0 = prog_run(faultwatch_exit_prog_fd(fw)), e1;

		printf("faultwatch_process_ns_per_sigusr1: %.0f ns\n",
		       storm(fw, "ignored_sigusr1", usr1));
		printf("faultwatch_process_ns_per_child: %.0f ns\n",
		       storm(fw, "ignored_sigchld", chld));
		e1 = prog_run(faultwatch_exit_prog_fd(fw));
		if (e1.cnt > e0.cnt)
			printf("faultwatch_exit_bpf_ns_per_exit: %.0f ns (%llu runs)\n",
			       (double)(e1.ns - e0.ns) / (double)(e1.cnt - e0.cnt),
			       (unsigned long long)(e1.cnt - e0.cnt));
	}
	faultwatch__free(fw);

	/* Every fault detailed, 1 ms apart: the detail path and the latency to user space. */
	if (faultwatch__new(&detailing, on_fault, &b, &fw, &err)) {
		fprintf(stderr, "bench_faultwatch: %s\n", err.msg);
		return 1;
	}
	{
		char count[16];
		const char *paced[] = { "sigill_child", "paced", count, "1000", NULL };
		struct run r0 = prog_run(faultwatch_prog_fd(fw)), r1;
		char helper[4200];
		int status;

		snprintf(count, sizeof(count), "%d", NLAT);
		snprintf(helper, sizeof(helper), "%s/tests/helpers/sigill_child", build_dir);
		b.pid = fork();
		if (!b.pid) {
			int null = open("/dev/null", O_RDWR);

			dup2(null, 0);
			dup2(null, 1);
			execv(helper, (char *const *)paced);
			_exit(127);
		}
		while (waitpid(b.pid, &status, WNOHANG) == 0)
			faultwatch_poll(fw, 100);
		faultwatch_poll(fw, 100);
		r1 = prog_run(faultwatch_prog_fd(fw));
		if (r1.cnt > r0.cnt)
			printf("faultwatch_bpf_ns_per_detailed_fault: %.0f ns (%llu runs)\n",
			       (double)(r1.ns - r0.ns) / (double)(r1.cnt - r0.cnt),
			       (unsigned long long)(r1.cnt - r0.cnt));
	}
	if (b.n) {
		qsort(b.lat_us, b.n, sizeof(b.lat_us[0]), cmp_double);
		printf("faultwatch_latency_median_us: %.1f us\n", b.lat_us[b.n / 2]);
		printf("faultwatch_latency_p99_us: %.1f us\n", b.lat_us[b.n * 99 / 100]);
	}
	printf("faultwatch_events_measured: %d events\n", b.n);
	printf("faultwatch_rss_kb: %ld kB\n", rss_kb());
	faultwatch__free(fw);
	if (stats_fd >= 0)
		close(stats_fd);
	snapshot__free(s);
	return 0;
}
