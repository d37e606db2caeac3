/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The few instructions capture and timing execute directly. */
#ifndef CPUDRIFT_HW_H
#define CPUDRIFT_HW_H

#include <stdint.h>

static inline void hw_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(subleaf));
}

/* Only valid when CPUID.1:ECX.OSXSAVE is set; #UD otherwise. */
static inline uint64_t hw_xgetbv(uint32_t index)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(index));
	return (uint64_t)hi << 32 | lo;
}

static inline uint64_t hw_rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

#endif
