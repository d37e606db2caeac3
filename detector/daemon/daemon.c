// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The cpudrift service: one single-threaded epoll loop over a signalfd, timerfds, the
 * fault watcher's ring buffer and the timing sources; every input goes down one pipeline
 * (pipeline.h) to the analysis and the sinks.  Modules start in dependency order (config,
 * store, sinks, analysis, BPF sources, snapshots) and stop in reverse.  Without root, BTF
 * or BPF it runs degraded: snapshots, probes and user-space timing only.  With --replay, a
 * recording takes the place of every live source.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "capture/capture.h"
#include "capture/faultwatch.h"
#include "capture/probe.h"
#include "capture/proctable.h"
#include "capture/quickcheck.h"
#include "capture/selfcode.h"
#include "capture/timesrc.h"
#include "core/clock.h"
#include "core/log.h"
#include "daemon/daemon.h"
#include "daemon/daemon_priv.h"
#include "daemon/pipeline.h"
#include "formats/recording.h"
#include "sinks/spool.h"
#include "sinks/store.h"

/* A fault or timing trigger captures at once, but not more often than this. */
#define TRIGGER_MIN_GAP_NS (2 * NSEC_PER_SEC)
#define TRIGGER_DELAY_MS 200
/* A fault re-reads CPUID on its vCPU at most this often. */
#define FRESH_FEATURES_NS NSEC_PER_SEC
/* The process table's first pass runs before the first capture, for at most this long. */
#define PROCTABLE_START_NS (2 * NSEC_PER_SEC)
/*
 * Work per wake-up is bounded, so that a fault storm cannot starve the watchdog: at most
 * this many ring-buffer records, or flushed records, per pass; the rest waits one turn.
 */
#define FAULT_BUDGET 256
/* Counts the kernel kept without a record are flushed once pending this long. */
#define FLUSH_AGE_NS (2 * NSEC_PER_SEC)
/* The textfile is rewritten at most this often while faults keep changing it. */
#define TEXTFILE_MIN_GAP_NS NSEC_PER_SEC

void daemon_set_status(struct daemon *d, const char *key, const char *value)
{
	if (store_set_status(d->store, key, value))
		log_debug("failed to record status %s", key);
}

static void notify_status(struct daemon *d)
{
	const struct snapshot *s = tracker_current(pipeline_tracker(d->pipe));
	char buf[400];

	snprintf(buf, sizeof(buf), "STATUS=%s%s; level v%d, %d features",
		 d->degraded ? "degraded: " : "watching", d->degraded ? d->degraded_why : "",
		 s ? s->level : 0, s ? featset_count(&s->features) : 0);
	sd_notify(0, buf);
}

static void degrade(struct daemon *d, const char *why)
{
	size_t len = strlen(d->degraded_why);

	d->degraded = true;
	snprintf(d->degraded_why + len, sizeof(d->degraded_why) - len, "%s%s", len ? "; " : "",
		 why);
	log_warn("running degraded: %s", why);
}

/*
 * Capture soon, but never twice within TRIGGER_MIN_GAP_NS: evidence that arrives right
 * after a capture is looked at when the gap has passed, not dropped until the interval.
 */
static void arm_trigger(struct daemon *d)
{
	int64_t delay = TRIGGER_DELAY_MS * NSEC_PER_MSEC;
	int64_t gap = d->last_capture_mono + TRIGGER_MIN_GAP_NS - clock_mono_ns();
	struct itimerspec its = { 0 };

	if (d->trigger_armed)
		return;
	if (gap > delay)
		delay = gap;
	its.it_value = clock_timespec(delay);
	d->trigger_armed = !timerfd_settime(d->trigger_fd, 0, &its, NULL);
}

/* A pipeline's answer: its flags, or an error that is logged and survived. */
static void after(struct daemon *d, int flags, const char *what)
{
	if (flags < 0) {
		log_warn("failed to analyse %s: %s", what, strerror(-flags));
		return;
	}
	if (flags & PIPE_TRIGGER && d->trigger_fd >= 0)
		arm_trigger(d);
	if (flags & PIPE_QUICKCHECK)
		d->quick_now = true;
}

/* --- the snapshot cycle ------------------------------------------------------------------ */

