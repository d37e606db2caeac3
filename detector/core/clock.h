/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Clocks in nanoseconds: the one place that turns a struct timespec into an int64_t.
 * CLOCK_MONOTONIC orders events, CLOCK_REALTIME names them for people, CLOCK_BOOTTIME is
 * what the kernel stamps faults and process starts with; they differ by the time spent
 * suspended (boot - mono) and by the wall-clock setting (real - mono).
 */
#ifndef CPUDRIFT_CLOCK_H
#define CPUDRIFT_CLOCK_H

#include <stdint.h>
#include <time.h>

#define NSEC_PER_SEC 1000000000LL
#define NSEC_PER_MSEC 1000000LL

/** @c now, in nanoseconds. */
int64_t clock_ns(clockid_t c);

static inline int64_t clock_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static inline int64_t clock_real_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

static inline int64_t clock_boot_ns(void)
{
	return clock_ns(CLOCK_BOOTTIME);
}

/** A CLOCK_MONOTONIC time as CLOCK_BOOTTIME (constant offset between suspends). */
int64_t clock_mono_to_boot(int64_t mono_ns);
/** A CLOCK_BOOTTIME time as CLOCK_MONOTONIC. */
int64_t clock_boot_to_mono(int64_t boot_ns);

/** @ns as a struct timespec (for timerfds). */
struct timespec clock_timespec(int64_t ns);

#endif
