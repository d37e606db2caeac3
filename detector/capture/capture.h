/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Live capture (privileged only in that it pins itself to each vCPU): raw CPUID of every
 * online vCPU, XCR0, microcode revision and the kernel's flag list.  Gathers facts, never
 * decides; decode_snapshot() is called on the result.
 */
#ifndef CPUDRIFT_CAPTURE_H
#define CPUDRIFT_CAPTURE_H

#include "analysis/tracker.h"
#include "core/fault.h"
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
 * Judge fault @f on the vCPU it happened on: read the features CPUID advertises there now
 * (pinned; re-read at most once per @max_age_ns per vCPU: one read is ~50 CPUID exits) and
 * record what the tracker's latest snapshot has that it lacks (tracker_cpuid_now).  When
 * this process cannot run there (a cpuset, an offline vCPU), that vCPU's newest capture is
 * used, and f->lost_now_from says so.  SIGILL only; nothing happens before a snapshot.
 */
void capture_fault_cpuid(const struct tracker *t, struct fault *f, int64_t max_age_ns);

/** Online CPUs from /sys/devices/system/cpu/online; returns count, fills @cpus (max @n). */
int capture_online_cpus(int *cpus, int n);

#endif
