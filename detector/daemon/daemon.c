// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The cpudrift service: one single-threaded epoll loop over a signalfd, timerfds, the
 * fault watcher's ring buffer and the timing sources.  Modules start in dependency order
 * (config, store, sinks, analysis, snapshots, BPF sources) and stop in reverse.  Without
 * root, BTF or BPF it runs degraded: snapshots, probes and user-space timing only.
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

#include "capture/atrisk.h"
#include "capture/capture.h"
#include "daemon/daemon.h"
#include "daemon/daemon_priv.h"
#include "analysis/faultevent.h"
#include "capture/faultwatch.h"
#include "core/log.h"
#include "capture/probe.h"
#include "sinks/sink_hooks.h"
#include "sinks/sink_journal.h"
#include "sinks/store.h"
#include "capture/timesrc.h"
#include "analysis/timing.h"
#include "analysis/verdict.h"

/* A fault or timing trigger captures at once, but not more often than this. */
#define TRIGGER_MIN_GAP_NS (2 * 1000000000ll)
#define TRIGGER_DELAY_MS 200
#define ATRISK_MAX 50
/* A fault re-reads CPUID on its vCPU at most this often. */
#define FRESH_FEATURES_NS 1000000000ll

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void set_status(struct daemon *d, const char *key, const char *value)
{
	if (store_set_status(d->store, key, value))
		log_debug("failed to record status %s", key);
}

static void notify_status(struct daemon *d)
{
	char buf[400];

	snprintf(buf, sizeof(buf), "STATUS=%s%s; level v%d, %d features",
		 d->degraded ? "degraded: " : "watching", d->degraded ? d->degraded_why : "",
		 d->current ? d->current->level : 0,
		 d->current ? featset_count(&d->current->features) : 0);
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

/* --- sinks ------------------------------------------------------------------------------- */

static void sinks_write(struct daemon *d, struct event *e)
{
	if (store_add_event(d->store, e, NULL))
		log_warn("failed to store a %s event", event_kind_names[e->kind]);
	if (d->cfg.journal && sink_journal_send(e))
		log_debug("failed to send a %s event to the journal", event_kind_names[e->kind]);
	if (d->hooks && hooks_run(d->hooks, e))
		log_debug("failed to start hooks for a %s event", event_kind_names[e->kind]);
	d->tf.events[e->kind][e->sev]++;
	if (e->kind == EV_MIGRATION_SUSPECTED)
		d->tf.last_migration_time = e->realtime_ns / 1e9;
	if (e->sev >= SEV_WARNING)
		log_info("%s: %s", event_kind_names[e->kind], e->summary);
	else
		log_debug("%s: %s", event_kind_names[e->kind], e->summary);
}

static void write_textfile(struct daemon *d)
{
	struct hooks_stats hs = { 0 };
	struct faultwatch_stats fs = { 0 };

	if (!d->cfg.textfile_path[0])
		return;
	if (d->hooks)
		hooks_get_stats(d->hooks, &hs);
	if (d->fw && !faultwatch_stats(d->fw, &fs))
		d->tf.bpf_lost_events = fs.drops;
	d->tf.hook_failures = hs.failed;
	d->tf.degraded = d->degraded;
	if (textfile_write(&d->tf, d->cfg.textfile_path))
		log_debug("failed to write %s", d->cfg.textfile_path);
}

static void arm_trigger(struct daemon *d)
{
	struct itimerspec its = { .it_value.tv_nsec = TRIGGER_DELAY_MS * 1000000 };

	if (d->trigger_armed || mono_ns() - d->last_capture_mono < TRIGGER_MIN_GAP_NS)
		return;
	d->trigger_armed = !timerfd_settime(d->trigger_fd, 0, &its, NULL);
}

void daemon_emit(struct daemon *d, struct event *e)
{
	struct event *v = NULL;

	if (!e)
		return;
	sinks_write(d, e);
	if (e->kind != EV_MIGRATION_SUSPECTED && verdict_add(d->verdict, e, &v) == 0 && v) {
		if (atrisk_attach(v, d->current ? d->current->level : 0, ATRISK_MAX))
			log_debug("failed to list processes at risk");
		sinks_write(d, v);
		event__free(v);
	}
	/* Timing evidence is a reason to look at CPUID and the silicon right now. */
	if (e->kind >= EV_TIMING_STALL && e->kind <= EV_TIMING_CPUID_LATENCY)
		arm_trigger(d);
	event__free(e);
	write_textfile(d);
}

/* --- sources ----------------------------------------------------------------------------- */

static int on_fault(const struct faultwatch_fault *f, void *ctx)
{
	struct daemon *d = ctx;
	struct classification c;
	struct attribution a;
	struct classify_input in = {
		.advertised = &d->current->features,
		.has_xcr0 = d->current->has_xcr0,
		.xcr0 = d->current->xcr0,
		.baseline = d->baseline ? &d->baseline->features : NULL,
		.probe = d->have_probe_view ? &d->probe_view : NULL,
		.amx_permitted = -1,
	};
	struct featset now;
	const char *feature;
	struct event *e;

	/* A process that started before the last in-boot change saw the features before it. */
	if (d->change_boot_ns && (int64_t)f->start_ns < d->change_boot_ns)
		in.at_start = &d->prev_features;
	/*
	 * The fault may be the first sign of a migration the last snapshot predates: judge it
	 * against what CPUID says now, and the snapshot is then what the process started with.
	 * Only losses count: this vCPU may advertise more than the all-vCPU snapshot does.
	 */
	if (f->sig == SIGILL && !capture_features_now(&now, FRESH_FEATURES_NS) &&
	    (featset_and(&now, &now, &d->current->features),
	     !featset_equal(&now, &d->current->features))) {
		in.advertised = &now;
		if (!in.at_start)
			in.at_start = &d->current->features;
	}
	faultevent_classify(f, &in, &a, &c);
	e = faultevent_new(f, &a, &c);
	if (!e)
		return 0;
	/* cpudrift's own probes fault by design: neither counted nor reported. */
	if (c.cls == FC_PROBE) {
		event__free(e);
		return 0;
	}
	feature = json_object_get_string(json_object_object_get(e->body, "feature"));
	/* Every fault counts, the rate-limited ones included; counters survive retention. */
	if (store_count_fault(d->store, fault_class_name(c.cls), feature ? feature : "",
			      1 + (int64_t)f->suppressed))
		log_debug("failed to count a fault");
	textfile_add_fault(&d->tf, fault_class_name(c.cls), feature ? feature : "",
			   1 + (int64_t)f->suppressed);
	daemon_emit(d, e);
	arm_trigger(d);
	return 0;
}

static void on_observation(void *ctx, const struct observation *o)
{
	struct daemon *d = ctx;
	struct evlist out = { 0 };
	struct json_object *j = observe_to_json(o);

	if (j) {
		if (store_add_timing_sample(
			    d->store, o->real_ns, obs_source_names[o->src], (double)o->v[0],
			    json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN)))
			log_debug("failed to store a timing sample");
		json_object_put(j);
	}
	if (timing_feed(d->timing, o, &out))
		log_warn("failed to analyse a %s observation", obs_source_names[o->src]);
	for (size_t i = 0; i < out.n; i++) {
		daemon_emit(d, out.v[i]);
		out.v[i] = NULL;
	}
	evlist_free(&out);
}

