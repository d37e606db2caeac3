// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Attribution: the ISA-set table is complete and agrees with Intel XED, and a corpus of
 * instructions assembled here with GNU as is attributed to the features it needs.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <Zydis/Zydis.h>
#include <criterion/criterion.h>

#include "analysis/attrib.h"
#include "analysis/isafallback.h"
#include "core/features.h"
#include "testutil.h"

#define CORPUS CPUDRIFT_SRCDIR "/tests/fixtures/attrib_corpus.txt"
#define XED_DIR CPUDRIFT_SRCDIR "/../shared/data/xed-cpuid"

TestSuite(attrib);

Test(attrib, every_zydis_isa_set_has_one_row)
{
	for (int v = 1; v <= ZYDIS_ISA_SET_MAX_VALUE; v++) {
		const char *zname = ZydisISASetGetString(v), *name, *feats;
		int rows = 0;

		for (int i = 0; !attrib_isaset_row(i, &name, &feats); i++)
			rows += !strcmp(name, zname);
		cr_expect_eq(rows, 1, "ISA set %s has %d rows in isaset.def", zname, rows);
	}
}

Test(attrib, every_feature_named_is_in_the_feature_table)
{
	const char *name, *feats;

	for (int i = 0; !attrib_isaset_row(i, &name, &feats); i++) {
		struct featset s = { 0 };
		char unknown[48] = "";

		cr_expect_eq(attrib_resolve(feats, &s, unknown, sizeof(unknown)), 0,
			     "isaset.def %s names \"%s\", which features.def lacks", name, unknown);
	}
}

Test(attrib, deliberate_traps_need_no_feature)
{
	static const uint8_t ud2[] = { 0x0f, 0x0b }, ud1[] = { 0x0f, 0xb9, 0x00 };
	struct attribution a;

	cr_assert_eq(attrib_decode(ud2, sizeof(ud2), &a), 0);
	cr_expect(a.decoded && a.deliberate_trap);
	cr_expect_str_eq(a.mnemonic, "ud2");
	cr_expect_eq(a.len, 2);
	cr_expect_eq(featset_count(&a.features), 0);
	cr_assert_eq(attrib_decode(ud1, sizeof(ud1), &a), 0);
	cr_expect(a.deliberate_trap);
}

Test(attrib, truncated_or_garbage_bytes_are_undecodable)
{
	/* vaddps zmm0, zmm1, zmm2 is 6 bytes; a page boundary may leave us 3. */
	static const uint8_t cut[] = { 0x62, 0xf1, 0x74 };
	static const uint8_t lock_nop[] = { 0xf0, 0x90 };
	struct attribution a;

	cr_expect_eq(attrib_decode(cut, sizeof(cut), &a), -EINVAL);
	cr_expect_not(a.decoded);
	cr_expect_eq(attrib_decode(lock_nop, sizeof(lock_nop), &a), -EINVAL);
	cr_expect_eq(attrib_decode(cut, 0, &a), -EINVAL);
}

/* --- the corpus ----------------------------------------------------------------------- */

static void features_string(const struct attribution *a, char *buf, size_t len)
{
	int id;

	buf[0] = '\0';
	if (a->deliberate_trap)
		snprintf(buf, len, "trap");
	featset_for_each (id, &a->features) {
		size_t used = strlen(buf);

		snprintf(buf + used, len - used, "%s%s", used ? " " : "", feature_table[id].name);
	}
	if (!buf[0])
		snprintf(buf, len, "-");
}

/* Corpus encodings per ISA set of the fallback table, counted by the table itself so that a
 * Zydis that decodes them natively counts them too. */
static void count_fallback(const uint8_t *b, const char **sets, int *counts, int *nsets)
{
	struct isafallback_match m;
	int j = 0;

	if (isafallback_lookup(b, 16, &m))
		return;
	while (j < *nsets && strcmp(sets[j], m.isa_set))
		j++;
	if (j == *nsets && *nsets < 64)
		sets[(*nsets)++] = m.isa_set;
	if (j < 64)
		counts[j]++;
}

