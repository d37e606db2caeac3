/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by timesrc.c (the loop, BPF, clock steps, kmsg) and timesrc_clocks.c (samplers). */
#ifndef CPUDRIFT_TIMESRC_PRIV_H
#define CPUDRIFT_TIMESRC_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "capture/timesrc.h"
#include "core/clock.h"

#define MAX_PTP 4

struct ptp_dev {
	int fd;
	char name[16];
};

struct timesrc {
	struct timesrc_opts o;
	timesrc_cb cb;
	void *ctx;
	unsigned active;
	char detail[OBS__COUNT][96];
	uint64_t ticks;

	struct stall_bpf *skel;
	struct ring_buffer *rb;
	const char *variant;
	int64_t real_off; /* CLOCK_REALTIME - CLOCK_MONOTONIC, for stall events */

	int tick_fd;
	int step_fd;
	int64_t wall_off; /* CLOCK_REALTIME - CLOCK_BOOTTIME at the last tick */

	int rtc_fd;
	bool rtc_uie;
	int64_t rtc_last_off, rtc_last_emit;
	int64_t rtc_last_wake; /* CLOCK_MONOTONIC of the last update interrupt */
	int nptp;
	struct ptp_dev ptp[MAX_PTP];

	int64_t tsc_ref_hz;
	uint64_t tsc_prev;
	int64_t raw_prev;

	int cs_fd;
	char cs_name[64];
	int kmsg_fd;

	int ncpu;
	int64_t steal_prev, steal_mono;
	bool steal_have;
};

static inline void timesrc_emit(struct timesrc *ts, const struct observation *o)
{
	ts->cb(ts->ctx, o);
}

void timesrc_set_detail(struct timesrc *ts, enum obs_source s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* timesrc_clocks.c */
int timesrc_hostclock_open(struct timesrc *ts);
void timesrc_rtc_sample(struct timesrc *ts);
void timesrc_rtc_rearm(struct timesrc *ts);
void timesrc_ptp_sample(struct timesrc *ts, struct ptp_dev *p);
int64_t timesrc_tsc_ref_hz(void);
void timesrc_tsc_sample(struct timesrc *ts);
void timesrc_steal_sample(struct timesrc *ts);
void timesrc_cpuid_lat_sample(struct timesrc *ts);
int64_t timesrc_read_hre(void);
void timesrc_hre_sample(struct timesrc *ts);

#endif
