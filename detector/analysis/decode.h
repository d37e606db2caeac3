/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Decoding (pure): identity, features, x86-64 level and hypervisor derived from a
 * snapshot's raw leaves and the few facts that are not CPUID (XCR0, microcode, kernel
 * flags).  Never executes CPUID.
 */
#ifndef CPUDRIFT_DECODE_H
#define CPUDRIFT_DECODE_H

#include "core/snapshot.h"

struct errbuf;

/** Fill @s's decoded fields.  0 or a negative errno with @err filled (no vCPU, no leaf 0). */
int decode_snapshot(struct snapshot *s, struct errbuf *err);

/** Decode the features one vCPU advertises (honours the maximum leaf of each range). */
void decode_vcpu_features(const struct vcpu_dump *v, struct featset *out);

#endif
