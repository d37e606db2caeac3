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

#include <stddef.h>
#include <stdint.h>

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

/** The model NAME names, versioned or through an alias; NULL if none. */
const struct named_model *models_find(const char *name);

/** QEMU's (qemu != 0) or libvirt's name of a CPUID bit; NULL if the tool has none. */
const char *models_feature_name(int qemu, uint32_t leaf, uint32_t subleaf, unsigned reg,
				unsigned bit);

#endif
