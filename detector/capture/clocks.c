// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Periodic timing samplers: host clocks (RTC, PTP), TSC rate, steal, CPUID exits, HRE.  Each
 * sample fills an observation and says whether it made one; timesrc.c decides when to
 * sample and where the observation goes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/ptp_clock.h>
#include <linux/rtc.h>

#include "capture/hw.h"
#include "capture/clocks.h"
#include "core/clock.h"

/* --- host clocks ------------------------------------------------------------------------- */

static int64_t rtc_read_ns(int fd)
{
	struct rtc_time rt;
	struct tm tm = { 0 };

	if (ioctl(fd, RTC_RD_TIME, &rt))
		return INT64_MIN;
	tm.tm_sec = rt.tm_sec;
	tm.tm_min = rt.tm_min;
	tm.tm_hour = rt.tm_hour;
	tm.tm_mday = rt.tm_mday;
	tm.tm_mon = rt.tm_mon;
	tm.tm_year = rt.tm_year;
	return (int64_t)timegm(&tm) * NSEC_PER_SEC;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/*
 * With update interrupts the fd wakes us on the RTC's second edge, so the RTC reads
 * N.000 s: the offset is exact up to our wake-up latency, which only ever makes it look
 * smaller (the realtime reading comes late).  A wake-up delayed by a busy loop (a capture
 * right after a migration) is such a reading: the median of the last few keeps it out.
 * Without update interrupts only whole seconds are known and the uncertainty is a second.
 */
bool clocks_rtc_sample(struct clocks *ts, struct observation *o)
{
	int64_t rtc, real, boot;
	unsigned long data;

	if (ts->rtc_uie && read(ts->rtc_fd, &data, sizeof(data)) < 0)
		return false;
	ts->rtc_last_wake = clock_ns(CLOCK_MONOTONIC);
	boot = clock_ns(CLOCK_BOOTTIME);
	real = clock_ns(CLOCK_REALTIME);
	rtc = rtc_read_ns(ts->rtc_fd);
	if (rtc == INT64_MIN)
		return false;
	return clocks_rtc_reading(ts, rtc, boot, real, ts->rtc_last_wake, o);
}

/*
 * The window holds RTC - CLOCK_BOOTTIME, which nobody sets: a step of CLOCK_REALTIME (date
 * -s, an NTP step) between two readings would otherwise leave readings from both sides of
 * it in the window, and their median would move by the step only a few readings later,
 * after the clock_step rule had already taken the step out of the offset: a host-clock
 * step that never happened.  The offset sent is that median against CLOCK_REALTIME now.
 */
bool clocks_rtc_reading(struct clocks *ts, int64_t rtc, int64_t boot, int64_t real, int64_t mono,
			struct observation *o)
{
	int64_t off, sorted[CLOCKS_RTC_MEDIAN];
	bool moved;

	ts->rtc_win[ts->rtc_pos] = rtc - boot;
	ts->rtc_pos = (ts->rtc_pos + 1) % CLOCKS_RTC_MEDIAN;
	/*
	 * Nothing before most of the window is there: the first readings come while the daemon
	 * starts (BPF loading, the first capture), and one of them taken late would be the
	 * baseline every later reading seems to jump from.
	 */
	if (ts->rtc_nwin < CLOCKS_RTC_MEDIAN && ++ts->rtc_nwin < CLOCKS_RTC_MEDIAN / 2 + 1)
		return false;
	memcpy(sorted, ts->rtc_win, ts->rtc_nwin * sizeof(*sorted));
	qsort(sorted, ts->rtc_nwin, sizeof(*sorted), cmp_i64);
	off = sorted[ts->rtc_nwin / 2] + (boot - real);
	moved = llabs(off - ts->rtc_last_off) >= 2000000;
	if (ts->rtc_last_emit && !moved && !ts->rtc_last_moved &&
	    mono - ts->rtc_last_emit < ts->rtc_quiet_s * NSEC_PER_SEC)
		return false;
	observe_init(o, OBS_HOSTCLOCK);
	o->mono_ns = mono;
	o->real_ns = real;
	snprintf(o->text, sizeof(o->text), "rtc0");
	o->hostclock.offset_ns = off;
	o->hostclock.err_ns = ts->rtc_uie ? 10000000 : 1000000000;
	ts->rtc_last_moved = ts->rtc_last_emit && moved;
	ts->rtc_last_off = off;
	ts->rtc_last_emit = mono;
	return true;
}

/*
 * rtc-cmos emulates update interrupts with its alarm: when the RTC jumps past the alarm
 * second (the host clock moved on while the VM was paused: the very event we look for)
 * the interrupts stop.  Re-arm them when none came for a few seconds.
 */
void clocks_rtc_rearm(struct clocks *ts)
{
	int64_t now = clock_ns(CLOCK_MONOTONIC);

	if (ts->rtc_fd < 0 || !ts->rtc_uie)
		return;
	if (!ts->rtc_last_wake) {
		ts->rtc_last_wake = now;
		return;
	}
	if (now - ts->rtc_last_wake < 3000000000LL)
		return;
	ioctl(ts->rtc_fd, RTC_UIE_OFF, 0);
	if (ioctl(ts->rtc_fd, RTC_UIE_ON, 0))
		ts->rtc_uie = false; /* fall back to 1 s resolution samples on the tick */
	ts->rtc_last_wake = now;
}

static int64_t pct_ns(const struct ptp_clock_time *t)
{
	return (int64_t)t->sec * 1000000000 + t->nsec;
}

/* The narrowest of a few system-PHC-system brackets. */
bool clocks_ptp_sample(struct clocks *ts, int i, struct observation *o)
{
	struct ptp_sys_offset so = { .n_samples = 5 };
	int64_t best = INT64_MAX, off = 0;
	struct ptp_dev *p = &ts->ptp[i];

	if (ioctl(p->fd, PTP_SYS_OFFSET, &so))
		return false;
	for (unsigned i = 0; i < so.n_samples; i++) {
		int64_t a = pct_ns(&so.ts[2 * i]), phc = pct_ns(&so.ts[2 * i + 1]);
		int64_t b = pct_ns(&so.ts[2 * i + 2]);

		if (b - a < best) {
			best = b - a;
			off = phc - (a + b) / 2;
		}
	}
	observe_init(o, OBS_HOSTCLOCK);
	snprintf(o->text, sizeof(o->text), "%s", p->name);
	o->hostclock.offset_ns = off;
	o->hostclock.err_ns = best / 2;
	return true;
}

int clocks_open_host(struct clocks *ts, char *detail, size_t len)
{
	struct dirent *de;
	DIR *d;

	ts->rtc_fd = open("/dev/rtc0", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (ts->rtc_fd >= 0)
		ts->rtc_uie = !ioctl(ts->rtc_fd, RTC_UIE_ON, 0);
	d = opendir("/dev");
	while (d && (de = readdir(d)) && ts->nptp < CLOCKS_MAX_PTP) {
		char path[300];
		int fd;

		if (strncmp(de->d_name, "ptp", 3))
			continue;
		snprintf(path, sizeof(path), "/dev/%s", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ts->ptp[ts->nptp].fd = fd;
		snprintf(ts->ptp[ts->nptp].name, sizeof(ts->ptp[0].name), "%.15s", de->d_name);
		ts->nptp++;
	}
	if (d)
		closedir(d);
	if (ts->rtc_fd < 0 && !ts->nptp)
		return -ENODEV;
	snprintf(detail, len, "%s%s, %d PTP clock(s)", ts->rtc_fd >= 0 ? "rtc0" : "no rtc0",
		 ts->rtc_fd >= 0 ? (ts->rtc_uie ? " (update interrupts)" : " (1 s resolution)") :
				   "",
		 ts->nptp);
	return 0;
}

/* --- TSC ------------------------------------------------------------------------------- */

/*
 * The advertised TSC rate: the hypervisor's leaf 0x40000010 (VMware, KVM with the
 * vmware-cpuid-freq option), else the crystal ratio of leaf 0x15.  Leaf 0x16 is left out:
 * it gives the nominal base clock, which need not be the TSC rate.
 */
int64_t clocks_tsc_ref_hz(void)
{
	uint32_t r[4];

	hw_cpuid(0x40000000, 0, r);
	if (r[0] >= 0x40000010 && r[0] < 0x40000100) {
		hw_cpuid(0x40000010, 0, r);
		if (r[0])
			return (int64_t)r[0] * 1000;
	}
	hw_cpuid(0, 0, r);
	if (r[0] >= 0x15) {
		hw_cpuid(0x15, 0, r);
		if (r[0] && r[1] && r[2])
			return (int64_t)r[2] * r[1] / r[0];
	}
	return 0;
}

/* One (TSC, CLOCK_MONOTONIC_RAW) pair from the narrowest of a few brackets. */
static void tsc_pair(uint64_t *tsc, int64_t *raw)
{
	int64_t best = INT64_MAX;

	for (int i = 0; i < 5; i++) {
		int64_t a = clock_ns(CLOCK_MONOTONIC_RAW);
		uint64_t t = hw_rdtsc();
		int64_t b = clock_ns(CLOCK_MONOTONIC_RAW);

		if (b - a < best) {
			best = b - a;
			*tsc = t;
			*raw = a + (b - a) / 2;
		}
	}
}

bool clocks_tsc_sample(struct clocks *ts, struct observation *o)
{
	uint64_t tsc = 0;
	int64_t raw = 0;
	bool made = false;

	tsc_pair(&tsc, &raw);
	if (ts->raw_prev && raw > ts->raw_prev) {
		observe_init(o, OBS_TSC);
		o->tsc.interval_ns = raw - ts->raw_prev;
		o->tsc.hz = (int64_t)((double)(tsc - ts->tsc_prev) * 1e9 / o->tsc.interval_ns);
		o->tsc.ref_hz = ts->tsc_ref_hz;
		made = true;
	}
	ts->tsc_prev = tsc;
	ts->raw_prev = raw;
	return made;
}

/* --- steal, CPUID exits, Hyper-V --------------------------------------------------------- */

static int64_t read_steal_ns(void)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "re");
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n != 8)
		return -1;
	return (int64_t)(v[7] * (1000000000.0 / sysconf(_SC_CLK_TCK)));
}

