/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The feature table: every CPUID-enumerated feature, named as Linux names it in
 * /proc/cpuinfo, with its CPUID location, the XCR0 state components it needs and a short
 * description.  Decoding, diffing, probing, fault attribution and reports all use it;
 * nothing else in cpudrift hard-codes a CPUID bit position.  The rows live in
 * features.def.
 */
#ifndef CPUDRIFT_FEATURES_H
#define CPUDRIFT_FEATURES_H

#include <stdbool.h>
#include <stdint.h>

enum feat_reg { REG_EAX, REG_EBX, REG_ECX, REG_EDX };

/* XCR0 state components (Intel SDM vol. 1, 13.1). */
#define XS_X87 (1ull << 0)
#define XS_SSE (1ull << 1)
#define XS_AVX (1ull << 2)
#define XS_BNDREGS (1ull << 3)
#define XS_BNDCSR (1ull << 4)
#define XS_OPMASK (1ull << 5)
#define XS_ZMM_HI256 (1ull << 6)
#define XS_HI16_ZMM (1ull << 7)
#define XS_PKRU (1ull << 9)
#define XS_TILECFG (1ull << 17)
#define XS_TILEDATA (1ull << 18)
#define XS_APX (1ull << 19)

/* What a feature class needs enabled in XCR0 before its instructions can run. */
#define XSTATE_SSE (XS_SSE)
#define XSTATE_AVX (XS_SSE | XS_AVX)
#define XSTATE_AVX512 (XS_SSE | XS_AVX | XS_OPMASK | XS_ZMM_HI256 | XS_HI16_ZMM)
#define XSTATE_AMX (XS_TILECFG | XS_TILEDATA)
#define XSTATE_MPX (XS_BNDREGS | XS_BNDCSR)
#define XSTATE_PKRU (XS_PKRU)
#define XSTATE_APX (XS_APX)

/* Who can use a feature (features.def, "Scope column"). */
enum feat_scope {
	SCOPE_USER, /* a user-mode program: losing it can make a program fault */
	SCOPE_HINT, /* a behaviour user code may consult; losing it costs speed only */
	SCOPE_SYS, /* the kernel, the hypervisor or firmware */
};

enum feature_id {
#define FEAT(id, name, leaf, subleaf, reg, bit, xstate, scope, desc) FEAT_##id,
#include "core/features.def"
#undef FEAT
	FEAT__COUNT
};

struct feature {
	const char *name; /* /proc/cpuinfo spelling */
	uint32_t leaf;
	uint32_t subleaf;
	uint8_t reg; /* enum feat_reg */
	uint8_t bit;
	uint64_t xstate; /* XCR0 bits that must all be set, 0 if none */
	uint8_t scope; /* enum feat_scope */
	const char *desc;
};

extern const struct feature feature_table[FEAT__COUNT];

/** Feature id for a /proc/cpuinfo name, or -1. */
int feature_lookup(const char *name);
/** "user", "hint" or "sys". */
const char *feature_scope_name(int scope);

#define FEATSET_WORDS ((FEAT__COUNT + 63) / 64)

/* A set of features, indexed by enum feature_id. */
struct featset {
	uint64_t w[FEATSET_WORDS];
};

static inline void featset_add(struct featset *s, int id)
{
	s->w[id / 64] |= 1ull << (id % 64);
}

static inline void featset_del(struct featset *s, int id)
{
	s->w[id / 64] &= ~(1ull << (id % 64));
}

static inline bool featset_has(const struct featset *s, int id)
{
	return s->w[id / 64] >> (id % 64) & 1;
}

#define featset_for_each(id, s)                    \
	for ((id) = 0; (id) < FEAT__COUNT; (id)++) \
		if (featset_has((s), (id)))

int featset_count(const struct featset *s);
bool featset_equal(const struct featset *a, const struct featset *b);
/** @out = @a & ~@b (features of @a missing from @b). */
void featset_minus(struct featset *out, const struct featset *a, const struct featset *b);
void featset_and(struct featset *out, const struct featset *a, const struct featset *b);
/** @out = @a | @b. */
void featset_or(struct featset *out, const struct featset *a, const struct featset *b);
/** @out = the features of @s whose scope is @scope. */
void featset_scope(struct featset *out, const struct featset *s, int scope);
/** True when every feature of @a is in @b. */
bool featset_subset(const struct featset *a, const struct featset *b);

/** Names of the features in @s sorted by name; @out must hold FEAT__COUNT.  Returns count. */
int featset_names(const struct featset *s, const char **out);
struct json_object;
/** The names of @s as a new JSON array, sorted by name (the one JSON form of a set). */
struct json_object *featset_to_json(const struct featset *s);
/** {"user": [...], "hint": [...], "sys": [...]}: the names of @s split by scope. */
struct json_object *featset_to_json_by_scope(const struct featset *s);
/**
 * A stable fingerprint of a set: 64-bit FNV-1a over the sorted names joined with ','.
 * Independent of table order, so adding rows to the table never changes old hashes.
 */
uint64_t featset_hash(const struct featset *s);
/** featset_hash as 16 hex digits into @buf (17 bytes). */
void featset_hash_str(const struct featset *s, char buf[17]);

/** True when the OS has enabled every XCR0 state component feature @id needs. */
bool feature_xstate_enabled(int id, bool has_xcr0, uint64_t xcr0);

/**
 * The x86-64 micro-architecture level (1-4) the way glibc computes it: the features of
 * each level must be advertised and, for v3 and v4, their state enabled in XCR0.
 * Returns 0 when not even the baseline is met.
 */
int x86_level(const struct featset *advertised, bool has_xcr0, uint64_t xcr0);
/** "x86-64-v1" ... "x86-64-v4", "none" for 0 (as the other commands print levels). */
const char *x86_level_name(int level);

#endif
