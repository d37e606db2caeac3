// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `cpudrift fleet` over 500 snapshots: wall time, CPU time and peak resident memory of the
 * command (targets: under 1 s and under 64 MB).  The snapshots are this machine's own
 * capture in the export's JSON form, one in five with a leaf 7 feature bit cleared so that
 * inputs differ, in two fleets: as captured (this machine's vCPUs), and 2 to 32 vCPUs each
 * (vCPU 0's leaves copied), where reading is mostly JSON parsing.  CPU time is reported
 * because the machine is shared: wall time depends on what else runs.  Prints
 * `name: value unit` lines; asserts nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "analysis/decode.h"
#include "capture/capture.h"
#include "core/log.h"
#include "formats/snapjson.h"

#define NSNAP 500
#define RUNS 5

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One run of the command; its wall time, CPU time (user + sys) and peak RSS (kB). */
static int run_fleet(char **argv, double *wall, double *cpu, long *maxrss_kb)
{
	struct rusage ru;
	double t0 = now_s();
	int status;
	pid_t pid;

	fflush(stdout); /* the child's freopen would write our buffer a second time */
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		if (!freopen("/dev/null", "w", stdout))
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) != pid)
		return -1;
	*wall = now_s() - t0;
	*cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
	*maxrss_kb = ru.ru_maxrss;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Write NSNAP snapshots of @live into @dir; @max_vcpus 0: as captured. */
static int make_fleet(const struct snapshot *live, const char *dir, int max_vcpus, char **paths,
		      long *bytes)
{
	struct errbuf err = { "" };

	*bytes = 0;
	for (int i = 0; i < NSNAP; i++) {
		struct snapshot *s = snapshot_dup(live);
		int nv = max_vcpus ? 2 + rand() % (max_vcpus - 1) : 0;
		char path[400];
		struct stat st;
		FILE *f;

		if (!s)
			return -1;
		for (int v = s->nvcpus; v < nv; v++) {
			struct vcpu_dump *d = snapshot_add_vcpu(s, v);

			for (size_t k = 0; d && k < s->vcpus[0].n; k++)
				vcpu_dump_put(d, s->vcpus[0].leaves[k].leaf,
					      s->vcpus[0].leaves[k].subleaf,
					      s->vcpus[0].leaves[k].r);
		}
		if (i % 5 == 0)
			for (int v = 0; v < s->nvcpus; v++)
				for (size_t k = 0; k < s->vcpus[v].n; k++)
					if (s->vcpus[v].leaves[k].leaf == 7 &&
					    !s->vcpus[v].leaves[k].subleaf)
						s->vcpus[v].leaves[k].r[1] &= ~(1u << (i / 5 % 32));
		decode_snapshot(s, &err);
		snprintf(path, sizeof(path), "%s/host-%03d.json", dir, i);
		f = fopen(path, "w");
		if (!f || snapshot_write_json(s, f) || fclose(f))
			return -1;
		if (!stat(path, &st))
			*bytes += st.st_size;
		free(paths[i]);
		paths[i] = strdup(path);
		snapshot__free(s);
	}
	return 0;
}

static int measure(const char *name, char **argv, const char *what, long bytes)
{
	double wall[RUNS], cpu[RUNS];
	long rss = 0;

	for (int r = 0; r < RUNS; r++) {
		long kb;

		if (run_fleet(argv, &wall[r], &cpu[r], &kb)) {
			fprintf(stderr, "bench_fleet: %s fleet failed\n", argv[0]);
			return -1;
		}
		rss = kb > rss ? kb : rss;
	}
	qsort(wall, RUNS, sizeof(double), dcmp);
	qsort(cpu, RUNS, sizeof(double), dcmp);
	printf("%s_inputs: %d snapshots, %s, %.1f MB of JSON\n", name, NSNAP, what, bytes / 1e6);
	printf("%s_wall_ms: %.0f ms (median of %d; min %.0f)\n", name, wall[RUNS / 2] * 1e3, RUNS,
	       wall[0] * 1e3);
	printf("%s_cpu_ms: %.0f ms (median of %d; user + sys, all threads)\n", name,
	       cpu[RUNS / 2] * 1e3, RUNS);
	printf("%s_peak_rss_mb: %.1f MB (largest of %d)\n", name, rss / 1024.0, RUNS);
	return 0;
}

int main(void)
{
	const char *build = getenv("CPUDRIFT_BUILD");
	char dir[] = "/tmp/cpudrift-bench-fleet-XXXXXX", prog[512], cmd[600], what[64];
	char **argv = calloc(NSNAP + 3, sizeof(char *));
	struct errbuf err = { "" };
	struct snapshot *live = NULL;
	long bytes;
	int ret = 1;

	if (!argv || !mkdtemp(dir) || capture_snapshot(&live, NULL, &err)) {
		fprintf(stderr, "bench_fleet: cannot set up: %s\n", err.msg);
		return 1;
	}
	snprintf(prog, sizeof(prog), "%s/cpudrift", build ? build : "build");
	argv[0] = prog;
	argv[1] = "fleet";
	srand(42);
	snprintf(what, sizeof(what), "%d vCPUs each (as captured)", live->nvcpus);
	if (make_fleet(live, dir, 0, argv + 2, &bytes) ||
	    measure("fleet_500_captured", argv, what, bytes))
		goto out;
	if (make_fleet(live, dir, 32, argv + 2, &bytes) ||
	    measure("fleet_500_2to32vcpu", argv, "2 to 32 vCPUs each", bytes))
		goto out;
	ret = 0;
out:
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		ret = 1;
	for (int i = 0; i < NSNAP; i++)
		free(argv[i + 2]);
	free(argv);
	snapshot__free(live);
	return ret;
}
