// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fault watcher cost: the BPF program's run time per invocation (bpf_stats), the latency
 * from a SIGILL in a child to the classified event in user space (1,000 faults, 1 ms
 * apart, so each is measured on its own), and the watcher's resident memory.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "analysis/attrib.h"
#include "capture/capture.h"
#include "analysis/classify.h"
#include "capture/faultwatch.h"
#include "core/log.h"
#include "core/snapshot.h"

#define NFAULTS 1000

struct bench {
	const struct snapshot *snap;
	pid_t pid;
	int n;
	double lat_us[NFAULTS];
};

static int on_fault(const struct fault *f, void *ctx)
{
	struct bench *b = ctx;
	struct classification c;
	struct attribution a;
	struct classify_input in = {
		.attr = &a,
		.sig = f->sig,
		.trap_nr = f->trap_nr,
		.comm = f->comm,
		.advertised = &b->snap->features,
		.has_xcr0 = b->snap->has_xcr0,
		.xcr0 = b->snap->xcr0,
		.amx_permitted = -1,
	};
	struct timespec ts;

	if (f->pid != b->pid || b->n >= NFAULTS)
		return 0;
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

int main(void)
{
	/* Detail every fault: the bench measures the event path, not the rate limit. */
	struct faultwatch_opts o = { .burst = 1u << 30, .interval_ns = 1 };
	struct capture_opts co = { .only_cpu = -1, .skip_extra = true };
	struct bpf_prog_info info = { 0 };
	__u32 info_len = sizeof(info);
	static struct bench b;
	struct errbuf err = { "" };
	struct snapshot *s = NULL;
	struct faultwatch *fw;
	char helper[4096], count[16];
	const char *build = getenv("CPUDRIFT_BUILD");
	int stats_fd, status;

	if (geteuid() != 0) {
		fprintf(stderr, "bench_faultwatch: skipped: needs root\n");
		return 0;
	}
	snprintf(helper, sizeof(helper), "%s/tests/helpers/sigill_child", build ? build : "build");
	if (capture_snapshot(&s, &co, &err) || faultwatch__new(&o, on_fault, &b, &fw, &err)) {
		fprintf(stderr, "bench_faultwatch: %s\n", err.msg);
		return 1;
	}
	b.snap = s;
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

	snprintf(count, sizeof(count), "%d", NFAULTS);
	b.pid = fork();
	if (!b.pid) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		execl(helper, helper, "paced", count, "1000", (char *)NULL);
		_exit(127);
	}
	while (waitpid(b.pid, &status, WNOHANG) == 0)
		faultwatch_poll(fw, 100);
	faultwatch_poll(fw, 100);

	if (!bpf_obj_get_info_by_fd(faultwatch_prog_fd(fw), &info, &info_len) && info.run_cnt)
		printf("faultwatch_bpf_ns_per_event: %.0f ns\n",
		       (double)info.run_time_ns / (double)info.run_cnt);
	else
		printf("faultwatch_bpf_ns_per_event: unavailable (bpf_stats)\n");
	if (b.n) {
		qsort(b.lat_us, b.n, sizeof(b.lat_us[0]), cmp_double);
		printf("faultwatch_latency_median_us: %.1f us\n", b.lat_us[b.n / 2]);
		printf("faultwatch_latency_p99_us: %.1f us\n", b.lat_us[b.n * 99 / 100]);
	}
	printf("faultwatch_events_measured: %d events\n", b.n);
	printf("faultwatch_variant: %s\n", fault_variant_name(faultwatch_variant(fw)));
	printf("faultwatch_rss_kb: %ld kB\n", rss_kb());
	if (stats_fd >= 0)
		close(stats_fd);
	faultwatch__free(fw);
	snapshot__free(s);
	return 0;
}
