// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Live timing sources.  The stall program follows open -> set rodata -> pick variant ->
 * load -> attach -> poll; the others are file descriptors and periodic samples driven by
 * one CLOCK_MONOTONIC timerfd.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/ptp_clock.h>
#include <linux/rtc.h>
#include <linux/types.h>

#include "bpf/stall.h"
#include "core/log.h"
#include "stall.skel.h"
#include "capture/clocks.h"
#include "capture/kernbpf.h"
#include "capture/timesrc.h"
#include "core/clock.h"
#include "analysis/timing.h"

#define CLOCKSOURCE_PATH "/sys/devices/system/clocksource/clocksource0/current_clocksource"

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

	struct clocks clk; /* the periodic samplers */

	int cs_fd;
	char cs_name[64];
	int kmsg_fd;
};

static inline void timesrc_emit(struct timesrc *ts, const struct observation *o)
{
	ts->cb(ts->ctx, o);
}

static void timesrc_set_detail(struct timesrc *ts, enum obs_source s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void timesrc_set_detail(struct timesrc *ts, enum obs_source s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ts->detail[s], sizeof(ts->detail[s]), fmt, ap);
	va_end(ap);
}

void timesrc_opts_default(struct timesrc_opts *o)
{
	struct timing_thresholds th;

	timing_thresholds_default(&th);
	*o = (struct timesrc_opts){
		.sources = TIMESRC_ALL,
		.stall_ns = th.stall_ns,
		.tick_ms = 5000,
		.clocksource_s = 5,
		.ptp_s = 5,
		.tsc_s = 10,
		.steal_s = 10,
		.cpuid_lat_s = 60,
		.cpuid_lat_n = 300,
		.hre_s = 10,
		.rtc_quiet_s = 60,
	};
}

/* --- stall (BPF) ------------------------------------------------------------------------ */

static int stall_event(void *ctx, void *data, size_t len)
{
	struct timesrc *ts = ctx;
	const struct stall_event *e = data;
	struct observation o;

	if (len < sizeof(*e))
		return 0;
	memset(&o, 0, sizeof(o));
	o.src = OBS_STALL;
	o.mono_ns = e->now_ns;
	o.real_ns = e->now_ns + ts->real_off;
	o.stall.cpu = e->cpu;
	o.stall.lateness_ns = e->lateness_ns;
	o.stall.online = ts->clk.ncpu;
	timesrc_emit(ts, &o);
	return 0;
}

/* tp_btf first; raw_tp where BTF-typed tracepoints are missing (older kernels, no BTF). */
static int stall_open(struct timesrc *ts)
{
	static const char *const names[] = { "tp_btf", "raw_tp" };
	int err = -ENOENT;

	kernbpf_init();
	for (int v = 0; v < 2; v++) {
		struct stall_bpf *skel;

		if (ts->o.stall_variant && strcmp(ts->o.stall_variant, names[v]))
			continue;
		skel = stall_bpf__open();
		if (!skel)
			return -errno ?: -ENOMEM;
		skel->data->min_lateness_ns = ts->o.stall_ns;
		bpf_program__set_autoload(skel->progs.stall_btf, v == 0);
		bpf_program__set_autoload(skel->progs.stall_arm_btf, v == 0);
		bpf_program__set_autoload(skel->progs.stall_raw, v == 1);
		bpf_program__set_autoload(skel->progs.stall_arm_raw, v == 1);
		err = stall_bpf__load(skel);
		if (!err)
			err = stall_bpf__attach(skel);
		if (err) {
			log_debug("stall: %s variant failed: %s", names[v], strerror(-err));
			stall_bpf__destroy(skel);
			continue;
		}
		ts->rb = ring_buffer__new(bpf_map__fd(skel->maps.events), stall_event, ts, NULL);
		if (!ts->rb) {
			err = -errno ?: -ENOMEM;
			stall_bpf__destroy(skel);
			return err;
		}
		ts->skel = skel;
		ts->variant = names[v];
		return 0;
	}
	return err;
}

