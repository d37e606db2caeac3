// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The lab's victim: a program that, like any program started on an AVX2 machine, has
 * chosen AVX2 code and keeps running it.  It executes VPADDD (AVX2) every 100 ms, so
 * after a migration to a CPU without AVX2 it dies with SIGILL on that instruction, which
 * is the fault cpudrift has to classify as feature-lost.  Started before the migration
 * and without the GLIBC_TUNABLES mask that keeps cpudrift alive.
 *
 * `victim portable` is the program that runs on both CPUs of a move: it picks its code at
 * start as glibc does, AVX2 when CPUID offers it, else SSE2, and keeps that choice.
 */
#include <cpuid.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

/* The target attribute lets the file build for baseline x86-64; only this function needs AVX2. */
__attribute__((target("avx2"), noinline)) static unsigned int avx2_add(unsigned int n)
{
	unsigned int out[8];

	__asm__ volatile("vmovd %1, %%xmm0\n\t"
			 "vpbroadcastd %%xmm0, %%ymm0\n\t"
			 "vpaddd %%ymm0, %%ymm0, %%ymm1\n\t"
			 "vmovdqu %%ymm1, %0\n\t"
			 "vzeroupper"
			 : "=m"(out)
			 : "r"(n)
			 : "xmm0", "xmm1");
	return out[7];
}

static int has_avx2(void)
{
	unsigned int a, b, c, d;

	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return 0;
	return (b >> 5) & 1;
}

/* Baseline x86-64 code: SSE2, which every x86-64 CPU has. */
__attribute__((noinline)) static unsigned int sse2_add(unsigned int n)
{
	unsigned int out[4];

	__asm__ volatile("movd %1, %%xmm0\n\t"
			 "pshufd $0, %%xmm0, %%xmm0\n\t"
			 "paddd %%xmm0, %%xmm0\n\t"
			 "movdqu %%xmm0, %0"
			 : "=m"(out)
			 : "r"(n)
			 : "xmm0");
	return out[3];
}

int main(int argc, char **argv)
{
	const struct timespec tick = { 0, 100 * 1000 * 1000 };
	bool portable = argc > 1 && !strcmp(argv[1], "portable");
	bool avx2 = has_avx2();
	unsigned long n = 0;

	prctl(PR_SET_NAME, "victim");
	if (!avx2 && !portable) {
		fprintf(stderr, "victim: CPUID says no AVX2; nothing to lose\n");
		return 2;
	}
	printf("victim: pid %d running %s code\n", getpid(), avx2 ? "AVX2" : "SSE2");
	fflush(stdout);
	for (;;) {
		unsigned int r = avx2 ? avx2_add((unsigned int)n) : sse2_add((unsigned int)n);

		if (r != 2 * (unsigned int)n)
			abort();
		n++;
		nanosleep(&tick, NULL);
	}
}