/* Capture CPUID and run the probes; the snapshot carries the shadow set. */
static int take(struct daemon *d, struct snapshot **out, struct probe_summary *ps, bool *probed)
{
	struct probe_report *pr = NULL;
	struct errbuf err = { "" };
	int ret;

	*probed = false;
	ret = capture_snapshot(out, NULL, &err);
	d->capture_err = ret;
	if (ret) {
		log_err("failed to capture CPUID: %s", err.msg);
		return ret;
	}
	ret = probe_run(*out, NULL, &pr, &err);
	if (ret == -EINTR) {
		/* Killed from outside (a stop of the whole group): no result, no evidence. */
		log_info("%s: the run is not recorded", err.msg);
		return 0;
	}
	d->probe_err = ret;
	if (d->probe_err) {
		log_warn("failed to run the instruction probes: %s", err.msg);
		return 0;
	}
	probe_summarize(pr, ps);
	(*out)->has_shadow = true;
	(*out)->shadow = pr->shadow;
	probe_report__free(pr);
	*probed = true;
	return 0;
}

static int capture_cycle(struct daemon *d, const char *why)
{
	struct probe_summary ps;
	struct snapshot *s = NULL;
	bool probed;
	int ret;

	log_debug("capturing (%s)", why);
	d->last_capture_mono = d->last_quick_mono = clock_mono_ns();
	ret = take(d, &s, &ps, &probed);
	if (ret)
		return ret;
	after(d, pipeline_snapshot(d->pipe, s), "a snapshot");
	if (probed)
		after(d, pipeline_probes(d->pipe, &ps), "a probe run");
	return 0;
}

/*
 * The quick check: the feature leaves of one vCPU against the last snapshot.  It runs in
 * the loop's own wake-ups (at least one a second), so at default settings it costs its
 * CPUID exits and nothing else.  A difference takes a full snapshot at once: that one is
 * compared, stored and reported like any other.
 */
static void quick_check(struct daemon *d, const char *why)
{
	const struct snapshot *last = tracker_current(pipeline_tracker(d->pipe));
	struct quickcheck_result r;
	const char *n[FEAT__COUNT];
	int ret, nl, ng;

	d->quick_now = false;
	d->last_quick_mono = clock_mono_ns();
	if (!d->qc || !last)
		return;
	ret = quickcheck_run(d->qc, last, &r);
	if (ret) {
		log_debug("failed to run the quick check: %s", strerror(-ret));
		return;
	}
	d->quick_checks++;
	if (!r.differs)
		return;
	d->quick_differences++;
	nl = featset_names(&r.lost, n);
	ng = featset_count(&r.gained);
	log_info("quick check (%s) on vCPU %d: CPUID changed since the last snapshot (%d feature%s "
		 "lost%s%s, %d gained, XCR0 %#llx -> %#llx); capturing",
		 why, r.cpu, nl, nl == 1 ? "" : "s", nl ? ", first " : "", nl ? n[0] : "", ng,
		 (unsigned long long)r.xcr0_then, (unsigned long long)r.xcr0_now);
	capture_cycle(d, "quick check");
	daemon_write_textfile(d);
}

static void quick_check_if_due(struct daemon *d)
{
	int64_t every = (int64_t)d->cfg.quick_check_s * NSEC_PER_SEC;

	if (d->quick_now)
		quick_check(d, "timing trigger");
	else if (every > 0 && clock_mono_ns() - d->last_quick_mono >= every)
		quick_check(d, "periodic");
}

/* During a storm the textfile changes at every record: write it at most once a second. */
static void maybe_write_textfile(struct daemon *d)
{
	if (d->tf_dirty && clock_mono_ns() - d->last_tf_mono >= TEXTFILE_MIN_GAP_NS)
		daemon_write_textfile(d);
}

/* --- sources ----------------------------------------------------------------------------- */

static int on_fault(const struct fault *f, void *ctx)
{
	struct daemon *d = ctx;
	struct fault judged = *f;

	/* A new fault may be the first sign of a migration the last snapshot predates. */
	if (f->kind == FAULT_DETAIL)
		capture_fault_cpuid(pipeline_tracker(d->pipe), &judged, FRESH_FEATURES_NS);
	after(d, pipeline_fault(d->pipe, &judged), "a fault");
	d->tf_dirty = true;
	return 0;
}

