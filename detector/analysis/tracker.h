/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The evidence tracker (pure): snapshots, probe runs and faults in, in the order they were
 * taken, and the cpuid.*, probe.* and fault.sigill events out.  The one producer of those
 * kinds: the daemon feeds it live captures, `cpudrift replay` and `run --replay` feed it a
 * recording, `cpudrift watch` feeds it faults.  It remembers only what the next comparison
 * needs: the baseline, the latest snapshot, the features before the last change within this
 * boot and when that change was seen, and the last probe run.
 *
 * Events are stamped with the time of what raised them (the snapshot's capture, the probe
 * run, the fault), never with the time they were analysed, so a recording replayed later
 * gives the events the daemon gave live.
 */
#ifndef CPUDRIFT_TRACKER_H
#define CPUDRIFT_TRACKER_H

#include "core/event.h"
#include "core/fault.h"
#include "core/snapshot.h"

struct tracker;

struct tracker *tracker__new(void);
void tracker__free(struct tracker *t);

/** The baseline faults are also judged against (ownership moves; NULL clears it). */
void tracker_set_baseline(struct tracker *t, struct snapshot *b);
const struct snapshot *tracker_baseline(const struct tracker *t);
/** The latest snapshot, NULL before the first. */
const struct snapshot *tracker_current(const struct tracker *t);

/**
 * Take @s as the latest snapshot without comparing (the daemon restarted within a boot and
 * continues from what it stored).  Ownership moves.
 */
void tracker_prime(struct tracker *t, struct snapshot *s);

/**
 * A new snapshot (ownership moves): cpuid.drift against the latest one, and
 * cpuid.vcpu_mismatch when its content is new (the first snapshot included).  Without a
 * baseline, the snapshot becomes it.  0 or -ENOMEM.
 */
int tracker_snapshot(struct tracker *t, struct snapshot *s, struct evlist *out);

/** cpuid.boot_drift of this boot's first snapshot @now against the last boot's @prev. */
int tracker_boot_drift(const struct snapshot *prev, const struct snapshot *now, struct evlist *out);

/**
 * A probe run: probe.mismatch for features that newly fault although advertised, and
 * probe.shadow_drift when the masked-but-executable set changed.  0 or -ENOMEM.
 */
int tracker_probes(struct tracker *t, const struct probe_summary *p, struct evlist *out);

/**
 * Record what the faulting vCPU's CPUID said when @f arrived (@now: its features; @from:
 * which vCPU, and how it was read): the features of the latest snapshot it lacks go into
 * f->lost_now.  The judgement then uses them: a fault may be the first sign of a migration
 * the latest snapshot predates.  Only losses count: one vCPU may advertise more than the
 * all-vCPU snapshot does.
 */
void tracker_cpuid_now(const struct tracker *t, struct fault *f, const struct featset *now,
		       const char *from);

/**
 * Where the running cpudrift keeps its probe code (capture/selfcode.h): faults there are
 * class "probe".  NULL forgets it.
 */
void tracker_set_probe_code(struct tracker *t, const struct code_range *r);

/** The fault.sigill event of @f, attributed and classified.  0 or -ENOMEM. */
int tracker_fault(struct tracker *t, const struct fault *f, struct evlist *out);

#endif
