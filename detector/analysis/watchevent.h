/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fault watcher's own events (analysis), their one producer: watcher.forged names who
 * generated watched signals that were not CPU faults (uid, pid, comm: never a feature),
 * watcher.loss says what the watcher could not keep or detail and which processes filled
 * their catch-all.  Both are rate-limited here, so a storm of forgeries or of untracked
 * faults costs one event a period, and both weigh nothing in a verdict.
 */
#ifndef CPUDRIFT_WATCHEVENT_H
#define CPUDRIFT_WATCHEVENT_H

#include <stdint.h>

#include "core/event.h"
#include "core/fault.h"

#define WATCHEVENT_MAX_NAMED 8 /* senders or processes one event names */

struct watchevent_opts {
	int64_t forged_period_ns; /* at most one watcher.forged per period; 0: 10 s */
	int64_t loss_period_ns; /* at most one watcher.loss per period; 0: 60 s */
};

struct watchevent;

struct watchevent *watchevent__new(const struct watchevent_opts *o);
void watchevent__free(struct watchevent *w);

/** Remember a forged signal (the kernel's rate-limited record of one). */
void watchevent_forged(struct watchevent *w, const struct forged_signal *s);
/** Remember the untracked faults of a process (a FAULT_UNTRACKED record). */
void watchevent_untracked(struct watchevent *w, const struct fault *f);

/**
 * The watcher's counters at @mono_ns: a watcher.forged event when forged signals were
 * counted since the last one, a watcher.loss event when untracked faults or drops were,
 * each at most once per its period.  0 or -ENOMEM.
 */
int watchevent_tick(struct watchevent *w, const struct watcher_counts *c, int64_t mono_ns,
		    struct evlist *out);

#endif
