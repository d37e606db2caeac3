/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The generated model tables as C data, and lookups over them.  Pure data: no I/O, no
 * allocation.
 */
#include "analysis/models.h"

#include <string.h>

#define W(leaf, subleaf, reg, value) { leaf, subleaf, MODEL_REG_##reg, value },
#define WORDS(...) ((const struct model_word[]){ __VA_ARGS__ })

#define MODEL(n, b, ver, vend, fam, mod, step, id, src, since_, wl) \
	{ .name = n,                                                \
	  .base = b,                                                \
	  .version = ver,                                           \
	  .vendor = vend,                                           \
	  .family = fam,                                            \
	  .model = mod,                                             \
	  .stepping = step,                                         \
	  .model_id = id,                                           \
	  .source = src,                                            \
	  .since = since_,                                          \
	  .words = WORDS(wl),                                       \
	  .nwords = sizeof(WORDS(wl)) / sizeof(struct model_word) },
const struct named_model models_table[] = {
#include "analysis/models.def"
};
const size_t models_count = sizeof(models_table) / sizeof(models_table[0]);

#define ALIAS(a, n) { a, n },
const struct model_alias models_aliases[] = {
#include "analysis/models.def"
};
const size_t models_alias_count = sizeof(models_aliases) / sizeof(models_aliases[0]);

#define QEMU_FEAT(leaf, subleaf, reg, bit, name) { leaf, subleaf, MODEL_REG_##reg, bit, name },
const struct model_feature_name models_qemu_names[] = {
#include "analysis/qemu_feature_names.def"
};
const size_t models_qemu_name_count = sizeof(models_qemu_names) / sizeof(models_qemu_names[0]);

#define LIBVIRT_FEAT(leaf, subleaf, reg, bit, name) { leaf, subleaf, MODEL_REG_##reg, bit, name },
const struct model_feature_name models_libvirt_names[] = {
#include "analysis/libvirt_feature_names.def"
};
const size_t models_libvirt_name_count =
	sizeof(models_libvirt_names) / sizeof(models_libvirt_names[0]);

const struct named_model *models_find(const char *name)
{
	size_t i;

	for (i = 0; i < models_alias_count; i++) {
		if (strcmp(models_aliases[i].alias, name) == 0) {
			name = models_aliases[i].name;
			break;
		}
	}
	for (i = 0; i < models_count; i++) {
		if (strcmp(models_table[i].name, name) == 0)
			return &models_table[i];
	}
	return NULL;
}

const char *models_feature_name(int qemu, uint32_t leaf, uint32_t subleaf, unsigned reg,
				unsigned bit)
{
	const struct model_feature_name *t = qemu ? models_qemu_names : models_libvirt_names;
	size_t n = qemu ? models_qemu_name_count : models_libvirt_name_count;
	size_t i;

	for (i = 0; i < n; i++) {
		if (t[i].leaf == leaf && t[i].subleaf == subleaf && t[i].reg == reg &&
		    t[i].bit == bit)
			return t[i].name;
	}
	return NULL;
}
