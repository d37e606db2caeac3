/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The incident report (pure): what a window of evidence says in plain words.  The caller
 * streams what the store holds for the window (events, then the snapshots that bracket the
 * change, snapshot and probe-run times, timing observations) and gets one JSON model back,
 * which `report --json` prints and the text and HTML renderers (formats/reporttext.h,
 * formats/reporthtml.h) turn into summary.md and report.html.  Memory is bounded whatever
 * the window holds: lists keep their first entries and count the rest, the timeline is
 * binned into a fixed number of columns.
 *
 * A window and an incident select the same data: the selection (struct report_window) is
 * resolved to a time range by the caller (cli/selection.h).  With an incident, the issues
 * and resolutions of other incidents in that range are left out, and the stored incident
 * and all of its issues make the "incident" section (analysis/reportincident.h).
 */
#ifndef CPUDRIFT_REPORT_H
#define CPUDRIFT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "core/event.h"
#include "core/observe.h"
#include "core/snapshot.h"

#define REPORT_FORMAT_VERSION 1

/* Bounds on what one report keeps. */
#define REPORT_MAX_FAULTS 100 /* detailed faults */
#define REPORT_MAX_PROCS 200 /* casualties, survivors */
#define REPORT_MAX_LIST 200 /* verdicts, changes, timing events */
#define REPORT_COLUMNS 600 /* timeline bins */
#define REPORT_MAX_VCPUS 16 /* stall lanes */
#define REPORT_MAX_TICKS 2000 /* snapshot and probe-run marks */

struct report_window {
	int64_t since_ns, until_ns; /* realtime; the range the data actually spans */
	const char *incident; /* NULL: a plain window */
};

struct report;

/** 0 or -ENOMEM. */
int report__new(const struct report_window *w, struct report **out);
void report__free(struct report *r);

/* 1. Every event of the window, in order. */
int report_add_event(struct report *r, const struct event *e);

/**
 * 2. The change the report explains: the most severe cpuid.drift (else cpuid.boot_drift).
 * False when the window holds none; else its time (the new snapshot's) in *at_ns.
 */
bool report_change_time(const struct report *r, int64_t *at_ns);
/** The snapshots on either side of it (either may be NULL: the event's own body is used). */
int report_set_change(struct report *r, const struct snapshot *before,
		      const struct snapshot *after);

/* 3. Marks and series for the timeline. */
void report_add_snapshot(struct report *r, int64_t realtime_ns, int64_t id, int level,
			 int nfeatures);
/** @run: a stored probe run ({"shadow": [...], "mismatch": [...], ...}). */
void report_add_probe_run(struct report *r, int64_t realtime_ns, struct json_object *run);
void report_add_observation(struct report *r, const struct observation *o);

/* 4. With an incident: the stored incident (a reference is taken) and its issues, any time. */
void report_set_incident(struct report *r, struct json_object *stored);
int report_add_incident_event(struct report *r, const struct event *e);
/** Without one: each incident still open, for a pointer to `report --incident ID`. */
void report_add_open_incident(struct report *r, struct json_object *stored);

/**
 * Is process @pid, started at @start_boot_ns (CLOCK_BOOTTIME; 0: unknown), still the same
 * running process?  The caller reads /proc; this module stays pure.
 */
typedef bool (*report_alive_fn)(int pid, int64_t start_boot_ns, void *ctx);

/**
 * The report model (a new reference): window, incident (null without one), open_incidents,
 * verdict(s), change (before -> after), faults, timing evidence, at_risk (with "alive")
 * and casualties grouped with their remedy, events by kind, timeline, and "exit": 1 when
 * the window holds a critical event or a process at risk is still alive.  NULL on
 * allocation failure.
 */
struct json_object *report_to_json(struct report *r, report_alive_fn alive, void *ctx);

/** "2026-11-27T03:12:09.123Z" for realtime nanoseconds (the event JSON's form). */
void report_time_iso(int64_t ns, char *buf, size_t size);

#endif
