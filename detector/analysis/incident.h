/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Incidents (pure): one per migration.  Fed the engine's events in time order, it is the one
 * producer of migration.suspected and migration.resolved; the verdict (verdict.h) still
 * weighs every piece of evidence.
 *
 *   opening   evidence not yet part of an incident gathers in a window (opts.window_ns);
 *             when the verdict over it first reaches "low", an incident opens with all of
 *             it and a new ID.
 *   joining   every later piece of evidence within the window of the incident's newest
 *             joins it: drift, faults, shadow drift, timing, probe mismatches.  The
 *             incident is issued again (same ID, every reason so far) whenever it gains
 *             something: a new reason, a new casualty or survivor, another confidence or
 *             severity.  A repeat of a reason only counts.
 *   a second move
 *             a cpuid.drift to a CPU state other than the incident's "after" does not
 *             join: it starts the next incident.
 *   closing   after opts.quiet_ns without new evidence, or once no live process is at risk
 *             (incidents_at_risk; an incident where nothing was lost has none) and the
 *             window since its newest evidence has passed: migration.resolved.
 *
 * Faults of a migration class inside an incident name their processes: those the signal
 * killed under "casualties", those that handled it under "survived".
 *
 * Every issue carries "incident_id", "issue" (1 for the first), "previous_confidence" and
 * "previous_severity" (from the issue before), "opened_real_ns", "casualties" and
 * "survived", besides the verdict's keys.  Which sinks get which issue is the caller's
 * choice.
 */
#ifndef CPUDRIFT_INCIDENT_H
#define CPUDRIFT_INCIDENT_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "analysis/verdict.h"
#include "core/event.h"

/* A process of a migration-class fault; the lists hold at most this many each. */
#define INCIDENT_MAX_PROCS 50

struct incident_opts {
	int64_t window_ns; /* evidence this close to an incident's newest joins it: vo.window_ns */
	int64_t quiet_ns; /* an incident closes after this long without evidence (30 min) */
	struct verdict_opts vo; /* the verdict's thresholds */
};

void incident_opts_default(struct incident_opts *o);

/* One incident, as status and the store show it. */
struct incident {
	char id[48]; /* "<first 8 hex digits of the boot id>-<ms of CLOCK_MONOTONIC at opening>" */
	char boot_id[40];
	int64_t opened_mono_ns, opened_real_ns; /* when it opened: its first issue */
	int64_t last_mono_ns; /* its newest evidence */
	bool has_after; /* a cpuid.drift joined: the CPU state after the change is known */
	uint64_t after;
	struct verdict_tally tally; /* every reason since it opened */
	int issues; /* migration.suspected issued for it */
	enum confidence conf; /* of its last issue */
	enum severity sev;
	struct json_object *casualties; /* [{pid, comm, exe, feature, class, realtime_ns}] */
	struct json_object *survived; /* the same, for faults a handler survived */
	int64_t at_risk; /* live processes at risk, -1 until someone counted */
	int64_t at_risk_mono_ns; /* when they were counted */
	bool closed;
	char close_reason[32]; /* "quiet", "nothing at risk", "reboot" */
	int64_t closed_real_ns;
	bool dirty; /* changed since incidents_clean() */
};

struct incidents;

struct incidents *incidents__new(const struct incident_opts *o);
void incidents__free(struct incidents *s);

/**
 * One event of the engine (migration.* are ignored).  @cpu_state identifies the CPU the
 * latest snapshot describes (the engine's hash of it), which a cpuid.drift compares with
 * the incident's "after".  Appends migration.suspected when an incident opens or gains.
 * 0 or -ENOMEM.
 */
int incidents_feed(struct incidents *s, const struct event *e, uint64_t cpu_state,
		   struct evlist *out);

/**
 * Time passed to @mono_ns: close incidents quiet for opts.quiet_ns, or no longer pending
 * with nothing at risk (migration.resolved for each).  INT64_MAX (the end of a recording)
 * closes nothing: an ended recording is not half an hour of quiet.  0 or -ENOMEM.
 */
int incidents_flush(struct incidents *s, int64_t mono_ns, struct evlist *out);

/**
 * @n live processes are at risk in incident @id, counted at @mono_ns (a live machine's
 * knowledge: the daemon counts, a replay never does).  May close it.  0, -ENOENT, -ENOMEM.
 */
int incidents_at_risk(struct incidents *s, const char *id, int64_t n, int64_t mono_ns,
		      struct evlist *out);

/** True while evidence could still join @inc at @mono_ns (the window since its newest). */
bool incident_pending(const struct incidents *s, const struct incident *inc, int64_t mono_ns);

/** The incidents held (open ones, and those closed since incidents_clean()), oldest first. */
int incidents_list(const struct incidents *s, const struct incident *const **v);
/** The newest open incident, or NULL. */
const struct incident *incidents_newest_open(const struct incidents *s);
/** Clear every dirty flag and forget closed incidents (after the caller stored them). */
void incidents_clean(struct incidents *s);

/** The incident as one JSON document (the store keeps it): a new reference. */
struct json_object *incident_to_json(const struct incident *inc, const struct incident_opts *o);

/**
 * Take back an incident incident_to_json wrote (a restart).  One from another boot
 * (@boot_id differs) is closed at once with "reboot": its processes are gone.  A closed
 * one is ignored.  0, -EINVAL (malformed), -ENOMEM.
 */
int incidents_restore(struct incidents *s, struct json_object *j, const char *boot_id,
		      struct evlist *out);

#endif