void timesrc_set_stall_threshold(struct timesrc *ts, int64_t stall_ns)
{
	ts->o.stall_ns = stall_ns;
	/* .data is mapped into this process: the program reads it at its next run. */
	if (ts->skel)
		ts->skel->data->min_lateness_ns = (uint64_t)stall_ns;
	if (ts->variant)
		timesrc_set_detail(ts, OBS_STALL, "%s hrtimer_expire_entry, threshold %lld us",
				   ts->variant, (long long)(stall_ns / 1000));
}

const char *timesrc_stall_variant(const struct timesrc *ts)
{
	return ts->variant;
}

int timesrc_stall_prog_fd(const struct timesrc *ts)
{
	if (!ts->skel)
		return -1;
	return bpf_program__fd(!strcmp(ts->variant, "tp_btf") ? ts->skel->progs.stall_btf :
								ts->skel->progs.stall_raw);
}

int timesrc_stall_arm_prog_fd(const struct timesrc *ts)
{
	if (!ts->skel)
		return -1;
	return bpf_program__fd(!strcmp(ts->variant, "tp_btf") ? ts->skel->progs.stall_arm_btf :
								ts->skel->progs.stall_arm_raw);
}

int timesrc_stall_stats(const struct timesrc *ts, struct stall_cpu_stats *st, int max)
{
	int n = libbpf_num_possible_cpus(), key = 0;
	struct stall_cpu_stats *all;

	if (!ts->skel)
		return -ENODEV;
	if (n < 0)
		return n;
	all = calloc(n, sizeof(*all));
	if (!all)
		return -ENOMEM;
	if (bpf_map_lookup_elem(bpf_map__fd(ts->skel->maps.stats), &key, all)) {
		free(all);
		return -errno;
	}
	memcpy(st, all, (n < max ? n : max) * sizeof(*st));
	free(all);
	return n < max ? n : max;
}

/* --- clock steps ------------------------------------------------------------------------- */

static int step_arm(struct timesrc *ts)
{
	/* Never expires (year ~2200); only the cancel on a clock set matters. */
	struct itimerspec its = { .it_value = { .tv_sec = 7258118400LL } };

	return timerfd_settime(ts->step_fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its,
			       NULL) ?
		       -errno :
		       0;
}

static int64_t wall_offset(void)
{
	return clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME);
}

static void step_handle(struct timesrc *ts)
{
	uint64_t n;
	struct observation o;
	int64_t off;

	if (read(ts->step_fd, &n, sizeof(n)) >= 0 || errno != ECANCELED)
		return;
	off = wall_offset();
	observe_init(&o, OBS_CLOCK_STEP);
	o.clock_step.step_ns = off - ts->wall_off;
	ts->wall_off = off;
	if (step_arm(ts))
		log_warn("failed to re-arm the clock-step timer: %s", strerror(errno));
	timesrc_emit(ts, &o);
}

/* --- clocksource and kernel messages ------------------------------------------------------ */

static void clocksource_sample(struct timesrc *ts, bool force)
{
	char buf[64];
	ssize_t n = pread(ts->cs_fd, buf, sizeof(buf) - 1, 0);
	struct observation o;

	if (n <= 0)
		return;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	if (!force && !strcmp(buf, ts->cs_name))
		return;
	snprintf(ts->cs_name, sizeof(ts->cs_name), "%s", buf);
	observe_init(&o, OBS_CLOCKSOURCE);
	snprintf(o.text, sizeof(o.text), "%s", buf);
	timesrc_emit(ts, &o);
}

/* Records are "prio,seq,usec,flags;text\n" plus continuation lines; one per read(). */
static void kmsg_drain(struct timesrc *ts)
{
	char buf[2048];
	ssize_t n;

	for (int i = 0; i < 256; i++) {
		struct observation o;
		char *msg;

		n = read(ts->kmsg_fd, buf, sizeof(buf) - 1);
		if (n < 0 && errno == EPIPE) /* overwritten before we read it: skip on */
			continue;
		if (n <= 0)
			return;
		buf[n] = 0;
		msg = strchr(buf, ';');
		if (!msg)
			continue;
		msg++;
		msg[strcspn(msg, "\n")] = 0;
		if (!timing_kmsg_relevant(msg))
			continue;
		observe_init(&o, OBS_KMSG);
		snprintf(o.text, sizeof(o.text), "%s", msg);
		timesrc_emit(ts, &o);
	}
}

