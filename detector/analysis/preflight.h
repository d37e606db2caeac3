/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Pre-flight check (pure): would moving a VM onto a target CPU take anything away?  The
 * features the VM has that the target lacks, split by who can use them (the feature
 * table's scope), the x86-64 level before and after, and what would be gained.  Only a
 * lost feature a user-mode program can use makes the move unsafe: the kernel's and the
 * hypervisor's bits (hypervisor, x2apic, vmx, ...) differ between a guest and a bare-metal
 * host of the same CPU without any program noticing, and hints (erms, invtsc) cost speed,
 * not correctness.
 */
#ifndef CPUDRIFT_PREFLIGHT_H
#define CPUDRIFT_PREFLIGHT_H

#include <stdbool.h>

#include <json-c/json.h>

#include "core/features.h"

struct preflight {
	struct featset lost; /* the VM has them, the target does not */
	struct featset gained; /* the target has them, the VM does not */
	int level_vm, level_target;
	bool unsafe; /* a user feature would be lost */
};

/** Compare the VM's features and level with the target's. */
void preflight_compare(const struct featset *vm, int level_vm, const struct featset *target,
		       int level_target, struct preflight *out);

/**
 * {"safe", "lost": {"user", "hint", "sys"}, "gained": {...}, "level_vm", "level_target",
 * "level_drop"}
 */
struct json_object *preflight_to_json(const struct preflight *p);

#endif