static int on_forged(const struct forged_signal *s, void *ctx)
{
	struct daemon *d = ctx;

	log_debug("pid %d (uid %u) generated signal %d for pid %d: not a CPU fault (%s)",
		  s->sender_pid, s->sender_uid, s->sig, s->target_pid, s->reason);
	pipeline_forged(d->pipe, s);
	return 0;
}

/* The watcher's counters to the textfile, the status and watcher.* events. */
static void watcher_counts(struct daemon *d)
{
	struct watcher_counts c;
	char buf[32];

	if (!d->fw || faultwatch_stats(d->fw, &c))
		return;
	after(d, pipeline_watcher(d->pipe, &c, clock_mono_ns()), "the watcher's counters");
	if (!memcmp(&c, &d->shown, sizeof(c)))
		return;
	d->tf_dirty = true;
#define STATUS(field)                                                 \
	do {                                                          \
		snprintf(buf, sizeof(buf), "%" PRIu64, c.field);      \
		if (c.field != d->shown.field)                        \
			daemon_set_status(d, "watcher_" #field, buf); \
	} while (0)
	STATUS(faults);
	STATUS(untracked);
	STATUS(forged);
	STATUS(drops);
	STATUS(traced);
#undef STATUS
	d->shown = c;
}

/* Drain at most FAULT_BUDGET records, in one store transaction. */
static int drain_faults(struct daemon *d)
{
	int ret;

	pipeline_batch_begin(d->pipe);
	ret = faultwatch_consume(d->fw, FAULT_BUDGET, &d->fault_backlog);
	pipeline_batch_end(d->pipe);
	return ret < 0 ? -EIO : 0;
}

/*
 * Count what the kernel counted without a record: every FLUSH_AGE_NS, at once when a
 * process exited, all of it (@all) when the daemon stops.
 */
static void flush_faults(struct daemon *d, bool all)
{
	int64_t now = clock_mono_ns();
	int ret;

	if (!d->fw)
		return;
	if (!all && !d->flush_backlog && !faultwatch_flush_wanted(d->fw) &&
	    now - d->last_flush_mono < FLUSH_AGE_NS)
		return;
	pipeline_batch_begin(d->pipe);
	ret = faultwatch_flush(d->fw, all ? 0 : FLUSH_AGE_NS, all ? 0 : FAULT_BUDGET,
			       &d->flush_backlog);
	pipeline_batch_end(d->pipe);
	if (ret < 0)
		log_warn("failed to flush the fault counts: %s", strerror(-ret));
	d->last_flush_mono = now;
	watcher_counts(d);
}

static void on_observation(void *ctx, const struct observation *o)
{
	struct daemon *d = ctx;

	after(d, pipeline_observe(d->pipe, o), "a timing observation");
}

static int open_faultwatch(struct daemon *d)
{
	struct faultwatch_opts fo = { .sig_mask = d->cfg.fault_signals,
				      .ring_bytes = d->cfg.fault_ring_size,
				      .on_forged = on_forged };
	struct errbuf err = { "" };
	static const char *const counters[] = { "watcher_faults", "watcher_untracked",
						"watcher_forged", "watcher_drops",
						"watcher_traced" };
	struct code_range probes;
	int ret;

	if (faultwatch__new(&fo, on_fault, d, &d->fw, &err)) {
		char why[300];

		snprintf(d->fw_why, sizeof(d->fw_why), "%s", err.msg);
		snprintf(why, sizeof(why), "no fault watcher (%s)", err.msg);
		degrade(d, why);
		d->fw = NULL;
		return 0;
	}
	daemon_set_status(d, "fault_watcher", fault_variant_name(faultwatch_variant(d->fw)));
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		daemon_set_status(d, counters[i], "0");
	/* Our probes fault by design, whoever runs them: know them by where their code is. */
	ret = selfcode_probe_range(&probes);
	if (ret)
		log_warn("failed to locate the probe code: %s; probe faults will be reported",
			 strerror(-ret));
	tracker_set_probe_code(pipeline_tracker(d->pipe), ret ? NULL : &probes);
	return 0;
}

static int open_timing(struct daemon *d, struct errbuf *err)
{
	struct timing_thresholds th;
	struct timesrc_opts to;

	config_timing(&d->cfg, &th);
	timesrc_opts_default(&to);
	to.stall_ns = th.stall_ns;
	if (timesrc__new(&d->ts, &to, on_observation, d, err)) {
		degrade(d, "no timing sources");
		d->ts = NULL;
		return 0;
	}
	if (!timesrc_active(d->ts, OBS_STALL))
		degrade(d, "no stall program (BPF)");
	return 0;
}

/* --- the loop ---------------------------------------------------------------------------- */

enum {
	TAG_SIGNAL = -1,
	TAG_TICK = -2,
	TAG_TRIGGER = -3,
	TAG_WATCHDOG = -4,
	TAG_FAULTS = -5,
	TAG_TABLE = -6,
};

static int watch_fd(struct daemon *d, int fd, int tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)(int64_t)tag };

	if (tag >= 0)
		ev.data.u64 = (uint64_t)fd;
	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int daemon_arm_periodic(int fd, int64_t period_ns)
{
	struct itimerspec its = {
		.it_value = clock_timespec(period_ns),
		.it_interval = clock_timespec(period_ns),
	};

	return timerfd_settime(fd, 0, &its, NULL) ? -errno : 0;
}