/* --- the periodic tick -------------------------------------------------------------------- */

static bool due(const struct timesrc *ts, enum obs_source src, int every_s)
{
	uint64_t every;

	if (!(ts->active & (1u << src)) || every_s <= 0)
		return false;
	every = (uint64_t)every_s * 1000 / ts->o.tick_ms;
	return ts->ticks % (every ? every : 1) == 0;
}

static void emit_if(struct timesrc *ts, bool made, const struct observation *o)
{
	if (made)
		timesrc_emit(ts, o);
}

static void sample_ptp(struct timesrc *ts)
{
	struct observation o;

	for (int i = 0; i < ts->clk.nptp; i++)
		emit_if(ts, clocks_ptp_sample(&ts->clk, i, &o), &o);
}

static void tick(struct timesrc *ts)
{
	struct observation o;
	uint64_t n;

	if (read(ts->tick_fd, &n, sizeof(n)) <= 0)
		return;
	ts->ticks++;
	/* A pending clock set must be measured against the offset from before it. */
	if (ts->active & (1u << OBS_CLOCK_STEP)) {
		step_handle(ts);
		ts->wall_off = wall_offset();
	}
	ts->real_off = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
	if (due(ts, OBS_CLOCKSOURCE, ts->o.clocksource_s))
		clocksource_sample(ts, false);
	if (due(ts, OBS_HOSTCLOCK, ts->o.ptp_s))
		sample_ptp(ts);
	if (due(ts, OBS_HOSTCLOCK, 1) && ts->clk.rtc_fd >= 0 && !ts->clk.rtc_uie)
		emit_if(ts, clocks_rtc_sample(&ts->clk, &o), &o);
	clocks_rtc_rearm(&ts->clk);
	if (due(ts, OBS_TSC, ts->o.tsc_s))
		emit_if(ts, clocks_tsc_sample(&ts->clk, &o), &o);
	if (due(ts, OBS_STEAL, ts->o.steal_s))
		emit_if(ts, clocks_steal_sample(&ts->clk, &o), &o);
	if (due(ts, OBS_CPUID_LAT, ts->o.cpuid_lat_s))
		emit_if(ts, clocks_cpuid_lat_sample(&ts->clk, &o), &o);
	if (due(ts, OBS_HRE, ts->o.hre_s))
		emit_if(ts, clocks_hre_sample(&o), &o);
}

int timesrc_sample(struct timesrc *ts, enum obs_source src)
{
	struct observation o;

	if (!(ts->active & (1u << src)))
		return -ENODEV;
	switch (src) {
	case OBS_CLOCKSOURCE:
		clocksource_sample(ts, true);
		return 0;
	case OBS_HOSTCLOCK:
		sample_ptp(ts);
		if (ts->clk.rtc_fd >= 0 && !ts->clk.rtc_uie)
			emit_if(ts, clocks_rtc_sample(&ts->clk, &o), &o);
		return 0;
	case OBS_TSC:
		emit_if(ts, clocks_tsc_sample(&ts->clk, &o), &o);
		return 0;
	case OBS_STEAL:
		emit_if(ts, clocks_steal_sample(&ts->clk, &o), &o);
		return 0;
	case OBS_CPUID_LAT:
		emit_if(ts, clocks_cpuid_lat_sample(&ts->clk, &o), &o);
		return 0;
	case OBS_HRE:
		emit_if(ts, clocks_hre_sample(&o), &o);
		return 0;
	default:
		return -EINVAL;
	}
}

/* --- setup and the loop ------------------------------------------------------------------- */

static bool want(const struct timesrc *ts, enum obs_source s)
{
	return ts->o.sources & (1u << s);
}