static void flush_timing(struct daemon *d)
{
	struct evlist out = { 0 };

	timing_flush(d->timing, mono_ns(), &out);
	for (size_t i = 0; i < out.n; i++) {
		daemon_emit(d, out.v[i]);
		out.v[i] = NULL;
	}
	evlist_free(&out);
}

static int open_faultwatch(struct daemon *d)
{
	struct faultwatch_opts fo = { .sig_mask = d->cfg.fault_signals };
	struct errbuf err = { "" };

	if (faultwatch__new(&fo, on_fault, d, &d->fw, &err)) {
		char why[300];

		snprintf(why, sizeof(why), "no fault watcher (%s)", err.msg);
		degrade(d, why);
		d->fw = NULL;
		return 0;
	}
	set_status(d, "fault_watcher", faultwatch_variant_name(faultwatch_variant(d->fw)));
	return 0;
}

static int open_timing(struct daemon *d, struct errbuf *err)
{
	struct timing_thresholds th;
	struct timesrc_opts to;

	config_timing(&d->cfg, &th);
	d->timing = timing__new(&th);
	if (!d->timing) {
		errbuf_set(err, "failed to start timing analysis: out of memory");
		return -ENOMEM;
	}
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

enum { TAG_SIGNAL = -1, TAG_TICK = -2, TAG_TRIGGER = -3, TAG_WATCHDOG = -4, TAG_FAULTS = -5 };

static int watch_fd(struct daemon *d, int fd, int tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)(int64_t)tag };

	if (tag >= 0)
		ev.data.u64 = (uint64_t)fd;
	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static int arm_periodic(int fd, int64_t period_ns)
{
	struct itimerspec its = {
		.it_value = { period_ns / 1000000000, period_ns % 1000000000 },
		.it_interval = { period_ns / 1000000000, period_ns % 1000000000 },
	};

	return timerfd_settime(fd, 0, &its, NULL) ? -errno : 0;
}

