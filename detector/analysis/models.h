/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Named CPU models (QEMU's -cpu models, their versions and aliases) and each tool's name
 * for a CPUID feature bit (QEMU's, libvirt's), as generated tables.  A model carries raw
 * CPUID words only: decode them through the feature table like a captured dump, so that
 * features.def stays the one place that names a bit.  The rows live in models.def,
 * qemu_feature_names.def and libvirt_feature_names.def; gen_models.py writes them.
 */
#ifndef CPUDRIFT_MODELS_H
#define CPUDRIFT_MODELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/features.h"

/* CPUID output register, numbered as enum feat_reg in features.h. */
enum model_reg { MODEL_REG_EAX, MODEL_REG_EBX, MODEL_REG_ECX, MODEL_REG_EDX };

struct model_word {
	uint32_t leaf;
	uint32_t subleaf;
	uint8_t reg; /* enum model_reg */
	uint32_t value;
};

struct named_model {
	const char *name; /* "Haswell-v4", what -cpu takes */
	const char *base; /* "Haswell" */
	unsigned version;
	const char *vendor; /* "GenuineIntel", "AuthenticAMD", ... */
	int family;
	int model;
	int stepping; /* -1 when not known */
	const char *model_id;
	const char *source; /* "qemu-7.2.22", "qemu@COMMIT", "libvirt@COMMIT" */
	const char *since; /* first QEMU release defining it, "<=7.2", or "?" */
	const struct model_word *words;
	size_t nwords;
};

struct model_alias {
	const char *alias; /* "Haswell-noTSX-IBRS" */
	const char *name; /* "Haswell-v4" */
};

struct model_feature_name {
	uint32_t leaf;
	uint32_t subleaf;
	uint8_t reg; /* enum model_reg */
	uint8_t bit;
	const char *name;
};

extern const struct named_model models_table[];
extern const size_t models_count;
extern const struct model_alias models_aliases[];
extern const size_t models_alias_count;
extern const struct model_feature_name models_qemu_names[];
extern const size_t models_qemu_name_count;
extern const struct model_feature_name models_libvirt_names[];
extern const size_t models_libvirt_name_count;
/* The CPU model names Debian's libvirt knows (its cpu_map), for <model> elements. */
extern const char *const models_libvirt_models[];
extern const size_t models_libvirt_model_count;

/** The model NAME names, versioned or through an alias; NULL if none. */
const struct named_model *models_find(const char *name);

/** QEMU's (qemu != 0) or libvirt's name of a CPUID bit; NULL if the tool has none. */
const char *models_feature_name(int qemu, uint32_t leaf, uint32_t subleaf, unsigned reg,
				unsigned bit);
/** QEMU's (qemu != 0) or libvirt's name of feature @id (enum feature_id); NULL if none. */
const char *models_tool_name(int qemu, int id);

/**
 * The features @m defines, decoded through the feature table.  OSXSAVE and OSPKE report
 * what the guest's kernel switched on (CR4), so no model defines them; they are added
 * where the model defines XSAVE and PKU, because Linux turns both on whenever it can, and
 * a dump taken under Linux shows them.
 */
void models_features(const struct named_model *m, struct featset *out);
/** The x86-64 level of models_features() (the guest OS enables the XSAVE state). */
int models_level(const struct named_model *m);
/** The first unversioned name (alias) that resolves to @m, or NULL. */
const char *models_alias(const struct named_model *m);
/** The name libvirt knows for @m (a libvirt model resolving to it), or NULL. */
const char *models_libvirt_model(const struct named_model *m);
/**
 * Whether QEMU release @version ("7.2", "9.1") defines @m: 1 yes, 0 no, -1 not known
 * (since is "?").  NULL @version: 1.
 */
int models_defined_in(const struct named_model *m, const char *version);

struct json_object;
/** @m as JSON (name, alias, vendor, family, ..., qemu_since); @features adds its features. */
struct json_object *models_to_json(const struct named_model *m, bool features);

#endif
