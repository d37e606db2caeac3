/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The verdict (pure): fuse the evidence events that fall within one time window into a
 * migration.suspected event with a confidence and the reasons behind it.
 *
 * Each event weighs by what it says about a move to other hardware (table in verdict.c):
 *   3  cpuid.drift, probe.shadow_drift, timing.tsc_rate (incl. Hyper-V reenlightenment),
 *      fault.sigill of class feature-lost, or advertised-but-faulting that a probe confirms
 *      (also forces "high")
 *   2  timing.clock_step of a host clock (RTC/PTP jumped: guest time stood still),
 *      probe.mismatch
 *   1  timing.clock_step of CLOCK_REALTIME (NTP/VMware Tools step), VM-wide timing.stall,
 *      timing.clocksource, timing.steal, timing.cpuid_latency, cpuid.vcpu_mismatch,
 *      fault.sigill advertised-but-faulting that no probe confirms (its bytes are read
 *      after the fault: a process rewriting its own code could show any instruction)
 *   0  everything else (single-vCPU stalls, other fault classes, boot drift, faults of a
 *      traced process: its tracer may have injected the signal or the bytes, watcher.*)
 * Repeats of one reason count once.  Score >= low/medium/high thresholds (2/3/5) gives the
 * confidence, so no single weak signal (an NTP step, a host hiccup) is ever a verdict.
 * Timing alone (a pause, a clock step) says the VM stood still, not that its CPU changed:
 * without hardware evidence (CPUID, shadow set, probes, a migration fault, the TSC rate)
 * the confidence stays at most "low".  The verdict is critical only when something was
 * lost (a critical piece of evidence or a feature-lost fault); else at most a warning.
 *
 * Body keys read: timing.stall "scope"; fault.sigill "class", "origin" and
 * "probe_confirms"; timing.clock_step uses the subject ("realtime" or the host clock's name).
 * Which events make one incident, and when it is reported again, is incident.h's.
 */
#ifndef CPUDRIFT_VERDICT_H
#define CPUDRIFT_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "core/event.h"

enum confidence { CONF_NONE, CONF_LOW, CONF_MEDIUM, CONF_HIGH };

const char *verdict_confidence_name(enum confidence c);

struct verdict_opts {
	int64_t window_ns; /* evidence this close together is one episode (300 s) */
	int low, medium, high; /* score thresholds (2, 3, 5) */
};

void verdict_opts_default(struct verdict_opts *o);

/* Why one event counts. */
struct verdict_reason {
	char key[48]; /* "timing.clock_step/host": repeats of one key count once */
	int weight; /* 0: no evidence of migration */
	bool forces_high; /* a fault that only a lost feature explains */
	bool hardware; /* says the CPU under the VM changed, not only that it paused */
};

/** Weigh one event; returns its weight (also in @r). */
int verdict_weigh(const struct event *e, struct verdict_reason *r);

/*
 * The evidence of one episode, added one event at a time: the reasons (repeats of one
 * reason counted, not added), the score and what the reasons say.  verdict_fuse() tallies
 * a window; an incident (incident.h) keeps one for its whole life.
 */
struct verdict_tally {
	int score;
	bool forced; /* a reason forces "high" */
	bool hardware; /* some reason is hardware evidence */
	bool loss; /* some reason is critical or forces high: programs are at risk */
	int64_t first_mono_ns, first_real_ns; /* earliest evidence: the change time */
	int64_t last_mono_ns, last_real_ns; /* newest evidence */
	struct json_object
		*reasons; /* array of {kind, reason, subject, weight, count, summary, ...} */
};

/** An empty tally.  0 or -ENOMEM. */
int verdict_tally_init(struct verdict_tally *t);
void verdict_tally_clear(struct verdict_tally *t);
/**
 * Add @e: 1 when it brought a new reason, 0 when it repeated one (its count grows) or
 * weighs nothing, -ENOMEM.
 */
int verdict_tally_add(struct verdict_tally *t, const struct event *e);
/** The confidence the tally gives under @o's thresholds. */
enum confidence verdict_tally_confidence(const struct verdict_tally *t,
					 const struct verdict_opts *o);
/** {"score", "forced", "hardware", "loss", "first_mono_ns", ..., "reasons"}: a new reference. */
struct json_object *verdict_tally_to_json(const struct verdict_tally *t);
/** Inverse of verdict_tally_to_json; -EINVAL on malformed input (@t is then empty). */
int verdict_tally_from_json(struct json_object *j, struct verdict_tally *t);

struct verdict_result {
	enum confidence conf;
	int score;
	int64_t first_mono_ns, first_real_ns; /* earliest evidence: the change time */
	int64_t last_mono_ns, last_real_ns;
	struct json_object *reasons; /* array of {kind, subject, weight, count, summary, ...} */
	bool hardware; /* some reason is hardware evidence */
	bool loss; /* some reason is critical or forces high: programs are at risk */
};

/**
 * Fuse @ev (any order): only events within opts->window_ns of the newest one count.
 * @r->reasons is a new reference the caller puts (verdict_result_clear).  0 or -ENOMEM.
 */
int verdict_fuse(struct event *const *ev, size_t n, const struct verdict_opts *o,
		 struct verdict_result *r);
/** The result of a tally; @r->reasons is a new reference to the tally's reasons. */
void verdict_tally_result(const struct verdict_tally *t, const struct verdict_opts *o,
			  struct verdict_result *r);
void verdict_result_clear(struct verdict_result *r);

/** The migration.suspected event for @r (conf > CONF_NONE); NULL on allocation failure. */
struct event *verdict_event(const struct verdict_result *r, const struct verdict_opts *o);

/** The severity verdict_event gives @r: critical only for a loss, else at most a warning. */
enum severity verdict_severity(const struct verdict_result *r);

#endif
