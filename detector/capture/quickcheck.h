/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The quick check (capture): between full captures, read only the CPUID leaves and
 * subleaves that hold feature bits, plus XCR0, on one vCPU in turn, and compare what they
 * decode to with that vCPU in the last full capture.  The leaves come from the feature
 * table, with leaves 0 and 0x80000000 whose maxima say which leaves exist, so nothing here
 * names a bit: about 18 CPUID exits instead of a full capture's 50 or more per vCPU.  A
 * migration changes every vCPU at once, so one vCPU per check is enough to notice it; the
 * turn goes round so that a change on one vCPU only is seen too.  Gathers facts: the
 * caller decides what a difference triggers (a full capture).
 */
#ifndef CPUDRIFT_QUICKCHECK_H
#define CPUDRIFT_QUICKCHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/features.h"
#include "core/snapshot.h"

/* Distinct (leaf, subleaf) pairs of the feature table are far fewer than this. */
#define QUICKCHECK_MAX_LEAVES 64

struct quickcheck_result {
	int cpu; /* the vCPU read */
	int ncpuid; /* CPUID instructions issued */
	bool differs; /* features or XCR0 differ from the last capture of that vCPU */
	struct featset lost, gained; /* against that capture */
	bool has_xcr0;
	uint64_t xcr0_then, xcr0_now;
	int64_t cost_ns; /* CLOCK_MONOTONIC time the check took, pinning included */
};

struct quickcheck;

/** 0 or -ENOMEM. */
int quickcheck__new(struct quickcheck **out);
void quickcheck__free(struct quickcheck *q);

/** The (leaf, subleaf) pairs a check reads, in the order it reads them; returns the count. */
int quickcheck_leaves(const struct quickcheck *q, const uint32_t (**leaves)[2]);

/**
 * Read the next vCPU of @last (in turn) and compare it with @last's capture of that vCPU.
 * 0 with @r filled, -ENODEV when @last is NULL or none of its vCPUs can be pinned to (a
 * cpuset, all offline), or a negative errno.
 */
int quickcheck_run(struct quickcheck *q, const struct snapshot *last, struct quickcheck_result *r);

/**
 * The same comparison on a vCPU dump taken elsewhere (@now: the leaves a check read, and
 * its XCR0): what quickcheck_run decides, without CPUID.  For tests and benchmarks.
 */
void quickcheck_compare(const struct snapshot *last, const struct vcpu_dump *now, bool has_xcr0,
			uint64_t xcr0, struct quickcheck_result *r);

#endif
