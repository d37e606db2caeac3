// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The lab's victim: a program that, like any program started on an AVX2 machine, has
 * chosen AVX2 code and keeps running it.  It executes VPADDD (AVX2) every 100 ms, so
 * after a migration to a CPU without AVX2 it dies with SIGILL on that instruction, which
 * is the fault cpudrift has to classify as feature-lost.  Started before the migration
 * and without the GLIBC_TUNABLES mask that keeps cpudrift alive.
 */
#include <cpuid.h>
#include <stdio.h>
#include <stdlib.h>
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

int main(void)
{
	const struct timespec tick = { 0, 100 * 1000 * 1000 };
	unsigned long n = 0;

	prctl(PR_SET_NAME, "victim");
	if (!has_avx2()) {
		fprintf(stderr, "victim: CPUID says no AVX2; nothing to lose\n");
		return 2;
	}
	printf("victim: pid %d running AVX2 code\n", getpid());
	fflush(stdout);
	for (;;) {
		if (avx2_add((unsigned int)n) != 2 * (unsigned int)n)
			abort();
		n++;
		nanosleep(&tick, NULL);
	}
}
