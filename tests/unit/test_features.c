// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The feature table is the one vocabulary every other module uses, so its rows must be
 * well formed, unique, where the vendors put them, and the x86-64 level must follow
 * glibc's rules (sysdeps/x86/get-isa-level.h and cpu_features.c).
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/features.h"

static const char *const reg_names[] = { "eax", "ebx", "ecx", "edx" };

/* The (leaf, subleaf, register) words the table is meant to cover. */
static const struct {
	uint32_t leaf, subleaf;
	uint8_t reg;
} covered_words[] = {
	{ 0x1, 0, REG_ECX },	    { 0x1, 0, REG_EDX },	{ 0x6, 0, REG_EAX },
	{ 0x6, 0, REG_ECX },	    { 0x7, 0, REG_EBX },	{ 0x7, 0, REG_ECX },
	{ 0x7, 0, REG_EDX },	    { 0x7, 1, REG_EAX },	{ 0x7, 1, REG_EBX },
	{ 0x7, 1, REG_ECX },	    { 0x7, 1, REG_EDX },	{ 0x7, 2, REG_EDX },
	{ 0xd, 1, REG_EAX },	    { 0x14, 0, REG_EBX },	{ 0x14, 0, REG_ECX },
	{ 0x19, 0, REG_EBX },	    { 0x24, 0, REG_EBX },	{ 0x24, 1, REG_ECX },
	{ 0x80000001, 0, REG_ECX }, { 0x80000001, 0, REG_EDX }, { 0x80000007, 0, REG_EBX },
	{ 0x80000007, 0, REG_EDX }, { 0x80000008, 0, REG_EBX }, { 0x8000000a, 0, REG_EDX },
	{ 0x8000001f, 0, REG_EAX }, { 0x80000021, 0, REG_EAX },
};

static bool word_covered(uint32_t leaf, uint32_t subleaf, int reg)
{
	for (size_t i = 0; i < sizeof(covered_words) / sizeof(covered_words[0]); i++)
		if (covered_words[i].leaf == leaf && covered_words[i].subleaf == subleaf &&
		    covered_words[i].reg == reg)
			return true;
	return false;
}

static int find_location(uint32_t leaf, uint32_t subleaf, int reg, int bit)
{
	for (int i = 0; i < FEAT__COUNT; i++) {
		const struct feature *f = &feature_table[i];

		if (f->leaf == leaf && f->subleaf == subleaf && f->reg == reg && f->bit == bit)
			return i;
	}
	return -1;
}

TestSuite(features);

Test(features, table_is_large_and_well_formed)
{
	cr_assert_geq(FEAT__COUNT, 250, "only %d features", FEAT__COUNT);
	for (int i = 0; i < FEAT__COUNT; i++) {
		const struct feature *f = &feature_table[i];
		size_t n = strlen(f->name);

		cr_assert_gt(n, 0, "row %d has no name", i);
		cr_assert_eq(strspn(f->name, "abcdefghijklmnopqrstuvwxyz0123456789_"), n,
			     "name '%s' is not lowercase [a-z0-9_]", f->name);
		cr_assert_lt(f->reg, 4, "%s: bad register", f->name);
		cr_assert_lt(f->bit, 32, "%s: bad bit", f->name);
		cr_assert(f->desc && f->desc[0], "%s: no description", f->name);
		cr_assert_leq(strlen(f->desc), 60, "%s: description too long", f->name);
		cr_assert(word_covered(f->leaf, f->subleaf, f->reg),
			  "%s: 0x%x.%u %s is not a covered CPUID word", f->name, f->leaf,
			  f->subleaf, reg_names[f->reg]);
	}
}

Test(features, names_and_locations_unique)
{
	for (int i = 0; i < FEAT__COUNT; i++)
		for (int j = i + 1; j < FEAT__COUNT; j++) {
			const struct feature *a = &feature_table[i], *b = &feature_table[j];

			cr_assert_str_neq(a->name, b->name, "duplicate name %s", a->name);
			cr_assert(!(a->leaf == b->leaf && a->subleaf == b->subleaf &&
				    a->reg == b->reg && a->bit == b->bit),
				  "%s and %s share 0x%x.%u %s[%u]", a->name, b->name, a->leaf,
				  a->subleaf, reg_names[a->reg], a->bit);
		}
}