static void drain(int fd)
{
	uint64_t n;

	while (read(fd, &n, sizeof(n)) == sizeof(n))
		;
}

static void reload(struct daemon *d)
{
	struct errbuf err = { "" };
	struct config c;

	config_defaults(&c);
	if (d->config_path[0] && config_load(&c, d->config_path, !d->config_given, &err)) {
		log_err("failed to reload configuration, keeping the old one: %s", err.msg);
		return;
	}
	if (c.fault_signals != d->cfg.fault_signals)
		log_warn("fault_signals changes take effect at the next restart");
	/* The state dir stays: the lock and the store are already open there. */
	snprintf(c.state_dir, sizeof(c.state_dir), "%s", d->cfg.state_dir);
	d->cfg = c;
	log_set_level(c.log_level);
	arm_periodic(d->tick_fd, (int64_t)c.interval_s * 1000000000);
	daemon_reload_baseline(d);
	write_textfile(d);
	log_info("configuration and baseline reloaded from %s and the store",
		 d->config_path[0] ? d->config_path : "defaults");
}

static void tick(struct daemon *d)
{
	struct store_limits lim = {
		.rows = (int64_t)d->cfg.retention_rows,
		.days = (int64_t)d->cfg.retention_days,
		.bytes = (int64_t)d->cfg.retention_bytes,
	};

	d->last_capture_mono = mono_ns();
	daemon_capture(d, "interval");
	if (store_retain(d->store, &lim, (int64_t)time(NULL) * 1000000000))
		log_debug("failed to apply retention");
	if (d->fw)
		faultwatch_prune(d->fw);
	write_textfile(d);
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
				reload(d);
			else if (si.ssi_signo == SIGCHLD && d->hooks)
				hooks_poll(d->hooks);
		}
		return 0;
	case TAG_TICK:
		drain(d->tick_fd);
		tick(d);
		return 0;
	case TAG_TRIGGER:
		drain(d->trigger_fd);
		d->trigger_armed = false;
		d->last_capture_mono = mono_ns();
		daemon_capture(d, "trigger");
		write_textfile(d);
		return 0;
	case TAG_WATCHDOG:
		drain(d->wd_fd);
		sd_notify(0, "WATCHDOG=1");
		return 0;
	case TAG_FAULTS:
		return faultwatch_consume(d->fw) < 0 ? -EIO : 0;
	default:
		return timesrc_dispatch(d->ts, (int)tag);
	}
}

static int setup_loop(struct daemon *d, struct errbuf *err)
{
	sigset_t mask;
	uint64_t wd_usec = 0;
	int fds[32], n, ret;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	d->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	d->trigger_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	d->wd_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (d->epfd < 0 || d->sigfd < 0 || d->tick_fd < 0 || d->trigger_fd < 0 || d->wd_fd < 0) {
		errbuf_set(err, "failed to create the event loop: %s", strerror(errno));
		return -errno;
	}
	ret = watch_fd(d, d->sigfd, TAG_SIGNAL)		      ?:
		      watch_fd(d, d->tick_fd, TAG_TICK)	      ?:
		      watch_fd(d, d->trigger_fd, TAG_TRIGGER) ?:
								watch_fd(d, d->wd_fd, TAG_WATCHDOG);
	if (!ret && d->fw)
		ret = watch_fd(d, faultwatch_fd(d->fw), TAG_FAULTS);
	n = d->ts ? timesrc_fds(d->ts, fds, 32) : 0;
	for (int i = 0; !ret && i < n; i++)
		ret = watch_fd(d, fds[i], 0);
	if (!ret)
		ret = arm_periodic(d->tick_fd, (int64_t)d->cfg.interval_s * 1000000000);
	if (!ret && sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec)
		ret = arm_periodic(d->wd_fd, (int64_t)wd_usec * 1000 / 2);
	if (ret)
		errbuf_set(err, "failed to set up the event loop: %s", strerror(-ret));
	return ret;
}

static int loop(struct daemon *d)
{
	struct epoll_event ev[16];

	while (!d->stop) {
		int timeout = d->hooks ? hooks_poll(d->hooks) : -1;
		int n;

		/* The stall episode closes by time, not by the next event: wake at least 1/s. */
		if (timeout < 0 || timeout > 1000)
			timeout = 1000;
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
		}
		if (d->timing)
			flush_timing(d);
	}
	return 0;
}