static void expected_set(const char *expect, struct attribution *want)
{
	memset(want, 0, sizeof(*want));
	if (!strcmp(expect, "trap"))
		want->deliberate_trap = true;
	else if (strcmp(expect, "-"))
		cr_assert_eq(attrib_resolve(expect, &want->features, NULL, 0), 0,
			     "corpus names an unknown feature: %s", expect);
}

Test(attrib, corpus_assembled_with_gnu_as)
{
	char dir[] = "/tmp/cpudrift-attrib-XXXXXX";
	struct tu_corpus_line *v;
	char seen_sets[256][48];
	int nsets = 0, n, bad = 0, fb_counts[64] = { 0 }, fb_nsets = 0;
	const char *fb_sets[64], *mn, *set, *names;
	uint8_t *bin;
	long len;

	if (system("command -v as >/dev/null && command -v objcopy >/dev/null"))
		cr_skip_test("GNU as and objcopy (binutils) are not installed");
	n = tu_corpus_read(CORPUS, &v);
	cr_assert_geq(n, 150, "the corpus must hold at least 150 encodings, has %d", n);
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(tu_corpus_assemble(v, n, dir, &bin, &len), 0, "GNU as rejected the corpus");
	cr_assert_geq(len, 16L * n);

	for (int i = 0; i < n; i++) {
		const uint8_t *b = bin + 16 * i;
		struct attribution a, want;
		char got[256];

		cr_expect_eq(attrib_decode(b, 16, &a), 0, "'%s' does not decode", v[i].insn);
		if (!a.decoded) {
			bad++;
			continue;
		}
		/* Zydis must agree with GNU as on the length: the rest of the slot is padding. */
		for (unsigned k = a.len; k < 16; k++)
			cr_expect_eq(b[k], 0xcc, "'%s': Zydis length %u disagrees with as",
				     v[i].insn, a.len);
		expected_set(v[i].expect, &want);
		features_string(&a, got, sizeof(got));
		cr_expect(featset_equal(&a.features, &want.features) &&
				  a.deliberate_trap == want.deliberate_trap,
			  "'%s' (%s, %s): got \"%s\", want \"%s\"", v[i].insn, a.mnemonic,
			  a.isa_set, got, v[i].expect);
		int j = 0;

		while (j < nsets && strcmp(seen_sets[j], a.isa_set))
			j++;
		if (j == nsets && nsets < 256)
			snprintf(seen_sets[nsets++], sizeof(seen_sets[0]), "%s", a.isa_set);
		count_fallback(b, fb_sets, fb_counts, &fb_nsets);
	}
	cr_expect_eq(bad, 0);
	for (int r = 0; !isafallback_row(r, &mn, &set, &names); r++) {
		int j = 0;

		while (j < fb_nsets && strcmp(fb_sets[j], set))
			j++;
		cr_expect(j < fb_nsets && fb_counts[j] >= 2,
			  "fallback ISA set %s: %d corpus encodings, at least 2 wanted", set,
			  j < fb_nsets ? fb_counts[j] : 0);
	}
	cr_expect_geq(nsets, 60, "the corpus covers %d ISA sets, at least 60 wanted", nsets);
	tu_rmtree(dir);
	free(bin);
	free(v);
}

/* --- XED cross-check ------------------------------------------------------------------ */

struct loc {
	uint32_t leaf, subleaf;
	int reg, bit;
};

static int loc_cmp(const void *a, const void *b)
{
	const struct loc *x = a, *y = b;

	if (x->leaf != y->leaf)
		return x->leaf < y->leaf ? -1 : 1;
	if (x->subleaf != y->subleaf)
		return x->subleaf < y->subleaf ? -1 : 1;
	if (x->reg != y->reg)
		return x->reg - y->reg;
	return x->bit - y->bit;
}