static void activate(struct timesrc *ts, enum obs_source s, int err, const char *what)
{
	if (err) {
		timesrc_set_detail(ts, s, "unavailable: %s%s%s", what, what[0] ? ": " : "",
				   strerror(-err));
		log_info("timing source %s %s", obs_source_names[s], ts->detail[s]);
		return;
	}
	ts->active |= 1u << s;
	if (!ts->detail[s][0])
		timesrc_set_detail(ts, s, "%s", what);
}

static int open_fd(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int timesrc__new(struct timesrc **out, const struct timesrc_opts *o, timesrc_cb cb, void *ctx,
		 struct errbuf *err)
{
	struct itimerspec its = { 0 };
	struct timesrc *ts;
	int ret;

	*out = NULL;
	ts = calloc(1, sizeof(*ts));
	if (!ts) {
		errbuf_set(err, "failed to allocate timing sources: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	if (o)
		ts->o = *o;
	else
		timesrc_opts_default(&ts->o);
	if (ts->o.tick_ms <= 0)
		ts->o.tick_ms = 1000;
	ts->cb = cb;
	ts->ctx = ctx;
	ts->step_fd = ts->cs_fd = ts->kmsg_fd = -1;
	clocks_init(&ts->clk);
	ts->clk.rtc_quiet_s = ts->o.rtc_quiet_s;
	ts->clk.cpuid_lat_n = ts->o.cpuid_lat_n;
	ts->real_off = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);

	ts->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	its.it_value.tv_sec = its.it_interval.tv_sec = ts->o.tick_ms / 1000;
	its.it_value.tv_nsec = its.it_interval.tv_nsec = ts->o.tick_ms % 1000 * 1000000L;
	if (ts->tick_fd < 0 || timerfd_settime(ts->tick_fd, 0, &its, NULL)) {
		ret = -errno;
		errbuf_set(err, "failed to create the timing tick: %s", strerror(errno));
		timesrc__free(ts);
		return ret;
	}

	if (want(ts, OBS_STALL))
		activate(ts, OBS_STALL, stall_open(ts), "hrtimer_expire_entry");
	if (ts->variant)
		timesrc_set_detail(ts, OBS_STALL,
				   "%s hrtimer_expire_entry + hrtimer_start, threshold %lld us",
				   ts->variant, (long long)(ts->o.stall_ns / 1000));
	if (want(ts, OBS_CLOCK_STEP)) {
		ts->step_fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
		ret = ts->step_fd < 0 ? -errno : step_arm(ts);
		ts->wall_off = wall_offset();
		activate(ts, OBS_CLOCK_STEP, ret, "timerfd cancel-on-set");
	}
	if (want(ts, OBS_HOSTCLOCK))
		activate(ts, OBS_HOSTCLOCK,
			 clocks_open_host(&ts->clk, ts->detail[OBS_HOSTCLOCK],
					  sizeof(ts->detail[OBS_HOSTCLOCK])),
			 "no /dev/rtc0 or /dev/ptp*");
	if (want(ts, OBS_TSC)) {
		ts->clk.tsc_ref_hz = clocks_tsc_ref_hz();
		timesrc_set_detail(ts, OBS_TSC, "every %d s, advertised %lld Hz", ts->o.tsc_s,
				   (long long)ts->clk.tsc_ref_hz);
		activate(ts, OBS_TSC, 0, "");
	}
	if (want(ts, OBS_CLOCKSOURCE)) {
		ts->cs_fd = open_fd(CLOCKSOURCE_PATH, O_RDONLY);
		activate(ts, OBS_CLOCKSOURCE, ts->cs_fd < 0 ? ts->cs_fd : 0, CLOCKSOURCE_PATH);
	}
	if (want(ts, OBS_KMSG)) {
		ts->kmsg_fd = open_fd("/dev/kmsg", O_RDONLY | O_NONBLOCK);
		/* Only what happens from now on: old messages were there before us. */
		if (ts->kmsg_fd >= 0)
			lseek(ts->kmsg_fd, 0, SEEK_END);
		activate(ts, OBS_KMSG, ts->kmsg_fd < 0 ? ts->kmsg_fd : 0, "/dev/kmsg");
	}
	if (want(ts, OBS_STEAL))
		activate(ts, OBS_STEAL, 0, "/proc/stat");
	if (want(ts, OBS_CPUID_LAT))
		activate(ts, OBS_CPUID_LAT, 0, "CPUID leaf 0");
	if (want(ts, OBS_HRE))
		activate(ts, OBS_HRE, clocks_read_hre() < 0 ? -ENODEV : 0,
			 clocks_read_hre() < 0 ? "no HRE line in /proc/interrupts (not Hyper-V)" :
						 "/proc/interrupts HRE");
	*out = ts;
	return 0;
}

void timesrc__free(struct timesrc *ts)
{
	if (!ts)
		return;
	ring_buffer__free(ts->rb);
	stall_bpf__destroy(ts->skel);
	clocks_close(&ts->clk);
	int fds[] = { ts->tick_fd, ts->step_fd, ts->cs_fd, ts->kmsg_fd };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(ts);
}

int timesrc_fds(const struct timesrc *ts, int *fds, int max)
{
	int cand[] = { ts->tick_fd, ts->rb ? ring_buffer__epoll_fd(ts->rb) : -1, ts->step_fd,
		       ts->clk.rtc_uie ? ts->clk.rtc_fd : -1, ts->kmsg_fd };
	int n = 0;

	for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]) && n < max; i++)
		if (cand[i] >= 0)
			fds[n++] = cand[i];
	return n;
}

