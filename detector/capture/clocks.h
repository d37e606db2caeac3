/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The periodic timing samplers (capture): host clocks (RTC, PTP) against CLOCK_REALTIME,
 * the TSC rate against CLOCK_MONOTONIC_RAW, steal time, the cost of a CPUID exit and the
 * Hyper-V reenlightenment count.  Each sample fills one observation and returns whether it
 * made one; timesrc.c schedules them.
 */
#ifndef CPUDRIFT_CLOCKS_H
#define CPUDRIFT_CLOCKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/observe.h"

#define CLOCKS_MAX_PTP 4
/* RTC offsets are the median of this many update-edge readings (odd). */
#define CLOCKS_RTC_MEDIAN 5

struct ptp_dev {
	int fd;
	char name[16];
};

struct clocks {
	int rtc_fd; /* -1: none */
	bool rtc_uie; /* update interrupts: the fd wakes on the RTC's second edge */
	int rtc_quiet_s; /* an unchanged RTC offset is re-sent this often */
	int64_t rtc_last_off, rtc_last_emit;
	bool rtc_last_moved; /* the last offset sent was a change: send the next one too */
	int64_t rtc_last_wake; /* CLOCK_MONOTONIC of the last update interrupt */
	int64_t rtc_win[CLOCKS_RTC_MEDIAN]; /* the newest readings, for the median */
	int rtc_nwin, rtc_pos;
	int nptp;
	struct ptp_dev ptp[CLOCKS_MAX_PTP];

	int64_t tsc_ref_hz; /* clocks_tsc_ref_hz() */
	uint64_t tsc_prev;
	int64_t raw_prev;

	int ncpu;
	int64_t steal_prev, steal_mono;
	bool steal_have;

	int cpuid_lat_n; /* CPUID instructions timed per sample; 0: 300 */
};

void clocks_init(struct clocks *c);
void clocks_close(struct clocks *c);

/** Open /dev/rtc0 and /dev/ptp*; -ENODEV when there is none.  @detail describes them. */
int clocks_open_host(struct clocks *c, char *detail, size_t len);
/**
 * Sample the RTC (on its update interrupt when it has them).  The offset sent is the
 * median of the last CLOCKS_RTC_MEDIAN readings, so one late wake-up moves nothing (none is
 * sent before most of them are there); it is sent when it moved, once more right after a
 * move (the reading that confirms or cancels it), and every rtc_quiet_s otherwise.
 */
bool clocks_rtc_sample(struct clocks *c, struct observation *o);
/**
 * The part of clocks_rtc_sample after the reads: one RTC reading @rtc_ns taken with the
 * clocks at @boot_ns, @real_ns and @mono_ns.  The median is kept against CLOCK_BOOTTIME,
 * so a step of CLOCK_REALTIME moves the offset sent at once and by exactly the step.
 */
bool clocks_rtc_reading(struct clocks *c, int64_t rtc_ns, int64_t boot_ns, int64_t real_ns,
			int64_t mono_ns, struct observation *o);
/** Re-arm the RTC's update interrupts when none came for a few seconds. */
void clocks_rtc_rearm(struct clocks *c);
/** Sample PTP clock @i. */
bool clocks_ptp_sample(struct clocks *c, int i, struct observation *o);

/** The advertised TSC rate (CPUID 0x40000010, else 0x15), 0 when none. */
int64_t clocks_tsc_ref_hz(void);
bool clocks_tsc_sample(struct clocks *c, struct observation *o);
bool clocks_steal_sample(struct clocks *c, struct observation *o);
bool clocks_cpuid_lat_sample(struct clocks *c, struct observation *o);
/** Sum of the HRE line of /proc/interrupts, -1 when there is none (not Hyper-V). */
int64_t clocks_read_hre(void);
bool clocks_hre_sample(struct observation *o);

#endif