/* "avx512bw.7.0.ebx.30" -> location; 0 or -1 for anything else (AVX10 version fields). */
static int parse_xed_token(const char *tok, struct loc *l)
{
	static const char *const regs[] = { "eax", "ebx", "ecx", "edx" };
	char reg[8];
	const char *p = strchr(tok, '.');

	if (!p || strchr(tok, '['))
		return -1;
	if (sscanf(p + 1, "%x.%x.%3[a-z].%d", &l->leaf, &l->subleaf, reg, &l->bit) != 4)
		return -1;
	for (l->reg = 0; l->reg < 4; l->reg++)
		if (!strcmp(reg, regs[l->reg]))
			return 0;
	return -1;
}

/* Compare one XED line (its tokens after "NAME:") with @mine (sorted); 1 when equal. */
static int xed_line_matches(char *rest, const struct loc *mine, int nmine, bool *na)
{
	struct loc theirs[16];
	int n = 0;

	for (char *tok = strtok(rest, " \t\n"); tok; tok = strtok(NULL, " \t\n")) {
		if (tok[0] == '#')
			break;
		if (!strcmp(tok, "n/a")) {
			*na = true;
			return 0;
		}
		if (n < 16 && !parse_xed_token(tok, &theirs[n]))
			n++;
	}
	if (n != nmine)
		return 0;
	qsort(theirs, n, sizeof(theirs[0]), loc_cmp);
	for (int i = 0; i < n; i++)
		if (loc_cmp(&theirs[i], &mine[i]))
			return 0;
	return 1;
}

/* 1: a XED alternative matches; 0: XED lists the set but none matches; -1: not in XED. */
static int check_against_xed(const char *set, const struct loc *mine, int nmine, bool *na)
{
	char key[80], line[512];
	int found = 0, matched = 0;
	struct dirent *d;
	DIR *top = opendir(XED_DIR);

	snprintf(key, sizeof(key), "XED_ISA_SET_%s:", set);
	while ((d = readdir(top))) {
		char sub[600];
		struct dirent *e;
		DIR *dd;

		if (d->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", XED_DIR, d->d_name);
		dd = opendir(sub);
		if (!dd)
			continue;
		while ((e = readdir(dd))) {
			char path[900];
			FILE *f;

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", sub, e->d_name);
			f = fopen(path, "r");
			if (!f)
				continue;
			while (fgets(line, sizeof(line), f)) {
				char *p = line + strspn(line, " \t");

				if (strncmp(p, key, strlen(key)))
					continue;
				found = 1;
				matched |= xed_line_matches(p + strlen(key), mine, nmine, na);
			}
			fclose(f);
		}
		closedir(dd);
	}
	closedir(top);
	return matched ? 1 : found ? 0 : -1;
}

Test(attrib, isaset_table_matches_xed)
{
	const char *name, *feats;
	int checked = 0, absent = 0, na_filled = 0, mismatches = 0;
	DIR *top = opendir(XED_DIR);

	if (!top)
		cr_skip_test("no XED reference data at %s", XED_DIR);
	closedir(top);
	for (int i = 0; !attrib_isaset_row(i, &name, &feats); i++) {
		struct featset s = { 0 };
		struct loc mine[16];
		bool na = false;
		int n = 0, id, r;

		attrib_resolve(feats, &s, NULL, 0);
		featset_for_each (id, &s) {
			const struct feature *f = &feature_table[id];

			if (n < 16)
				mine[n++] = (struct loc){ f->leaf, f->subleaf, f->reg, f->bit };
		}
		qsort(mine, n, sizeof(mine[0]), loc_cmp);
		r = check_against_xed(name, mine, n, &na);
		if (r < 0) {
			absent++;
		} else if (r == 0 && na) {
			/* XED has no CPUID bit (AMD sets, base ISA): our row comes from the manuals. */
			na_filled++;
		} else {
			checked++;
			if (!r)
				mismatches++;
			cr_expect_eq(r, 1, "isaset.def %s \"%s\" matches no XED alternative", name,
				     feats);
		}
	}
	cr_log_info("XED check: %d sets compared, %d n/a in XED, %d absent from XED", checked,
		    na_filled, absent);
	cr_expect_gt(checked, 100, "only %d ISA sets were compared with XED", checked);
	cr_expect_eq(mismatches, 0);
}
