// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/clock.h"

int64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

int64_t clock_mono_to_boot(int64_t mono_ns)
{
	return mono_ns + clock_boot_ns() - clock_mono_ns();
}

int64_t clock_boot_to_mono(int64_t boot_ns)
{
	return boot_ns - clock_boot_ns() + clock_mono_ns();
}

struct timespec clock_timespec(int64_t ns)
{
	return (struct timespec){ .tv_sec = ns / NSEC_PER_SEC, .tv_nsec = ns % NSEC_PER_SEC };
}