int timesrc_dispatch(struct timesrc *ts, int fd)
{
	bool all = fd < 0;

	/* The stall program never wakes us (BPF_RB_NO_WAKEUP): drain it on every tick too. */
	if (ts->rb && (all || fd == ring_buffer__epoll_fd(ts->rb) || fd == ts->tick_fd))
		ring_buffer__consume(ts->rb);
	if (ts->step_fd >= 0 && (all || fd == ts->step_fd))
		step_handle(ts);
	if (ts->clk.rtc_uie && (all || fd == ts->clk.rtc_fd)) {
		struct observation o;

		emit_if(ts, clocks_rtc_sample(&ts->clk, &o), &o);
	}
	if (ts->kmsg_fd >= 0 && (all || fd == ts->kmsg_fd))
		kmsg_drain(ts);
	if (all || fd == ts->tick_fd)
		tick(ts);
	return 0;
}

int timesrc_run(struct timesrc *ts, int64_t duration_ns, volatile sig_atomic_t *stop,
		void (*idle)(void *ctx), void *ctx)
{
	int64_t end = duration_ns > 0 ? clock_ns(CLOCK_MONOTONIC) + duration_ns : INT64_MAX;
	int fds[8], n = timesrc_fds(ts, fds, 8), ep = epoll_create1(EPOLL_CLOEXEC), ret = 0;

	if (ep < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = fds[i] };

		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev)) {
			ret = -errno;
			goto out;
		}
	}
	while (!(stop && *stop)) {
		struct epoll_event evs[8];
		int64_t left = end - clock_ns(CLOCK_MONOTONIC);
		int k;

		if (left <= 0)
			break;
		/* No periodic wake-up of our own: a signal ends the wait (EINTR) to check *stop. */
		k = epoll_wait(ep, evs, 8,
			       left > INT_MAX * 1000000LL ? INT_MAX : (int)(left / 1000000) + 1);
		if (k < 0 && errno != EINTR) {
			ret = -errno;
			break;
		}
		for (int i = 0; i < k; i++)
			timesrc_dispatch(ts, evs[i].data.fd);
		if (idle)
			idle(ctx);
	}
out:
	close(ep);
	return ret;
}

bool timesrc_active(const struct timesrc *ts, enum obs_source src)
{
	return ts->active & (1u << src);
}

struct json_object *timesrc_status(const struct timesrc *ts)
{
	struct json_object *o = json_object_new_object();

	for (int s = 0; s < OBS__COUNT; s++) {
		struct json_object *j;

		if (!want(ts, s))
			continue;
		j = json_object_new_object();
		json_object_object_add(j, "active", json_object_new_boolean(timesrc_active(ts, s)));
		json_object_object_add(j, "detail", json_object_new_string(ts->detail[s]));
		json_object_object_add(o, obs_source_names[s], j);
	}
	return o;
}
