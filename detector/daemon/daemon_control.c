// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What an operator sees of and does to the running daemon: SIGHUP reloads the configuration
 * (every key, or none), a baseline accepted with the CLI is taken up, the status of every
 * source is kept in the store for `cpudrift status`, the Prometheus textfile is refreshed,
 * and the hook spool is kept tidy.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>

#include "analysis/timing.h"
#include "capture/faultwatch.h"
#include "capture/timesrc.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/signals.h"
#include "daemon/daemon_priv.h"
#include "daemon/pipeline.h"
#include "sinks/sink_journal.h"
#include "sinks/spool.h"
#include "sinks/store.h"

#define JOURNAL_SOCKET SINK_JOURNAL_SOCKET

/* --- the hook spool ------------------------------------------------------------------------ */

static void spool_opts_of(const struct config *c, struct spool_opts *so)
{
	*so = (struct spool_opts){
		.state_dir = c->state_dir,
		.cursor_path = c->hook_cursor,
		.hooks_dir = c->hooks_dir,
		.max_events = (unsigned)c->hook_spool_max,
		.rate_per_min = (unsigned)c->hook_rate_limit,
	};
}

void daemon_open_spool(struct daemon *d)
{
	struct errbuf err = { "" };
	struct spool_opts so;

	spool_opts_of(&d->cfg, &so);
	if (spool__new(&d->spool, &so, &err)) {
		snprintf(d->spool_why, sizeof(d->spool_why), "%s", err.msg);
		log_warn("hooks are off: %s", err.msg);
		d->spool = NULL;
		return;
	}
	d->spool_why[0] = 0;
}

/* --- the textfile -------------------------------------------------------------------------- */

void daemon_write_textfile(struct daemon *d)
{
	struct textfile_state *tf = pipeline_textfile(d->pipe);
	int r;

	d->tf_dirty = false;
	d->last_tf_mono = clock_mono_ns();
	if (!d->cfg.textfile_path[0])
		return;
	if (d->spool) {
		struct spool_stats ss;

		spool_get_stats(d->spool, &ss);
		tf->hook_failures = ss.cursor.hook_failures;
		tf->spool_pending = ss.pending;
		memcpy(tf->hook_drops, ss.dropped, sizeof(tf->hook_drops));
	}
	tf->degraded = d->degraded;
	pipeline_store_upkeep(d->pipe);
	tf->last_update_time = (double)clock_real_ns() / 1e9;
	r = textfile_write(tf, d->cfg.textfile_path);
	/* Rewritten every minute: a lasting problem is logged when it starts and when it ends. */
	if (r && r != d->textfile_err)
		log_warn("failed to write the Prometheus textfile %s: %s (logged again only when "
			 "this changes)",
			 d->cfg.textfile_path, strerror(-r));
	else if (!r && d->textfile_err && d->textfile_err != 1)
		log_warn("the Prometheus textfile %s is written again", d->cfg.textfile_path);
	d->textfile_err = r;
	if (!r)
		snprintf(d->textfile_written, sizeof(d->textfile_written), "%s",
			 d->cfg.textfile_path);
}

/* --- the baseline -------------------------------------------------------------------------- */

void daemon_check_baseline(struct daemon *d, bool told)
{
	struct snapmeta m;
	char buf[32];
	bool first = d->baseline_id == 0;

	if (store_get_snapshot(d->store, SEL_BASELINE, NULL, &m, NULL)) {
		if (told)
			log_warn("the store has no baseline to reload");
		return;
	}
	if (m.id == d->baseline_id) {
		if (told)
			log_debug("the baseline (snapshot %" PRId64 ") is unchanged", m.id);
		return;
	}
	/* At start the pipeline loaded it already; later it is news. */
	if (!first) {
		pipeline_reload_baseline(d->pipe);
		log_info("new baseline from the store: snapshot %" PRId64 " (%s %s, x86-64-v%d, %d "
			 "features)",
			 m.id, m.vendor, m.brand, m.level, m.nfeatures);
	}
	d->baseline_id = m.id;
	snprintf(buf, sizeof(buf), "%" PRId64, m.id);
	daemon_set_status(d, "baseline_id", buf);
	if (!first)
		daemon_write_textfile(d);
}

