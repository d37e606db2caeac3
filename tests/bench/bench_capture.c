// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Capture and analysis costs.  The physical limit of a capture is the number of CPUID
 * instructions it must issue times the cost of one (a VM exit in a guest); the ratio
 * says how much the walk adds on top.  Prints `name: value unit` lines; asserts nothing.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libcpuid/libcpuid.h>

#include "analysis/decode.h"
#include "capture/capture.h"
#include "analysis/diff.h"
#include "capture/hw.h"
#include "core/log.h"

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), dcmp);
	return v[n / 2];
}

#define RUNS 101

int main(void)
{
	double t[RUNS], cpuid_ns, capture_ns, decode_ns, diff_ns;
	struct snapshot *a = NULL, *b = NULL;
	struct capture_opts co = { .only_cpu = 0 };
	struct errbuf err;
	cpu_set_t one;
	uint32_t r[4];
	int count = 0;

	CPU_ZERO(&one);
	CPU_SET(0, &one);
	sched_setaffinity(0, sizeof(one), &one);

	/* One CPUID: batches of 100, median batch. */
	for (int i = 0; i < RUNS; i++) {
		double t0 = now_ns();

		for (int k = 0; k < 100; k++)
			hw_cpuid(0, 0, r);
		t[i] = (now_ns() - t0) / 100;
	}
	cpuid_ns = median(t, RUNS);

	for (int i = 0; i < RUNS; i++) {
		struct vcpu_dump v = { 0 };
		double t0 = now_ns();

		count = capture_vcpu(&v);
		t[i] = now_ns() - t0;
		free(v.leaves);
		if (count < 0) {
			fprintf(stderr, "bench: capture failed\n");
			return 1;
		}
	}
	capture_ns = median(t, RUNS);

	printf("cpuid_instruction_cost: %.0f ns\n", cpuid_ns);
	printf("capture_one_vcpu_time: %.1f us\n", capture_ns / 1e3);
	printf("capture_cpuid_instructions: %d count\n", count);
	printf("capture_physical_limit: %.1f us\n", count * cpuid_ns / 1e3);
	printf("capture_vs_limit_ratio: %.3f ratio\n", capture_ns / (count * cpuid_ns));

	for (int i = 0; i < 21; i++) {
		struct cpu_raw_data_t raw;
		double t0 = now_ns();

		if (cpuid_get_raw_data(&raw)) {
			fprintf(stderr, "bench: libcpuid failed: %s\n", cpuid_error());
			return 1;
		}
		t[i] = now_ns() - t0;
	}
	printf("libcpuid_get_raw_data_time: %.1f us\n", median(t, 21) / 1e3);

	if (capture_snapshot(&a, &co, &err) || capture_snapshot(&b, &co, &err)) {
		fprintf(stderr, "bench: %s\n", err.msg);
		return 1;
	}
	for (int i = 0; i < RUNS; i++) {
		double t0 = now_ns();

		decode_snapshot(b, &err);
		t[i] = now_ns() - t0;
	}
	decode_ns = median(t, RUNS);
	for (int i = 0; i < RUNS; i++) {
		struct diff d;
		double t0 = now_ns();

		diff_snapshots(a, b, &d);
		t[i] = now_ns() - t0;
		diff_free(&d);
	}
	diff_ns = median(t, RUNS);
	printf("decode_time: %.1f us\n", decode_ns / 1e3);
	printf("diff_time: %.1f us\n", diff_ns / 1e3);
	printf("decode_plus_diff_time: %.1f us\n", (decode_ns + diff_ns) / 1e3);
	snapshot__free(a);
	snapshot__free(b);
	return 0;
}