/* Readers of `cpudrift features` rely on rows coming leaf by leaf. */
Test(features, rows_grouped_by_ascending_leaf)
{
	for (int i = 1; i < FEAT__COUNT; i++) {
		const struct feature *p = &feature_table[i - 1], *f = &feature_table[i];

		cr_assert(p->leaf < f->leaf || (p->leaf == f->leaf && p->subleaf <= f->subleaf),
			  "%s (0x%x.%u) comes after %s (0x%x.%u)", f->name, f->leaf, f->subleaf,
			  p->name, p->leaf, p->subleaf);
	}
}

Test(features, every_covered_word_has_rows)
{
	for (size_t w = 0; w < sizeof(covered_words) / sizeof(covered_words[0]); w++) {
		int n = 0;

		for (int i = 0; i < FEAT__COUNT; i++)
			n += feature_table[i].leaf == covered_words[w].leaf &&
			     feature_table[i].subleaf == covered_words[w].subleaf &&
			     feature_table[i].reg == covered_words[w].reg;
		cr_expect_gt(n, 0, "no rows for 0x%x.%u %s", covered_words[w].leaf,
			     covered_words[w].subleaf, reg_names[covered_words[w].reg]);
	}
}

Test(features, lookup_round_trip)
{
	for (int i = 0; i < FEAT__COUNT; i++)
		cr_assert_eq(feature_lookup(feature_table[i].name), i, "lookup(%s)",
			     feature_table[i].name);
	cr_assert_eq(feature_lookup("no_such_feature"), -1);
	cr_assert_eq(feature_lookup(""), -1);
	cr_assert_eq(feature_lookup("AVX2"), -1, "lookup must be case-sensitive");
	/* Linux spellings that differ from the vendors' own names. */
	cr_assert_eq(feature_lookup("pni"), FEAT_PNI);
	cr_assert_eq(feature_lookup("lahf_lm"), FEAT_LAHF_LM);
	cr_assert_eq(feature_lookup("3dnowprefetch"), FEAT_X3DNOWPREFETCH);
}

/* Positions every x86 manual agrees on; a typo here would mislabel every snapshot. */
Test(features, well_known_locations)
{
	static const struct {
		const char *name;
		uint32_t leaf, subleaf;
		uint8_t reg, bit;
	} known[] = {
		{ "sse2", 0x1, 0, REG_EDX, 26 },
		{ "pni", 0x1, 0, REG_ECX, 0 },
		{ "pclmulqdq", 0x1, 0, REG_ECX, 1 },
		{ "sse4_2", 0x1, 0, REG_ECX, 20 },
		{ "avx", 0x1, 0, REG_ECX, 28 },
		{ "arat", 0x6, 0, REG_EAX, 2 },
		{ "avx2", 0x7, 0, REG_EBX, 5 },
		{ "sha_ni", 0x7, 0, REG_EBX, 29 },
		{ "avx512_vnni", 0x7, 0, REG_ECX, 11 },
		{ "amx_tile", 0x7, 0, REG_EDX, 24 },
		{ "avx_vnni", 0x7, 1, REG_EAX, 4 },
		{ "avx512_bf16", 0x7, 1, REG_EAX, 5 },
		{ "xsaveopt", 0xd, 1, REG_EAX, 0 },
		{ "lahf_lm", 0x80000001, 0, REG_ECX, 0 },
		{ "abm", 0x80000001, 0, REG_ECX, 5 },
		{ "3dnowprefetch", 0x80000001, 0, REG_ECX, 8 },
		{ "lm", 0x80000001, 0, REG_EDX, 29 },
		{ "invtsc", 0x80000007, 0, REG_EDX, 8 },
		{ "clzero", 0x80000008, 0, REG_EBX, 0 },
		{ "npt", 0x8000000a, 0, REG_EDX, 0 },
		{ "sev_snp", 0x8000001f, 0, REG_EAX, 4 },
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		int id = feature_lookup(known[i].name);

		cr_assert_geq(id, 0, "%s missing", known[i].name);
		cr_assert_eq(
			id,
			find_location(known[i].leaf, known[i].subleaf, known[i].reg, known[i].bit),
			"%s at the wrong place", known[i].name);
	}
}