static void drain(int fd)
{
	uint64_t n;

	while (read(fd, &n, sizeof(n)) == sizeof(n))
		;
}

static void tick(struct daemon *d)
{
	struct store_limits lim = {
		.rows = (int64_t)d->cfg.retention_rows,
		.days = (int64_t)d->cfg.retention_days,
		.bytes = (int64_t)d->cfg.retention_bytes,
	};
	int n;

	capture_cycle(d, "interval");
	/* A store that fails says so itself (once, and in status): not again each interval. */
	n = store_retain(d->store, &lim, clock_real_ns());
	if (n < 0)
		log_debug("failed to apply retention: %s", strerror(-n));
	else if (n)
		log_debug("retention deleted %d rows", n);
	daemon_write_textfile(d);
}

static int handle(struct daemon *d, struct epoll_event *ev)
{
	int64_t tag = (int64_t)ev->data.u64;
	struct signalfd_siginfo si;

	switch (tag) {
	case TAG_SIGNAL:
		while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
				d->stop = true;
			else if (si.ssi_signo == SIGHUP)
				daemon_reload(d);
			else if (si.ssi_signo == SIGUSR1)
				daemon_check_baseline(d, true);
		}
		return 0;
	case TAG_TICK:
		drain(d->tick_fd);
		tick(d);
		return 0;
	case TAG_TRIGGER:
		drain(d->trigger_fd);
		d->trigger_armed = false;
		capture_cycle(d, "trigger");
		daemon_write_textfile(d);
		return 0;
	case TAG_WATCHDOG:
		drain(d->wd_fd);
		sd_notify(0, "WATCHDOG=1");
		return 0;
	case TAG_FAULTS:
		return drain_faults(d);
	case TAG_TABLE:
		drain(d->table_fd);
		d->table_armed = 0;
		proctable_step(d->procs, clock_mono_ns());
		return 0;
	default:
		return timesrc_dispatch(d->ts, (int)tag);
	}
}

/*
 * Every signal the daemon answers is blocked from the start and read from the loop's
 * signalfd: a reload asked for while the daemon starts waits for the loop instead of
 * killing it (their default action), and a SIGTERM during the start (a capture, a probe
 * run, a store write) ends it cleanly at the next step, exit status 0.  The probe children
 * inherit the mask: a SIGTERM to the whole process group (systemd's KillMode=control-group)
 * does not kill one half-way through a probe.
 */
static void block_signals(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGHUP);
	sigaddset(mask, SIGUSR1);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGINT);
	sigprocmask(SIG_BLOCK, mask, NULL);
}

/* A SIGTERM or SIGINT waits: the start stops at the next step. */
static bool stop_asked(void)
{
	sigset_t set;

	if (sigpending(&set))
		return false;
	return sigismember(&set, SIGTERM) || sigismember(&set, SIGINT);
}

