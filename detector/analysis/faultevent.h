/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One fault in, one fault.sigill event out (analysis): attribution, classification and
 * the JSON evidence that `cpudrift watch`, the daemon, the store and every sink share.
 */
#ifndef CPUDRIFT_FAULTEVENT_H
#define CPUDRIFT_FAULTEVENT_H

#include "analysis/attrib.h"
#include "analysis/classify.h"
#include "core/event.h"
#include "core/fault.h"

/**
 * Decode @f's bytes into @a and classify it into @c.  @ctx supplies what the caller knows
 * of the machine (advertised, XCR0, baseline, probes, AMX permission); its per-fault
 * fields (attr, sig, trap_nr, comm, fault) are ignored.
 */
void faultevent_classify(const struct fault *f, const struct classify_input *ctx,
			 struct attribution *a, struct classification *c);

/** The severity of a fault of class @cls. */
enum severity faultevent_severity(enum fault_class cls);

/**
 * The fault.sigill event: subject = comm, pid, a one-line summary and the body documented
 * in README.md ("Fault JSON").  A traced process's fault is at most a notice.  NULL on
 * allocation failure.
 */
struct event *faultevent_new(const struct fault *f, const struct attribution *a,
			     const struct classification *c);

#endif
