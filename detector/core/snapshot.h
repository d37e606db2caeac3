/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A CPUID snapshot: raw leaves per vCPU (the truth) plus what decode derives from them
 * (identity, features, level, hypervisor).  Raw and decoded data are kept apart: only
 * decode_snapshot() writes the decoded fields, from the raw leaves and the few facts that
 * are not CPUID (XCR0, microcode, kernel flags).
 */
#ifndef CPUDRIFT_SNAPSHOT_H
#define CPUDRIFT_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/features.h"

#define SNAPSHOT_FORMAT 1

/* The CPUID leaf ranges: standard from 0, hypervisor from 0x40000000, extended from 0x80000000. */
#define LEAF_HV_BASE 0x40000000u
#define LEAF_EXT_BASE 0x80000000u

/* One CPUID result. */
struct leafval {
	uint32_t leaf;
	uint32_t subleaf;
	uint32_t r[4]; /* eax, ebx, ecx, edx (enum feat_reg) */
};

/* Every leaf captured on one vCPU, sorted by (leaf, subleaf). */
struct vcpu_dump {
	int cpu;
	size_t n, cap;
	struct leafval *leaves;
};

struct identity {
	char vendor[16];
	uint32_t family, model, stepping; /* display values (extended fields folded in) */
	uint32_t signature; /* leaf 1 EAX */
	char brand[64];
	char codename[64]; /* libcpuid's guess, may be empty or wrong */
	uint32_t l1d_kb, l1i_kb, l2_kb, l3_kb;
};

struct snapshot {
	/* capture context */
	int64_t realtime_ns;
	int64_t monotonic_ns;
	char boot_id[40];
	char source[256]; /* "live" or "import:<path> (<format>)" */

	/* raw facts */
	int nvcpus;
	struct vcpu_dump *vcpus;
	bool has_xcr0;
	uint64_t xcr0;
	bool has_microcode;
	uint64_t microcode;
	size_t nkflags;
	char **kflags; /* /proc/cpuinfo flags of the first CPU, sorted */

	/* decoded (decode_snapshot) */
	struct identity id;
	struct featset features; /* advertised on every vCPU */
	int level; /* x86-64 level, 0-4 */
	char hypervisor[16]; /* leaf 0x40000000 vendor, empty on bare metal */
	uint32_t hv_max_leaf;
	uint32_t hv_tsc_khz, hv_bus_khz; /* leaf 0x40000010 when present */

	/* instruction probes (probes/): the masked-but-executable set */
	bool has_shadow;
	struct featset shadow;
};

struct snapshot *snapshot__new(void);
void snapshot__free(struct snapshot *s);
/** A deep copy; NULL on allocation failure. */
struct snapshot *snapshot_dup(const struct snapshot *s);

/** Add a vCPU to @s; returns it, or NULL on allocation failure. */
struct vcpu_dump *snapshot_add_vcpu(struct snapshot *s, int cpu);
/**
 * The highest leaf of the range starting at @base (0, LEAF_HV_BASE, LEAF_EXT_BASE) that @v
 * reports, or 0 when the range is absent: a range is present only when its maximum leaf
 * lies in the range itself.
 */
uint32_t vcpu_dump_max_leaf(const struct vcpu_dump *v, uint32_t base);
/** Add or replace one leaf; keeps the vCPU's leaves sorted.  0 or -ENOMEM. */
int vcpu_dump_put(struct vcpu_dump *v, uint32_t leaf, uint32_t subleaf, const uint32_t r[4]);
/** The leaf, or NULL when it was not captured. */
const struct leafval *vcpu_dump_get(const struct vcpu_dump *v, uint32_t leaf, uint32_t subleaf);
/** Set the kernel flag list (copied, sorted, deduplicated).  0 or -ENOMEM. */
int snapshot_set_kflags(struct snapshot *s, char *const *flags, size_t n);
bool snapshot_has_kflag(const struct snapshot *s, const char *flag);

/**
 * What identifies a snapshot's content (FNV-1a 64 over the raw leaves, XCR0, microcode and
 * the shadow set): equal digests, nothing to store again.
 */
uint64_t snapshot_digest(const struct snapshot *s);

/* What the instruction probes said about the CPU a snapshot describes. */
struct probe_summary {
	int64_t mono_ns, real_ns; /* when the probes ran */
	struct featset shadow; /* not advertised, executes: the masked-but-executable set */
	struct featset mismatch; /* advertised, faults */
	struct featset os_disabled; /* the OS keeps it off (XCR0, CR4, AMX permission) */
};

#endif