/* The process table's next step, a slice at a time between the other sources. */
static void arm_table(struct daemon *d)
{
	struct itimerspec its = { 0 };
	int64_t due;

	if (!d->procs || d->table_fd < 0)
		return;
	due = proctable_due(d->procs);
	if (due < 1)
		due = 1; /* 0 would disarm; an absolute time past fires at once */
	if (due == d->table_armed)
		return;
	its.it_value = clock_timespec(due);
	if (!timerfd_settime(d->table_fd, TFD_TIMER_ABSTIME, &its, NULL))
		d->table_armed = due;
}

static int setup_loop(struct daemon *d, struct errbuf *err)
{
	sigset_t mask;
	uint64_t wd_usec = 0;
	int fds[32], n, ret;

	block_signals(&mask);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	d->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	d->trigger_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	d->wd_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	d->table_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (d->epfd < 0 || d->sigfd < 0 || d->tick_fd < 0 || d->trigger_fd < 0 || d->wd_fd < 0 ||
	    d->table_fd < 0) {
		errbuf_set(err, "failed to create the event loop: %s", strerror(errno));
		return -errno;
	}
	ret = watch_fd(d, d->sigfd, TAG_SIGNAL);
	if (!ret)
		ret = watch_fd(d, d->tick_fd, TAG_TICK);
	if (!ret)
		ret = watch_fd(d, d->trigger_fd, TAG_TRIGGER);
	if (!ret)
		ret = watch_fd(d, d->wd_fd, TAG_WATCHDOG);
	if (!ret && d->fw)
		ret = watch_fd(d, faultwatch_fd(d->fw), TAG_FAULTS);
	if (!ret)
		ret = watch_fd(d, d->table_fd, TAG_TABLE);
	n = d->ts ? timesrc_fds(d->ts, fds, 32) : 0;
	for (int i = 0; !ret && i < n; i++)
		ret = watch_fd(d, fds[i], 0);
	if (!ret)
		ret = daemon_arm_periodic(d->tick_fd, (int64_t)d->cfg.interval_s * NSEC_PER_SEC);
	if (!ret && sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec)
		ret = daemon_arm_periodic(d->wd_fd, (int64_t)wd_usec * 1000 / 2);
	if (ret)
		errbuf_set(err, "failed to set up the event loop: %s", strerror(-ret));
	return ret;
}

static int loop(struct daemon *d)
{
	struct epoll_event ev[16];

	while (!d->stop) {
		bool backlog = d->fault_backlog;
		int timeout = 1000, n;

		/* The stall episode closes by time, not by the next event: wake at least 1/s. */
		/* Records left by the budget: look at the other sources, then carry on. */
		if (backlog || d->flush_backlog)
			timeout = 0;
		n = epoll_wait(d->epfd, ev, 16, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("failed to wait for events: %s", strerror(errno));
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			int ret = handle(d, &ev[i]);

			if (ret < 0)
				log_warn("failed to handle an event source: %s", strerror(-ret));
			if ((int64_t)ev[i].data.u64 == TAG_FAULTS)
				backlog = false;
		}
		if (backlog && d->fw && drain_faults(d))
			log_warn("failed to drain the fault ring buffer");
		flush_faults(d, false);
		pipeline_store_upkeep(d->pipe);
		maybe_write_textfile(d);
		after(d, pipeline_flush(d->pipe, clock_mono_ns()), "the timing window");
		quick_check_if_due(d);
		if (clock_mono_ns() - d->last_housekeeping_mono >= DAEMON_HOUSEKEEPING_NS)
			daemon_housekeeping(d);
		arm_table(d);
	}
	return 0;
}

/* --- a recording in place of the live sources -------------------------------------------- */

struct replay_run {
	struct daemon *d;
	bool first_done;
	struct errbuf *err;
};

static int replay_line(void *ctx, struct rec_line *l)
{
	struct replay_run *r = ctx;
	struct daemon *d = r->d;
	int ret = 0;

	if (stop_asked())
		return -EINTR;
	switch (l->kind) {
	case REC_OBSERVATION:
		after(d, pipeline_observe(d->pipe, &l->obs), "a timing observation");
		break;
	case REC_SNAPSHOT:
		if (!r->first_done) {
			r->first_done = true;
			ret = pipeline_first_snapshot(d->pipe, l->snap, r->err);
		} else {
			after(d, pipeline_snapshot(d->pipe, l->snap), "a snapshot");
		}
		l->snap = NULL;
		break;
	case REC_PROBE:
		after(d, pipeline_probes(d->pipe, &l->probe), "a probe run");
		break;
	case REC_FAULT:
		after(d, pipeline_fault(d->pipe, l->fault), "a fault");
		break;
	}
	return ret;
}