/* --- the sources --------------------------------------------------------------------------- */

static void source(struct json_object *o, const char *name, bool active, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void source(struct json_object *o, const char *name, bool active, const char *fmt, ...)
{
	struct json_object *j = json_object_new_object();
	char detail[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	json_object_object_add(j, "active", json_object_new_boolean(active));
	json_object_object_add(j, "detail", json_object_new_string(detail));
	json_object_object_add(o, name, j);
}

static bool has_cap(int cap)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct c[2];

	if (syscall(SYS_capget, &h, c))
		return false;
	return c[cap / 32].effective & (1u << (cap % 32));
}

/* The at-risk list and the fault details read other users' /proc/PID: CAP_SYS_PTRACE. */
static void source_processes(struct json_object *o)
{
	if (has_cap(CAP_SYS_PTRACE))
		source(o, "processes", true,
		       "other users' /proc/PID/exe, maps and environ (at-risk list, fault details)");
	else
		source(o, "processes", false,
		       "no CAP_SYS_PTRACE: the at-risk list and fault details see the exe and maps "
		       "of uid %u's processes only",
		       (unsigned)geteuid());
}

static void source_spool(struct daemon *d, struct json_object *o)
{
	struct spool_stats ss;
	struct stat st;
	char runner[600];

	if (!d->cfg.hooks_dir[0]) {
		source(o, "hooks_spool", false, "hooks_dir = off");
		return;
	}
	if (!d->spool) {
		source(o, "hooks_spool", false, "%s", d->spool_why);
		return;
	}
	spool_get_stats(d->spool, &ss);
	if (ss.cursor_err == -ENOENT)
		snprintf(runner, sizeof(runner), "cpudrift hooks run has not run yet (no %.300s)",
			 d->cfg.hook_cursor);
	else if (ss.cursor_err)
		snprintf(runner, sizeof(runner), "cursor %.300s unreadable: %.100s",
			 d->cfg.hook_cursor, strerror(-ss.cursor_err));
	else
		snprintf(runner, sizeof(runner),
			 "runner at %" PRIu64 ", %" PRIu64 " hook failures%s%.300s", ss.cursor.seq,
			 ss.cursor.hook_failures, ss.cursor.last_error[0] ? ", last: " : "",
			 ss.cursor.last_error);
	if (stat(d->cfg.hooks_dir, &st)) {
		source(o, "hooks_spool", false, "no hooks folder %s: events are not spooled",
		       d->cfg.hooks_dir);
		return;
	}
	source(o, "hooks_spool", true,
	       "%s: %" PRIu64 " waiting, %" PRIu64 " spooled since start, dropped %" PRIu64
	       " (rate limit) %" PRIu64 " (full) %" PRIu64 " (error); %s",
	       spool_path(d->spool), ss.pending, ss.spooled, ss.dropped[SPOOL_DROP_RATE],
	       ss.dropped[SPOOL_DROP_FULL], ss.dropped[SPOOL_DROP_ERROR], runner);
}

/* The store: its size, or why it is not written and what waits in memory. */
static void source_store(struct daemon *d, struct json_object *o)
{
	struct store_health h;
	char since[32] = "";

	store_health(d->store, &h);
	if (h.failing_since_ns) {
		time_t t = h.failing_since_ns / NSEC_PER_SEC;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(since, sizeof(since), " since %Y-%m-%dT%H:%M:%SZ", &tm);
	}
	if (!h.online)
		source(o, "store", false,
		       "%s: %s: no store; events reach the journal, the textfile "
		       "and the log",
		       store_health_state(&h), h.why);
	else if (h.err)
		source(o, "store", false,
		       "%s/%s %s%s (%s): %" PRIu64 " writes refused, %" PRIu64 " events waiting in "
		       "memory, %" PRIu64 " dropped (counted)",
		       d->cfg.state_dir, STORE_DB_NAME, store_health_state(&h), since, h.why,
		       h.errors, h.pending, h.dropped);
	else
		source(o, "store", true, "%s/%s, %" PRId64 " bytes", d->cfg.state_dir,
		       STORE_DB_NAME, store_size(d->store));
}

void daemon_record_sources(struct daemon *d)
{
	struct json_object *o = json_object_new_object();
	char sigs[96];

	signals_format(d->cfg.fault_signals, sigs, sizeof(sigs));
	if (d->fw)
		source(o, "fault_watcher", true, "%s, signals %s",
		       fault_variant_name(faultwatch_variant(d->fw)), sigs);
	else
		source(o, "fault_watcher", false, "%s", d->fw_why[0] ? d->fw_why : "not started");
	if (d->ts) {
		struct json_object *t = timesrc_status(d->ts);

		json_object_object_foreach(t, k, v)
			json_object_object_add(o, k, json_object_get(v));
		json_object_put(t);
	} else {
		source(o, "timing", false, "no timing sources");
	}
	source(o, "cpuid", !d->capture_err, "%s",
	       d->capture_err ? strerror(-d->capture_err) : "CPUID of every vCPU each interval");
	source(o, "probes", !d->probe_err, "%s",
	       d->probe_err ? strerror(-d->probe_err) :
			      "one instruction per feature each interval");
	if (d->qc && d->cfg.quick_check_s)
		source(o, "quick_check", true,
		       "feature leaves of one vCPU every %" PRIu64 " s: %" PRIu64
		       " checks, %" PRIu64 " found a change",
		       d->cfg.quick_check_s, d->quick_checks, d->quick_differences);
	else
		source(o, "quick_check", false, "%s",
		       d->qc ? "quick_check = 0" : "not set up (out of memory)");
	source_processes(o);
	source_spool(d, o);
	if (!d->cfg.textfile_path[0])
		source(o, "textfile", false, "textfile_path = off");
	else if (d->textfile_err)
		source(o, "textfile", false, "%s: %s", d->cfg.textfile_path,
		       d->textfile_err == 1 ? "not written yet" : strerror(-d->textfile_err));
	else
		source(o, "textfile", true, "%s", d->cfg.textfile_path);
	if (!d->cfg.journal)
		source(o, "journal", false, "journal = off");
	else if (access(JOURNAL_SOCKET, F_OK))
		source(o, "journal", false, "no journald (%s)", JOURNAL_SOCKET);
	else
		source(o, "journal", true, "%s", JOURNAL_SOCKET);
	source_store(d, o);
	daemon_set_status(d, "sources", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

/* --- housekeeping -------------------------------------------------------------------------- */

void daemon_housekeeping(struct daemon *d)
{
	d->last_housekeeping_mono = clock_mono_ns();
	if (d->spool)
		spool_maintain(d->spool);
	daemon_check_baseline(d, false);
	daemon_write_textfile(d);
	daemon_record_sources(d);
}

/* --- reload -------------------------------------------------------------------------------- */

/* One transaction: `cpudrift reload` reads the result once it sees the new number. */
static void answer(struct daemon *d, bool applied, const char *msg)
{
	char seq[24], now[24];
	bool tx = !store_begin(d->store);

	d->reload_seq++;
	snprintf(seq, sizeof(seq), "%" PRIu64, d->reload_seq);
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	daemon_set_status(d, "reload_result", applied ? "applied" : "refused");
	daemon_set_status(d, "reload_message", msg);
	daemon_set_status(d, "reload_time", now);
	daemon_set_status(d, "reload_seq", seq);
	if (tx && store_commit(d->store))
		log_warn("failed to record the reload's result");
	if (applied)
		log_info("configuration reloaded: %s", msg);
	else
		log_err("configuration refused, the old one stays in force: %s", msg);
}

/* Every key takes effect now; nothing here can fail half-way. */
static void apply(struct daemon *d, const struct config *c)
{
	char old_textfile[PATH_MAX];
	struct timing_thresholds th;
	struct spool_opts so;

	snprintf(old_textfile, sizeof(old_textfile), "%s", d->textfile_written);
	d->cfg = *c;
	if (!d->verbose_set)
		log_set_level(c->log_level);
	if (pipeline_reconfigure(d->pipe))
		log_warn("failed to apply the new timing thresholds: out of memory");
	config_timing(c, &th);
	if (d->ts)
		timesrc_set_stall_threshold(d->ts, th.stall_ns);
	if (d->fw)
		faultwatch_set_sig_mask(d->fw, c->fault_signals);
	if (daemon_arm_periodic(d->tick_fd, (int64_t)c->interval_s * NSEC_PER_SEC))
		log_warn("failed to set the new interval");
	spool_opts_of(c, &so);
	if (d->spool)
		spool_set_opts(d->spool, &so);
	else
		daemon_open_spool(d);
	pipeline_set_spool(d->pipe, d->spool);
	/* Moved or turned off: the old file would go stale and fire the down alert. */
	if (old_textfile[0] && strcmp(old_textfile, c->textfile_path)) {
		if (unlink(old_textfile) && errno != ENOENT)
			log_warn("failed to remove the old textfile %s: %s", old_textfile,
				 strerror(errno));
		d->textfile_written[0] = 0;
		d->textfile_err = 1;
	}
	daemon_write_textfile(d);
}

#define RING_KEPT "; fault_ring_size takes a restart"

void daemon_reload(struct daemon *d)
{
	struct errbuf err = { "" };
	char changed[400], msg[1000];
	bool ring_kept;
	struct config c;
	int n;

	config_defaults(&c);
	if (d->config_path[0] && config_load(&c, d->config_path, !d->config_given, &err)) {
		answer(d, false, err.msg);
		goto baseline;
	}
	if (d->state_dir_given) {
		snprintf(c.state_dir, sizeof(c.state_dir), "%s", d->cfg.state_dir);
	} else if (strcmp(c.state_dir, d->cfg.state_dir)) {
		/* The store, its lock and the spool are open there: a move needs a restart. */
		snprintf(msg, sizeof(msg),
			 "%.300s: state_dir changes from %.300s to %.300s, which takes a restart; "
			 "nothing of the new file was applied",
			 d->config_path, d->cfg.state_dir, c.state_dir);
		answer(d, false, msg);
		goto baseline;
	}
	/* The ring buffer is sized at load: the running one stays until a restart. */
	ring_kept = c.fault_ring_size != d->cfg.fault_ring_size;
	if (ring_kept) {
		log_warn("%s: fault_ring_size takes a restart; the ring buffer stays %" PRIu64
			 " bytes until then",
			 d->config_path, d->cfg.fault_ring_size);
		c.fault_ring_size = d->cfg.fault_ring_size;
	}
	n = config_diff(&d->cfg, &c, changed, sizeof(changed));
	if (d->verbose_set && c.log_level != d->cfg.log_level)
		log_info("log_level stays as -v set it on the command line");
	apply(d, &c);
	if (n)
		snprintf(msg, sizeof(msg), "%.300s: %d key%s changed (%s), all in force now%s",
			 d->config_path[0] ? d->config_path : "built-in defaults", n,
			 n == 1 ? "" : "s", changed, ring_kept ? RING_KEPT : "");
	else
		snprintf(msg, sizeof(msg), "%.300s: nothing changed%s",
			 d->config_path[0] ? d->config_path : "built-in defaults",
			 ring_kept ? RING_KEPT : "");
	answer(d, true, msg);
	daemon_record_sources(d);
baseline:
	/* SIGHUP also re-reads the baseline, whatever became of the file. */
	daemon_check_baseline(d, true);
}
