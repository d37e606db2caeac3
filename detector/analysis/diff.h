/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Pure comparison of two snapshots: the list of changes, each with a severity. */
#ifndef CPUDRIFT_DIFF_H
#define CPUDRIFT_DIFF_H

#include <json-c/json.h>

#include "core/event.h"
#include "core/snapshot.h"

#define CHANGE_KINDS(X)                       \
	X(FEATURE_ADDED, "feature.added")     \
	X(FEATURE_REMOVED, "feature.removed") \
	X(IDENTITY, "identity")               \
	X(MICROCODE, "microcode")             \
	X(HYPERVISOR, "hypervisor")           \
	X(XCR0, "xcr0")                       \
	X(TSC, "tsc")                         \
	X(LEVEL, "level")                     \
	X(LEAF, "leaf")                       \
	X(VCPU_MISMATCH, "vcpu.mismatch")     \
	X(SHADOW, "shadow")

enum change_kind {
#define X(id, name) CHANGE_##id,
	CHANGE_KINDS(X)
#undef X
};

const char *change_kind_name(enum change_kind k);

struct change {
	enum change_kind kind;
	enum severity sev;
	char field[48]; /* "avx2", "family", "0x00000007.0.ebx", ... */
	char before[96];
	char after[96];
	int vcpu; /* for vcpu.mismatch: the vCPU that disagrees with vCPU 0; else -1 */
};

struct diff {
	size_t n, cap;
	struct change *v;
};

/** Compare @a (before) with @b (after).  0 or -ENOMEM. */
int diff_snapshots(const struct snapshot *a, const struct snapshot *b, struct diff *out);
/** Differences among the vCPUs of one snapshot (appended to @out). */
int diff_vcpus(const struct snapshot *s, struct diff *out);
void diff_free(struct diff *d);
enum severity diff_max_severity(const struct diff *d);
struct json_object *diff_to_json(const struct diff *d);

/**
 * True for register bits that differ per vCPU or per boot by design (APIC IDs, core
 * counts in topology leaves, ...) and are never compared.  Returns the mask of bits of
 * register @reg of (@leaf, @subleaf) that are compared.
 */
uint32_t diff_compared_mask(uint32_t leaf, uint32_t subleaf, int reg);

#endif