static int run_replay(struct daemon *d, const char *path, struct errbuf *err)
{
	struct replay_run r = { .d = d, .err = err };
	struct recording_stats st;
	int ret;

	log_info("replaying %s in place of the live sources", path);
	ret = recording_read(path, replay_line, &r, &st, err);
	if (ret == -EINTR && stop_asked()) {
		log_info("stopped during the replay");
		ret = 0;
	}
	if (!ret)
		after(d, pipeline_flush(d->pipe, INT64_MAX), "the end of the recording");
	log_info("replayed %ld lines (%ld bad)", st.lines, st.bad);
	return ret;
}

/* --- start and stop ---------------------------------------------------------------------- */

static void teardown(struct daemon *d)
{
	struct store_health h;

	if (d->store) {
		daemon_set_status(d, "mode", "stopped");
		/* What waits in memory gets a last chance. */
		store_retry(d->store, true);
		store_health(d->store, &h);
		if (h.pending || h.dropped)
			log_warn(
				"%llu events that waited in memory for the store are lost at stop, "
				"%llu more were dropped before (every one reached the journal, the "
				"textfile and the hooks; the event counters are exact)",
				(unsigned long long)h.pending, (unsigned long long)h.dropped);
	}
	if (d->epfd >= 0)
		close(d->epfd);
	if (d->sigfd >= 0)
		close(d->sigfd);
	if (d->tick_fd >= 0)
		close(d->tick_fd);
	if (d->trigger_fd >= 0)
		close(d->trigger_fd);
	if (d->wd_fd >= 0)
		close(d->wd_fd);
	if (d->table_fd >= 0)
		close(d->table_fd);
	timesrc__free(d->ts);
	quickcheck__free(d->qc);
	faultwatch__free(d->fw);
	pipeline__free(d->pipe);
	proctable__free(d->procs);
	spool__free(d->spool);
	store__free(d->store);
}

static int first_capture(struct daemon *d, struct errbuf *err)
{
	struct probe_summary ps;
	struct snapshot *s = NULL;
	bool probed;
	int ret;

	d->last_capture_mono = d->last_quick_mono = clock_mono_ns();
	ret = take(d, &s, &ps, &probed);
	if (ret) {
		errbuf_set(err, "failed to capture the first snapshot: %s", strerror(-ret));
		return ret;
	}
	ret = pipeline_first_snapshot(d->pipe, s, err);
	if (!ret && probed)
		after(d, pipeline_probes(d->pipe, &ps), "a probe run");
	return ret;
}

/*
 * A second daemon is refused (-EBUSY), a database newer than this build too (-EPROTO:
 * after a downgrade; the unit does not restart on its exit status).  Anything else that
 * keeps the store shut (a read-only or full state dir, an unusable file) must not become a
 * restart loop: the daemon runs without a store and says so.
 */
static int open_store(struct daemon *d, struct errbuf *err)
{
	char why[700];
	int ret = store__new(&d->store, d->cfg.state_dir, STORE_LOCK, err);

	if (!ret)
		return 0;
	log_err("%s", err->msg);
	if (ret == -EBUSY || ret == -EPROTO || ret == -ENOMEM)
		return ret;
	snprintf(why, sizeof(why), "no evidence store (%s)", err->msg);
	ret = store__new_offline(&d->store, d->cfg.state_dir, ret, err->msg);
	if (ret)
		return ret;
	degrade(d, why);
	log_err("running without an evidence store: events reach the journal, the textfile "
		"and the log only (no hooks: their spool is in the state dir); restart cpudrift "
		"once %s can be written",
		d->cfg.state_dir);
	return 0;
}

