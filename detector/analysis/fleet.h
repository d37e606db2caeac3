/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fleet baselines (pure): the CPU features every input offers, what each input has beyond
 * them, the newest named models that fit inside them, and configuration that masks a VM to
 * them (a QEMU -cpu string, a libvirt <cpu mode='custom'> element).  Inputs are decoded
 * snapshots; only a small summary of each is kept, so a fleet of thousands costs little.
 *
 * "Fits" is judged on the features a program can use (scope user and hint in the feature
 * table): the kernel's, firmware's and hypervisor's bits (hypervisor, x2apic, vmx, ...)
 * differ between a host and its guests without a program noticing.
 */
#ifndef CPUDRIFT_FLEET_H
#define CPUDRIFT_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "analysis/models.h"
#include "core/features.h"
#include "core/snapshot.h"

/* The newest fitting models a report names, and the near misses. */
#define FLEET_MODELS_MAX 5
#define FLEET_NEAR_MAX 3

/* What a fleet keeps of one input. */
struct fleet_input {
	char *name; /* as given (a path); printed escaped */
	char vendor[16];
	uint32_t family, model, stepping;
	char brand[64];
	bool hypervisor; /* CPUID says it runs under a hypervisor */
	int level;
	bool has_xcr0;
	uint64_t xcr0;
	struct featset features;
};

/* A named model that fits inside the common set. */
struct fleet_fit {
	const struct named_model *m;
	int level;
	struct featset lacks; /* user and hint features of the common set it does not define */
};

/* A model newer than every fit that all but a few inputs could run. */
struct fleet_near {
	const struct named_model *m;
	struct featset missing; /* user and hint features it defines that some input lacks */
	size_t blocking; /* inputs that lack one of them */
};

/* One tool's configuration masking a VM to the common set. */
struct fleet_config {
	const struct named_model *base; /* NULL: no model can be the base */
	const char *base_name; /* the name the tool knows it by */
	struct featset add; /* features of the target set the base lacks */
	struct featset del; /* features of the base outside the target set */
	struct featset unnamed; /* of add and del, those the tool has no name for */
};

struct fleet_report {
	size_t ninputs;
	const struct fleet_input *inputs;
	struct featset common; /* on every input */
	bool has_xcr0;
	uint64_t xcr0; /* the state every input with an XCR0 reading enabled */
	int level; /* x86-64 level of the common set */
	size_t nvendors;
	const char *vendors[8]; /* distinct vendors, in input order (more are counted) */
	bool all_guests; /* every input runs under a hypervisor */
	/* What masking targets: the common set, less what a VM cannot be given (see fleet.c) */
	struct featset target;
	size_t nfits;
	struct fleet_fit fits[FLEET_MODELS_MAX];
	size_t nnear;
	struct fleet_near near[FLEET_NEAR_MAX];
	struct fleet_config qemu, libvirt;
	const char *qemu_version; /* base restricted to models this QEMU defines, or NULL */
};

struct fleet;

/** A new, empty fleet; NULL on allocation failure. */
struct fleet *fleet__new(void);
void fleet__free(struct fleet *f);
/** Add a decoded snapshot under @name (copied).  0 or -ENOMEM. */
int fleet_add(struct fleet *f, const char *name, const struct snapshot *s);
/**
 * Make room for @n inputs, to be filled with fleet_set() in any order and from several
 * threads at once (each index by one).  0 or -ENOMEM.
 */
int fleet_reserve(struct fleet *f, size_t n);
/** Fill input @i (below fleet_reserve()'s @n) from @s under @name.  0 or -ENOMEM. */
int fleet_set(struct fleet *f, size_t i, const char *name, const struct snapshot *s);
/** How many inputs were added. */
size_t fleet_count(const struct fleet *f);
/**
 * Compute the report.  @qemu_version ("7.2"; NULL: any) restricts the base of the QEMU
 * -cpu string to models that release defines.  Valid until the fleet is freed or added
 * to.  0, -EINVAL for an empty fleet or an input reserved and never set, or -ENOMEM.
 */
int fleet_analyse(struct fleet *f, const char *qemu_version, struct fleet_report *out);

/** The QEMU -cpu value of @r ("Haswell-v4,-hle,+avx512f"); malloc'd, NULL without a base. */
char *fleet_qemu_cpu(const struct fleet_report *r);
/** The libvirt <cpu> element of @r, indented, newline-terminated; malloc'd or NULL. */
char *fleet_libvirt_xml(const struct fleet_report *r);

/** The report as JSON (the form `cpudrift fleet --json` prints). */
struct json_object *fleet_to_json(const struct fleet_report *r);

#endif
