/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Live capture (privileged only in that it pins itself to each vCPU): raw CPUID of every
 * online vCPU, XCR0, microcode revision and the kernel's flag list.  Gathers facts, never
 * decides; decode_snapshot() is called on the result.
 */
#ifndef CPUDRIFT_CAPTURE_H
#define CPUDRIFT_CAPTURE_H

#include "core/snapshot.h"

struct errbuf;

/* Bound on any subleaf enumeration and on the hypervisor range, against hostile CPUID. */
#define CAPTURE_MAX_SUBLEAF 64
#define CAPTURE_MAX_HV_LEAVES 0x100

struct capture_opts {
	int only_cpu; /* -1: every online vCPU */
	bool skip_extra; /* no microcode or kernel flags: CPUID and XCR0 only */
};

/** Capture this machine.  0 or a negative errno with @err filled. */
int capture_snapshot(struct snapshot **out, const struct capture_opts *o, struct errbuf *err);

/**
 * Capture every leaf on the vCPU the caller runs on into @v.  Returns the number of
 * CPUID instructions issued, or a negative errno.
 */
int capture_vcpu(struct vcpu_dump *v);

/**
 * The features CPUID advertises on the calling vCPU now; re-read at most once per
 * @max_age_ns (one capture costs ~50 CPUID exits).  For judging a fault against the CPU
 * it happened on rather than the last snapshot.  0 or a negative errno.
 */
int capture_features_now(struct featset *out, int64_t max_age_ns);

/** Online CPUs from /sys/devices/system/cpu/online; returns count, fills @cpus (max @n). */
int capture_online_cpus(int *cpus, int n);

#endif
