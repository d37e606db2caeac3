// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Probe benchmark: a full pass of the probe table (fork and pipe included, as the daemon
 * pays it) and the in-child cost of one executing and one faulting probe.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capture/probe.h"

#define PASSES 200

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int p_nop(void *scratch)
{
	(void)scratch;
	__asm__ volatile("addps %%xmm0, %%xmm0" ::: "xmm0");
	return 1;
}

static int p_ud2(void *scratch)
{
	(void)scratch;
	__asm__ volatile("ud2");
	return 1;
}

/* Median in-child time of @fn over PASSES probes run in one child. */
static uint64_t per_probe_ns(probe_fn fn)
{
	struct probe_def *t = calloc(PASSES, sizeof(*t));
	struct probe_obs *obs = calloc(PASSES, sizeof(*obs));
	uint64_t *ns = calloc(PASSES, sizeof(*ns)), med;
	size_t k = 0;

	if (!t || !obs || !ns)
		exit(1);
	for (size_t i = 0; i < PASSES; i++)
		t[i] = (struct probe_def){ .feature = "sse", .fn = fn };
	if (probe_execute(t, PASSES, NULL, obs, NULL) < 0)
		exit(1);
	/* The first few pay page faults and the first signal frame: skip them. */
	for (size_t i = 8; i < PASSES; i++)
		ns[k++] = obs[i].ns;
	qsort(ns, k, sizeof(*ns), u64_cmp);
	med = ns[k / 2];
	free(t);
	free(obs);
	free(ns);
	return med;
}

/* A plain fork + _exit + waitpid, for comparison: what the CLONE_VM child avoids. */
static uint64_t fork_ns(void)
{
	uint64_t ns[PASSES];

	for (int i = 0; i < PASSES; i++) {
		uint64_t t0 = now_ns();
		pid_t pid = fork();

		if (pid == 0)
			_exit(0);
		if (pid < 0 || waitpid(pid, NULL, 0) < 0)
			exit(1);
		ns[i] = now_ns() - t0;
	}
	qsort(ns, PASSES, sizeof(ns[0]), u64_cmp);
	return ns[PASSES / 2];
}

int main(void)
{
	uint64_t in_child = 0;
	uint64_t pass[PASSES];
	struct probe_obs *obs = calloc(probe_table_len, sizeof(*obs));
	size_t runnable = 0;

	if (!obs)
		return 1;
	for (size_t i = 0; i < probe_table_len; i++)
		runnable += probe_table[i].fn != NULL;
	for (int i = 0; i < PASSES; i++) {
		uint64_t t0 = now_ns();

		if (probe_execute(probe_table, probe_table_len, NULL, obs, NULL) < 0) {
			fprintf(stderr, "bench_probe: failed to run probes\n");
			return 1;
		}
		pass[i] = now_ns() - t0;
	}
	for (size_t i = 0; i < probe_table_len; i++)
		in_child += obs[i].ns;
	qsort(pass, PASSES, sizeof(pass[0]), u64_cmp);
	printf("probe_count: %zu probes\n", runnable);
	printf("probe_full_pass_us: %.1f us\n", pass[PASSES / 2] / 1000.0);
	printf("probe_full_pass_p90_us: %.1f us\n", pass[PASSES * 9 / 10] / 1000.0);
	printf("probe_pass_in_child_us: %.1f us\n", in_child / 1000.0);
	printf("plain_fork_wait_us: %.1f us\n", fork_ns() / 1000.0);
	printf("probe_cost_executing_ns: %llu ns\n", (unsigned long long)per_probe_ns(p_nop));
	printf("probe_cost_faulting_ns: %llu ns\n", (unsigned long long)per_probe_ns(p_ud2));
	free(obs);
	return 0;
}
