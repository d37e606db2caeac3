/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Recorded evidence (pure): observations of snapshots ("cpuid"), probe results ("shadow")
 * and classified faults ("fault") turned into the cpuid.drift, probe.shadow_drift and
 * fault.sigill events the verdict fuses.  The daemon has the real diff and classifier;
 * this lets a recording (`cpudrift replay`, the migration lab) drive the verdict end to
 * end with the same event kinds and the body keys verdict.c reads.
 */
#ifndef CPUDRIFT_EVIDENCE_H
#define CPUDRIFT_EVIDENCE_H

#include "core/observe.h"
#include "analysis/timing.h"

struct evidence;

struct evidence *evidence__new(void);
void evidence__free(struct evidence *ev);

/** Analyse one observation (other sources are ignored).  0 or -ENOMEM. */
int evidence_feed(struct evidence *ev, const struct observation *o, struct evlist *out);

/** Fault classes that mean "this VM lost a feature its programs use". */
bool evidence_class_is_migration(const char *fault_class);

#endif
