// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/features.h"

const struct feature feature_table[FEAT__COUNT] = {
#define FEAT(id, nm, lf, sl, rg, bt, xs, sc, ds) \
	[FEAT_##id] = { .name = nm,              \
			.leaf = lf,              \
			.subleaf = sl,           \
			.reg = rg,               \
			.bit = bt,               \
			.xstate = xs,            \
			.scope = SCOPE_##sc,     \
			.desc = ds },
#include "core/features.def"
#undef FEAT
};

int feature_lookup(const char *name)
{
	for (int i = 0; i < FEAT__COUNT; i++)
		if (!strcmp(feature_table[i].name, name))
			return i;
	return -1;
}

const char *feature_scope_name(int scope)
{
	static const char *const names[] = {
		[SCOPE_USER] = "user",
		[SCOPE_HINT] = "hint",
		[SCOPE_SYS] = "sys",
	};

	return scope >= 0 && scope <= SCOPE_SYS ? names[scope] : "?";
}

int featset_count(const struct featset *s)
{
	int n = 0;

	for (int i = 0; i < FEATSET_WORDS; i++)
		n += __builtin_popcountll(s->w[i]);
	return n;
}

bool featset_equal(const struct featset *a, const struct featset *b)
{
	return !memcmp(a->w, b->w, sizeof(a->w));
}

void featset_minus(struct featset *out, const struct featset *a, const struct featset *b)
{
	for (int i = 0; i < FEATSET_WORDS; i++)
		out->w[i] = a->w[i] & ~b->w[i];
}

void featset_and(struct featset *out, const struct featset *a, const struct featset *b)
{
	for (int i = 0; i < FEATSET_WORDS; i++)
		out->w[i] = a->w[i] & b->w[i];
}

void featset_or(struct featset *out, const struct featset *a, const struct featset *b)
{
	for (int i = 0; i < FEATSET_WORDS; i++)
		out->w[i] = a->w[i] | b->w[i];
}

void featset_scope(struct featset *out, const struct featset *s, int scope)
{
	struct featset r = { 0 };
	int id;

	featset_for_each (id, s)
		if (feature_table[id].scope == scope)
			featset_add(&r, id);
	*out = r;
}

bool featset_subset(const struct featset *a, const struct featset *b)
{
	for (int i = 0; i < FEATSET_WORDS; i++)
		if (a->w[i] & ~b->w[i])
			return false;
	return true;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int featset_names(const struct featset *s, const char **out)
{
	int n = 0, id;

	featset_for_each (id, s)
		out[n++] = feature_table[id].name;
	qsort(out, n, sizeof(*out), name_cmp);
	return n;
}

struct json_object *featset_to_json(const struct featset *s)
{
	struct json_object *a = json_object_new_array();
	const char *names[FEAT__COUNT];
	int n = featset_names(s, names);

	for (int i = 0; i < n && a; i++)
		json_object_array_add(a, json_object_new_string(names[i]));
	return a;
}

struct json_object *featset_to_json_by_scope(const struct featset *s)
{
	struct json_object *o = json_object_new_object();

	for (int sc = SCOPE_USER; sc <= SCOPE_SYS && o; sc++) {
		struct featset part;

		featset_scope(&part, s, sc);
		json_object_object_add(o, feature_scope_name(sc), featset_to_json(&part));
	}
	return o;
}

uint64_t featset_hash(const struct featset *s)
{
	const char *names[FEAT__COUNT];
	int n = featset_names(s, names);
	uint64_t h = 0xcbf29ce484222325ull;

	for (int i = 0; i < n; i++) {
		for (const char *p = i ? "," : ""; *p; p++)
			h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
		for (const char *p = names[i]; *p; p++)
			h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
	}
	return h;
}

void featset_hash_str(const struct featset *s, char buf[17])
{
	static const char hex[] = "0123456789abcdef";
	uint64_t h = featset_hash(s);

	for (int i = 15; i >= 0; i--, h >>= 4)
		buf[i] = hex[h & 0xf];
	buf[16] = '\0';
}

/*
 * Without an XCR0 reading (a dump imported from another machine) we cannot know what its
 * OS enabled; we assume it enabled everything the CPU advertised.
 */
bool feature_xstate_enabled(int id, bool has_xcr0, uint64_t xcr0)
{
	uint64_t need = feature_table[id].xstate;

	if (!has_xcr0)
		return true;
	return (xcr0 & need) == need;
}

/* glibc sysdeps/x86/get-isa-level.h: the features each level adds. */
static const int level_features[][10] = {
	{ FEAT_CMOV, FEAT_CX8, FEAT_FPU, FEAT_FXSR, FEAT_MMX, FEAT_SSE, FEAT_SSE2, -1 },
	{ FEAT_CX16, FEAT_LAHF_LM, FEAT_POPCNT, FEAT_PNI, FEAT_SSE4_1, FEAT_SSE4_2, FEAT_SSSE3,
	  -1 },
	{ FEAT_AVX, FEAT_AVX2, FEAT_BMI1, FEAT_BMI2, FEAT_F16C, FEAT_FMA, FEAT_ABM, FEAT_MOVBE,
	  FEAT_OSXSAVE, -1 },
	{ FEAT_AVX512F, FEAT_AVX512BW, FEAT_AVX512CD, FEAT_AVX512DQ, FEAT_AVX512VL, -1 },
};

/*
 * glibc marks the baseline and v2 features usable from CPUID alone (legacy SSE needs
 * CR4.OSFXSR, not XCR0); only AVX and AVX-512 usability depends on XCR0.
 */
int x86_level(const struct featset *adv, bool has_xcr0, uint64_t xcr0)
{
	int level = 0;

	for (int l = 0; l < 4; l++) {
		for (const int *f = level_features[l]; *f >= 0; f++) {
			if (!featset_has(adv, *f))
				return level;
			if (l >= 2 && !feature_xstate_enabled(*f, has_xcr0, xcr0))
				return level;
		}
		level = l + 1;
	}
	return level;
}

const char *x86_level_name(int level)
{
	static const char *const names[] = { "none", "x86-64-v1", "x86-64-v2", "x86-64-v3",
					     "x86-64-v4" };

	return level >= 0 && level <= 4 ? names[level] : "?";
}