int daemon_run(const struct daemon_opts *o)
{
	struct daemon d = { .epfd = -1,
			    .sigfd = -1,
			    .tick_fd = -1,
			    .trigger_fd = -1,
			    .wd_fd = -1,
			    .table_fd = -1 };
	struct errbuf err = { "" };
	sigset_t mask;
	char buf[64];
	int ret;

	block_signals(&mask);
	/* 1. configuration: every problem is fatal here, with file, line and key */
	config_defaults(&d.cfg);
	d.config_given = o->config_path != NULL;
	d.state_dir_given = o->state_dir != NULL;
	d.verbose_set = o->verbose_set;
	d.textfile_err = 1; /* not written yet: the first result is news either way */
	snprintf(d.config_path, sizeof(d.config_path), "%s",
		 o->config_path ? o->config_path : CONFIG_DEFAULT_PATH);
	ret = config_load(&d.cfg, d.config_path, !d.config_given, &err);
	if (ret) {
		log_err("%s", err.msg);
		return ret;
	}
	if (!o->verbose_set)
		log_set_level(d.cfg.log_level);
	if (config_state_dir_given(o->state_dir))
		snprintf(d.cfg.state_dir, sizeof(d.cfg.state_dir), "%s",
			 config_state_dir_given(o->state_dir));

	/* 2. the store: also the lock that keeps a second daemon away */
	ret = open_store(&d, &err);
	if (ret)
		return ret;
	snprintf(buf, sizeof(buf), "%lld", (long long)time(NULL));
	daemon_set_status(&d, "started", buf);
	daemon_set_status(&d, "version", CPUDRIFT_VERSION);
	daemon_set_status(&d, "config", d.config_path);
	if (!store_get_status(d.store, "reload_seq", buf, sizeof(buf)))
		d.reload_seq = strtoull(buf, NULL, 10);

	/* 3. sinks and analysis; the process table, which only the live machine has */
	daemon_open_spool(&d);
	if (!o->replay_path && (ret = proctable__new(&(struct proctable_opts){ 0 }, &d.procs)))
		log_warn("no processes at risk will be listed: failed to read /proc: %s",
			 strerror(-ret));
	ret = pipeline__new(&(struct pipeline_opts){ .cfg = &d.cfg,
						     .store = d.store,
						     .spool = d.spool,
						     .live = !o->replay_path,
						     .procs = d.procs },
			    &d.pipe);
	if (ret) {
		log_err("failed to start the analysis: %s", strerror(-ret));
		goto out;
	}
	pipeline_textfile(d.pipe)->start_time = (double)time(NULL);

	if (o->replay_path) {
		ret = run_replay(&d, o->replay_path, &err);
		if (ret)
			log_err("%s", err.msg);
		daemon_set_status(&d, "mode", "replay");
		goto out;
	}

	if (stop_asked())
		goto stopped;
	/* 4. BPF sources (before the first capture, so its drift reaches a running watcher) */
	if (open_faultwatch(&d) || open_timing(&d, &err)) {
		log_err("%s", err.msg);
		ret = -EIO;
		goto out;
	}

	if (quickcheck__new(&d.qc))
		log_warn("failed to set up the quick check: %s", strerror(ENOMEM));

	/* 5. the processes running now (the rest of a long first pass runs in the loop), the
	 *    baseline and this boot's first snapshot */
	if (d.procs && proctable_refresh(d.procs, PROCTABLE_START_NS))
		log_info("the process table's first pass continues in the background");
	if (stop_asked())
		goto stopped;
	ret = first_capture(&d, &err);
	if (ret) {
		log_err("%s", err.msg);
		goto out;
	}
	ret = setup_loop(&d, &err);
	if (ret) {
		log_err("%s", err.msg);
		goto out;
	}
	daemon_set_status(&d, "mode", d.degraded ? "degraded" : "full");
	daemon_set_status(&d, "mode_reason", d.degraded ? d.degraded_why : "");
	daemon_check_baseline(&d, false);
	daemon_housekeeping(&d);
	sd_notify(0, "READY=1");
	notify_status(&d);
	log_info("running (%s), state in %s", d.degraded ? "degraded" : "full", d.cfg.state_dir);

	ret = loop(&d);
stopped:
	sd_notify(0, "STOPPING=1");
	/* What is still pending is counted before the counters are left behind. */
	if (d.fw) {
		drain_faults(&d);
		flush_faults(&d, true);
	}
	pipeline_textfile(d.pipe)->stopped = true;
	daemon_write_textfile(&d);
out:
	teardown(&d);
	return ret;
}
