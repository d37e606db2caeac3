/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The generated model tables as C data, and lookups over them.  Pure data: no I/O, no
 * allocation.
 */
#include "analysis/models.h"

#include <json-c/json.h>

#include <stdio.h>
#include <stdlib.h>
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

#define LIBVIRT_MODEL(name) name,
const char *const models_libvirt_models[] = {
#include "analysis/libvirt_feature_names.def"
};
const size_t models_libvirt_model_count =
	sizeof(models_libvirt_models) / sizeof(models_libvirt_models[0]);

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

const char *models_tool_name(int qemu, int id)
{
	const struct feature *f = &feature_table[id];

	return models_feature_name(qemu, f->leaf, f->subleaf, f->reg, f->bit);
}

void models_features(const struct named_model *m, struct featset *out)
{
	memset(out, 0, sizeof(*out));
	for (int id = 0; id < FEAT__COUNT; id++) {
		const struct feature *f = &feature_table[id];

		for (size_t i = 0; i < m->nwords; i++) {
			const struct model_word *w = &m->words[i];

			if (w->leaf == f->leaf && w->subleaf == f->subleaf && w->reg == f->reg &&
			    (w->value >> f->bit & 1))
				featset_add(out, id);
		}
	}
	if (featset_has(out, FEAT_XSAVE))
		featset_add(out, FEAT_OSXSAVE);
	if (featset_has(out, FEAT_PKU))
		featset_add(out, FEAT_OSPKE);
}

int models_level(const struct named_model *m)
{
	struct featset fs;

	models_features(m, &fs);
	return x86_level(&fs, false, 0);
}

const char *models_alias(const struct named_model *m)
{
	for (size_t i = 0; i < models_alias_count; i++)
		if (strcmp(models_aliases[i].name, m->name) == 0)
			return models_aliases[i].alias;
	return NULL;
}

const char *models_libvirt_model(const struct named_model *m)
{
	for (size_t i = 0; i < models_libvirt_model_count; i++)
		if (models_find(models_libvirt_models[i]) == m)
			return models_libvirt_models[i];
	return NULL;
}

/* "9.1" -> 901; -1 when not a version. */
static int version_num(const char *v)
{
	unsigned major, minor = 0;
	int n = 0;

	if (sscanf(v, "%u%n.%u%n", &major, &n, &minor, &n) < 1 || v[n] || major > 99 || minor > 99)
		return -1;
	return (int)(major * 100 + minor);
}

int models_defined_in(const struct named_model *m, const char *version)
{
	int want, since;

	if (!version)
		return 1;
	want = version_num(version);
	if (want < 0)
		return -1;
	/* "<=7.2": defined by Debian's 7.2; how much older is not recorded. */
	if (strncmp(m->since, "<=", 2) == 0) {
		since = version_num(m->since + 2);
		return since < 0 ? -1 : want >= since ? 1 : -1;
	}
	since = version_num(m->since);
	if (since < 0)
		return -1;
	return want >= since;
}

struct json_object *models_to_json(const struct named_model *m, bool features)
{
	struct json_object *o = json_object_new_object();
	const char *alias = models_alias(m), *lv = models_libvirt_model(m);

	json_object_object_add(o, "name", json_object_new_string(m->name));
	json_object_object_add(o, "base", json_object_new_string(m->base));
	json_object_object_add(o, "version", json_object_new_int(m->version));
	json_object_object_add(o, "alias", alias ? json_object_new_string(alias) : NULL);
	json_object_object_add(o, "libvirt", lv ? json_object_new_string(lv) : NULL);
	json_object_object_add(o, "vendor", json_object_new_string(m->vendor));
	json_object_object_add(o, "family", json_object_new_int(m->family));
	json_object_object_add(o, "model", json_object_new_int(m->model));
	json_object_object_add(o, "stepping",
			       m->stepping < 0 ? NULL : json_object_new_int(m->stepping));
	json_object_object_add(o, "model_id", json_object_new_string(m->model_id));
	json_object_object_add(o, "level", json_object_new_int(models_level(m)));
	json_object_object_add(o, "qemu_since", json_object_new_string(m->since));
	json_object_object_add(o, "source", json_object_new_string(m->source));
	if (features) {
		struct featset fs;

		models_features(m, &fs);
		json_object_object_add(o, "features", featset_to_json(&fs));
	}
	return o;
}