Test(features, xcr0_column)
{
	for (int i = 0; i < FEAT__COUNT; i++) {
		const struct feature *f = &feature_table[i];

		if (!strncmp(f->name, "avx512", 6) || !strncmp(f->name, "avx10", 5))
			cr_assert_eq(f->xstate, XSTATE_AVX512, "%s needs AVX-512 state", f->name);
		else if (!strncmp(f->name, "amx_", 4))
			cr_assert_eq(f->xstate, XSTATE_AMX, "%s needs AMX state", f->name);
		else if (!strncmp(f->name, "avx", 3))
			cr_assert_eq(f->xstate, XSTATE_AVX, "%s needs AVX state", f->name);
		else if (!strncmp(f->name, "sse", 3) || !strncmp(f->name, "ssse", 4))
			cr_assert_eq(f->xstate, XSTATE_SSE, "%s needs SSE state", f->name);
		/* A state need that XCR0 cannot express would make the feature unusable. */
		cr_assert_eq(f->xstate & ~(XSTATE_AVX512 | XSTATE_AMX | XSTATE_MPX | XSTATE_PKRU |
					   XSTATE_APX),
			     0, "%s: unknown XCR0 bits", f->name);
	}
	cr_assert_eq(feature_table[FEAT_FMA].xstate, XSTATE_AVX);
	cr_assert_eq(feature_table[FEAT_F16C].xstate, XSTATE_AVX);
	cr_assert_eq(feature_table[FEAT_VAES].xstate, XSTATE_AVX);
	cr_assert_eq(feature_table[FEAT_VPCLMULQDQ].xstate, XSTATE_AVX);
	cr_assert_eq(feature_table[FEAT_GFNI].xstate, XSTATE_SSE);
	cr_assert_eq(feature_table[FEAT_PKU].xstate, XSTATE_PKRU);
	cr_assert_eq(feature_table[FEAT_OSPKE].xstate, XSTATE_PKRU);
	cr_assert_eq(feature_table[FEAT_MPX].xstate, XSTATE_MPX);
	cr_assert_eq(feature_table[FEAT_APX].xstate, XSTATE_APX);
	cr_assert_eq(feature_table[FEAT_BMI2].xstate, 0);
}

Test(features, xstate_enabled)
{
	cr_assert(feature_xstate_enabled(FEAT_AVX512F, false, 0), "no XCR0: assume enabled");
	cr_assert(feature_xstate_enabled(FEAT_CX16, true, 0));
	cr_assert(feature_xstate_enabled(FEAT_AVX2, true, XS_X87 | XSTATE_AVX));
	cr_assert_not(feature_xstate_enabled(FEAT_AVX2, true, XS_X87 | XS_SSE));
	cr_assert_not(feature_xstate_enabled(FEAT_AVX512BW, true, XS_X87 | XSTATE_AVX));
	cr_assert_not(feature_xstate_enabled(FEAT_AMX_TILE, true, XS_X87 | XS_TILECFG));
	cr_assert(feature_xstate_enabled(FEAT_AMX_TILE, true, XS_X87 | XSTATE_AMX));
}

/* The features glibc's get-isa-level.h requires for each level. */
static const int v1_feats[] = { FEAT_CMOV, FEAT_CX8, FEAT_FPU, FEAT_FXSR,
				FEAT_MMX,  FEAT_SSE, FEAT_SSE2 };
static const int v2_feats[] = { FEAT_CX16,   FEAT_LAHF_LM, FEAT_POPCNT, FEAT_PNI,
				FEAT_SSE4_1, FEAT_SSE4_2,  FEAT_SSSE3 };
static const int v3_feats[] = { FEAT_AVX, FEAT_AVX2, FEAT_BMI1,	 FEAT_BMI2,   FEAT_F16C,
				FEAT_FMA, FEAT_ABM,  FEAT_MOVBE, FEAT_OSXSAVE };