/* --- start and stop ---------------------------------------------------------------------- */

static void teardown(struct daemon *d)
{
	if (d->store) {
		set_status(d, "mode", "stopped");
	}
	if (d->epfd > 0)
		close(d->epfd);
	if (d->sigfd > 0)
		close(d->sigfd);
	if (d->tick_fd > 0)
		close(d->tick_fd);
	if (d->trigger_fd > 0)
		close(d->trigger_fd);
	if (d->wd_fd > 0)
		close(d->wd_fd);
	timesrc__free(d->ts);
	faultwatch__free(d->fw);
	probe_report__free(d->probes);
	snapshot__free(d->current);
	snapshot__free(d->baseline);
	verdict__free(d->verdict);
	timing__free(d->timing);
	hooks__free(d->hooks);
	store__free(d->store);
}

static int open_hooks(struct daemon *d)
{
	struct hooks_opts ho = {
		.dir = d->cfg.hooks_dir,
		.user = d->cfg.hook_user,
		.timeout_ms = (unsigned)d->cfg.hook_timeout_s * 1000,
		.rate_per_min = (unsigned)d->cfg.hook_rate_limit,
	};
	struct errbuf err = { "" };
	struct stat st;

	if (!d->cfg.hooks_dir[0] || stat(d->cfg.hooks_dir, &st))
		return 0;
	if (hooks__new(&d->hooks, &ho, &err)) {
		log_warn("hooks are off: %s", err.msg);
		d->hooks = NULL;
	}
	return 0;
}

int daemon_run(const struct daemon_opts *o)
{
	struct daemon d = { .epfd = -1, .sigfd = -1, .tick_fd = -1, .trigger_fd = -1, .wd_fd = -1 };
	struct verdict_opts vo;
	struct errbuf err = { "" };
	char buf[64];
	int ret;

	/* 1. configuration: every problem is fatal here, with file, line and key */
	config_defaults(&d.cfg);
	d.config_given = o->config_path != NULL;
	snprintf(d.config_path, sizeof(d.config_path), "%s",
		 o->config_path ? o->config_path : CONFIG_DEFAULT_PATH);
	ret = config_load(&d.cfg, d.config_path, !d.config_given, &err);
	if (ret) {
		log_err("%s", err.msg);
		return ret;
	}
	if (!o->verbose_set)
		log_set_level(d.cfg.log_level);
	if (o->state_dir)
		snprintf(d.cfg.state_dir, sizeof(d.cfg.state_dir), "%s", o->state_dir);

	/* 2. the store: also the lock that keeps a second daemon away */
	ret = store__new(&d.store, d.cfg.state_dir, STORE_LOCK, &err);
	if (ret) {
		log_err("%s", err.msg);
		return ret;
	}
	snprintf(buf, sizeof(buf), "%lld", (long long)time(NULL));
	set_status(&d, "started", buf);
	set_status(&d, "version", CPUDRIFT_VERSION);
	set_status(&d, "config", d.config_path);

	/* 3. sinks and analysis */
	open_hooks(&d);
	verdict_opts_default(&vo);
	d.verdict = verdict__new(&vo);
	d.tf.start_time = (double)time(NULL);
	if (!d.verdict) {
		ret = -ENOMEM;
		goto out;
	}

	/* 4. BPF sources (before the first capture, so its drift reaches a running watcher) */
	if (open_faultwatch(&d) || open_timing(&d, &err)) {
		log_err("%s", err.msg);
		ret = -EIO;
		goto out;
	}

	/* 5. the baseline and this boot's first snapshot */
	ret = daemon_snapshots_init(&d, &err);
	if (ret) {
		log_err("%s", err.msg);
		goto out;
	}
	ret = setup_loop(&d, &err);
	if (ret) {
		log_err("%s", err.msg);
		goto out;
	}
	set_status(&d, "mode", d.degraded ? "degraded" : "full");
	set_status(&d, "mode_reason", d.degraded ? d.degraded_why : "");
	d.last_capture_mono = mono_ns();
	write_textfile(&d);
	sd_notify(0, "READY=1");
	notify_status(&d);
	log_info("running (%s), state in %s", d.degraded ? "degraded" : "full", d.cfg.state_dir);

	ret = loop(&d);
	sd_notify(0, "STOPPING=1");
	d.tf.stopped = true;
	write_textfile(&d);
out:
	teardown(&d);
	return ret;
}