bool clocks_steal_sample(struct clocks *ts, struct observation *o)
{
	int64_t s = read_steal_ns(), mono = clock_ns(CLOCK_MONOTONIC);
	bool made = false;

	if (s < 0)
		return false;
	if (ts->steal_have && mono > ts->steal_mono) {
		observe_init(o, OBS_STEAL);
		o->steal.steal_ns = s - ts->steal_prev;
		o->steal.interval_ns = mono - ts->steal_mono;
		o->steal.ncpu = ts->ncpu;
		made = true;
	}
	ts->steal_have = true;
	ts->steal_prev = s;
	ts->steal_mono = mono;
	return made;
}

bool clocks_cpuid_lat_sample(struct clocks *ts, struct observation *o)
{
	int n = ts->cpuid_lat_n > 0 ? ts->cpuid_lat_n : 300;
	int64_t *d = malloc(n * sizeof(*d));
	uint32_t r[4];

	if (!d)
		return false;
	for (int i = 0; i < n; i++) {
		int64_t a = clock_ns(CLOCK_MONOTONIC_RAW);

		hw_cpuid(0, 0, r);
		d[i] = clock_ns(CLOCK_MONOTONIC_RAW) - a;
	}
	qsort(d, n, sizeof(*d), cmp_i64);
	observe_init(o, OBS_CPUID_LAT);
	o->cpuid_lat.median_ns = d[n / 2];
	o->cpuid_lat.p90_ns = d[n * 9 / 10];
	o->cpuid_lat.n = n;
	free(d);
	return true;
}