static const int v4_feats[] = { FEAT_AVX512F, FEAT_AVX512BW, FEAT_AVX512CD, FEAT_AVX512DQ,
				FEAT_AVX512VL };

#define ADD_ALL(set, arr)                                                    \
	do {                                                                 \
		for (size_t k_ = 0; k_ < sizeof(arr) / sizeof(arr[0]); k_++) \
			featset_add((set), (arr)[k_]);                       \
	} while (0)

static struct featset level_set(int level)
{
	struct featset s = { 0 };

	if (level >= 1)
		ADD_ALL(&s, v1_feats);
	if (level >= 2)
		ADD_ALL(&s, v2_feats);
	if (level >= 3)
		ADD_ALL(&s, v3_feats);
	if (level >= 4)
		ADD_ALL(&s, v4_feats);
	return s;
}

#define XCR0_ALL (XS_X87 | XSTATE_AVX512)

Test(features, x86_level_boundaries)
{
	for (int l = 0; l <= 4; l++) {
		struct featset s = level_set(l);

		cr_assert_eq(x86_level(&s, true, XCR0_ALL), l, "full set of v%d", l);
		cr_assert_eq(x86_level(&s, false, 0), l, "v%d without XCR0", l);
	}
	/* Extra features of a higher level do not count without the lower level. */
	struct featset s = level_set(4);

	featset_del(&s, FEAT_SSE4_2);
	cr_assert_eq(x86_level(&s, true, XCR0_ALL), 1);
}

Test(features, x86_level_each_feature_matters)
{
	const int *levels[] = { v1_feats, v2_feats, v3_feats, v4_feats };
	const size_t counts[] = { sizeof(v1_feats) / sizeof(int), sizeof(v2_feats) / sizeof(int),
				  sizeof(v3_feats) / sizeof(int), sizeof(v4_feats) / sizeof(int) };

	for (int l = 0; l < 4; l++)
		for (size_t k = 0; k < counts[l]; k++) {
			struct featset s = level_set(4);

			featset_del(&s, levels[l][k]);
			cr_assert_eq(x86_level(&s, true, XCR0_ALL), l, "v4 minus %s",
				     feature_table[levels[l][k]].name);
		}
}

Test(features, x86_level_needs_xcr0_state)
{
	struct featset s = level_set(4);

	/* The OS left AVX state off: glibc stops at v2. */
	cr_assert_eq(x86_level(&s, true, XS_X87 | XS_SSE), 2);
	/* AVX on but no opmask/ZMM state: v3. */
	cr_assert_eq(x86_level(&s, true, XS_X87 | XSTATE_AVX), 3);
	cr_assert_eq(x86_level(&s, true, XS_X87 | XSTATE_AVX | XS_ZMM_HI256 | XS_HI16_ZMM), 3);
	/* glibc treats SSE-class features as usable from CPUID alone. */
	cr_assert_eq(x86_level(&s, true, XS_X87), 2);
	/* No XCR0 reading (imported dump): the features decide. */
	cr_assert_eq(x86_level(&s, false, 0), 4);
}

/* --- Intel XED cross-check ----------------------------------------------------------- */

#define XED_DIR CPUDRIFT_SRCDIR "/../shared/data/xed-cpuid"
#define XED_MAX 1024

struct xed_loc {
	uint32_t leaf, subleaf;
	int reg, bit;
	char name[48];
};

static struct xed_loc xed_locs[XED_MAX];
static int xed_n;

/*
 * XED bits at covered places that are not rows, each with the reason.  XED's own
 * bit names are not compared: they differ from Linux's by design (sse3 vs pni).
 */
static const struct {
	uint32_t leaf, subleaf;
	int reg, bit;
	const char *why;
} xed_exceptions[] = {
	{ 0x7, 1, REG_ECX, 11,
	  "XED 'ace': not named by Linux, KVM or the SDM editions the table cites" },
};