/* Sum of the HRE line of /proc/interrupts, or -1 when there is none (not Hyper-V). */
int64_t clocks_read_hre(void)
{
	char line[4096];
	int64_t sum = -1;
	FILE *f = fopen("/proc/interrupts", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " "), *end;

		if (strncmp(p, "HRE:", 4))
			continue;
		sum = 0;
		for (p += 4;; p = end) {
			unsigned long long v = strtoull(p, &end, 10);

			if (end == p)
				break;
			sum += v;
		}
		break;
	}
	fclose(f);
	return sum;
}

bool clocks_hre_sample(struct observation *o)
{
	int64_t c = clocks_read_hre();

	if (c < 0)
		return false;
	observe_init(o, OBS_HRE);
	o->hre.count = c;
	return true;
}

void clocks_init(struct clocks *c)
{
	memset(c, 0, sizeof(*c));
	c->rtc_fd = -1;
	c->ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
}

void clocks_close(struct clocks *c)
{
	if (c->rtc_fd >= 0 && c->rtc_uie)
		ioctl(c->rtc_fd, RTC_UIE_OFF, 0);
	if (c->rtc_fd >= 0)
		close(c->rtc_fd);
	for (int i = 0; i < c->nptp; i++)
		close(c->ptp[i].fd);
	c->rtc_fd = -1;
	c->nptp = 0;
}