static bool xed_excepted(const struct xed_loc *x)
{
	for (size_t i = 0; i < sizeof(xed_exceptions) / sizeof(xed_exceptions[0]); i++)
		if (xed_exceptions[i].leaf == x->leaf && xed_exceptions[i].subleaf == x->subleaf &&
		    xed_exceptions[i].reg == x->reg && xed_exceptions[i].bit == x->bit)
			return true;
	return false;
}

/* One token: name.LEAF.SUB.eXx.BIT or name.LEAF.SUB.eXx[BIT] (hex leaf and subleaf). */
static void xed_token(const char *tok)
{
	struct xed_loc x = { 0 };
	char regc, close = 0;
	unsigned int bit;
	int nlen, used = 0;
	const char *dot = strchr(tok, '.');

	if (!dot)
		return;
	nlen = (int)(dot - tok);
	if (sscanf(dot, ".%x.%x.e%cx%n", &x.leaf, &x.subleaf, &regc, &used) != 3)
		return;
	const char *rest = dot + used;

	if (sscanf(rest, ".%u%c", &bit, &close) == 1) {
		/* plain form */
	} else if (sscanf(rest, "[%u%c", &bit, &close) == 2 && close == ']' &&
		   rest[strcspn(rest, "]") + 1] == '\0') {
		/* single-bit bracket form; ranges like [0:7]=1 are version fields */
	} else {
		return;
	}
	if (regc < 'a' || regc > 'd' || bit > 31)
		return;
	x.reg = regc - 'a';
	x.bit = (int)bit;
	snprintf(x.name, sizeof(x.name), "%.*s", nlen < 47 ? nlen : 47, tok);
	for (int i = 0; i < xed_n; i++)
		if (xed_locs[i].leaf == x.leaf && xed_locs[i].subleaf == x.subleaf &&
		    xed_locs[i].reg == x.reg && xed_locs[i].bit == x.bit)
			return;
	if (xed_n < XED_MAX)
		xed_locs[xed_n++] = x;
}

static int xed_file(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	char line[1024];
	FILE *f;

	(void)st;
	(void)ftw;
	if (type != FTW_F || !strstr(path, "cpuid") || !strstr(path, ".txt"))
		return 0;
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "#")] = '\0';
		for (char *save, *t = strtok_r(line, " \t\r\n", &save); t;
		     t = strtok_r(NULL, " \t\r\n", &save))
			xed_token(t);
	}
	fclose(f);
	return 0;
}

Test(features, matches_intel_xed)
{
	struct stat st;
	int covered = 0, missing = 0;

	if (stat(XED_DIR, &st) || !S_ISDIR(st.st_mode))
		cr_skip_test("XED reference data not found at %s", XED_DIR);
	xed_n = 0;
	cr_assert_eq(nftw(XED_DIR, xed_file, 16, FTW_PHYS), 0);
	cr_assert_gt(xed_n, 50, "parsed only %d XED bit references", xed_n);
	cr_assert_lt(xed_n, XED_MAX);

	for (int i = 0; i < xed_n; i++) {
		const struct xed_loc *x = &xed_locs[i];

		if (!word_covered(x->leaf, x->subleaf, x->reg))
			continue;
		if (find_location(x->leaf, x->subleaf, x->reg, x->bit) >= 0) {
			covered++;
			continue;
		}
		if (xed_excepted(x))
			continue;
		missing++;
		cr_log_error("XED %s at 0x%x.%u %s[%d] is not in the table", x->name, x->leaf,
			     x->subleaf, reg_names[x->reg], x->bit);
	}
	cr_log_info("XED: %d bit locations, %d in covered words are table rows", xed_n, covered);
	cr_assert_eq(missing, 0, "%d XED locations missing", missing);
	cr_assert_gt(covered, 100);

	/* An exception that became a row must leave the list. */
	for (size_t i = 0; i < sizeof(xed_exceptions) / sizeof(xed_exceptions[0]); i++)
		cr_assert_lt(find_location(xed_exceptions[i].leaf, xed_exceptions[i].subleaf,
					   xed_exceptions[i].reg, xed_exceptions[i].bit),
			     0, "exception %zu is now a row", i);
}
