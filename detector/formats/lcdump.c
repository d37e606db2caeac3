// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libcpuid's raw dump format (cpuid_serialize_raw_data / cpuid_tool --save, libcpuid
 * 0.6.2): fixed arrays, always full.  Import keeps what the CPU really enumerated; export
 * writes what cpuid_deserialize_raw_data() reads back.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "formats/dumpparse.h"
#include "formats/lcdump.h"

/* libcpuid's raw arrays; size is the array length in libcpuid 0.6.2 (0: not in 0.6.2). */
static const struct lc_array {
	const char *key;
	uint32_t leaf; /* first leaf (indexed arrays) or the leaf whose subleaves it holds */
	bool indexed; /* entry i is leaf + i, subleaf 0; otherwise subleaf i of leaf */
	int size;
} lc_arrays[] = {
	{ "basic_cpuid", 0, true, 32 },
	{ "ext_cpuid", LEAF_EXT_BASE, true, 32 },
	{ "intel_fn4", 0x4, false, 8 },
	{ "intel_fn11", 0xb, false, 4 },
	{ "intel_fn12h", 0x12, false, 4 },
	{ "intel_fn14h", 0x14, false, 4 },
	{ "amd_fn8000001dh", 0x8000001d, false, 4 },
	{ "amd_fn80000026h", 0x80000026, false, 0 }, /* libcpuid > 0.6.2 writes it */
};
#define LC_NARRAYS (sizeof(lc_arrays) / sizeof(lc_arrays[0]))
#define LC_VERSION "0.6.2"

/* --- leaf validity (shared by libcpuid import, export and lcdump_holds) -------- */

/* Whether subleaf @j (value @r, subleaf 0 value @r0) is one the leaf's own rule enumerates. */
static bool subleaf_valid(uint32_t leaf, uint32_t j, const uint32_t r[4], const uint32_t r0[4])
{
	switch (leaf) {
	case 0x4:
	case 0x8000001d:
		return r[REG_EAX] & 0x1f; /* cache type 0: no more caches */
	case 0xb:
	case 0x80000026:
		return (r[REG_ECX] >> 8) & 0xff; /* level type 0: no more levels */
	case 0x12:
		if (j < 2)
			return r[0] | r[1] | r[2] | r[3];
		return (r[REG_EAX] & 0xf) == 1; /* a valid EPC section */
	case 0x14:
		return j <= r0[REG_EAX]; /* subleaf 0 EAX: last valid subleaf */
	}
	return false;
}

static const struct lc_array *lc_subleaf_array(uint32_t leaf)
{
	for (size_t i = 0; i < LC_NARRAYS; i++)
		if (!lc_arrays[i].indexed && lc_arrays[i].leaf == leaf)
			return &lc_arrays[i];
	return NULL;
}

/* Within leaf 0's or 0x80000000's maximum (newer libcpuid may write longer arrays). */
static bool in_range(const struct vcpu_dump *v, uint32_t leaf)
{
	if (!vcpu_dump_get(v, 0, 0))
		return false;
	if (leaf < LEAF_EXT_BASE)
		return leaf <= vcpu_dump_max_leaf(v, 0);
	return leaf <= vcpu_dump_max_leaf(v, LEAF_EXT_BASE);
}

/* ... and within libcpuid 0.6.2's 32-entry arrays. */
static bool lc_in_range(const struct vcpu_dump *v, uint32_t leaf)
{
	return (leaf < LEAF_EXT_BASE ? leaf : leaf - LEAF_EXT_BASE) < 32 && in_range(v, leaf);
}

bool lcdump_holds(const struct vcpu_dump *v, uint32_t leaf, uint32_t subleaf)
{
	const struct lc_array *a = lc_subleaf_array(leaf);
	const struct leafval *l0;

	if (!lc_in_range(v, leaf))
		return false;
	if (!subleaf)
		return true;
	if (!a || !a->size || subleaf >= (uint32_t)a->size)
		return false;
	l0 = vcpu_dump_get(v, leaf, 0);
	for (uint32_t k = 0; k <= subleaf; k++) {
		const struct leafval *l = vcpu_dump_get(v, leaf, k);

		if (!l || !l0 || !subleaf_valid(leaf, k, l->r, l0->r))
			return false;
	}
	return true;
}

/* --- libcpuid raw format ---------------------------------------------------------------- */

/* The arrays are always full: keep what the CPU really enumerated (see dumpfmt.h). */
int lcdump_finish(struct parser *p)
{
	struct vcpu_dump *v = &p->s->vcpus[p->cur];
	const struct leafval *b0 = vcpu_dump_get(&p->lc, 0, 0), *e0;
	int ret = 0;

	if (!b0) {
		ret = dumpparse_error_at(p, p->cur_line,
					 "vCPU %d starting here has no basic_cpuid[0]", v->cpu);
		goto out;
	}
	/* Leaf 0 and 0x80000000 first: they decide which other entries are real. */
	ret = dumpparse_put_leaf(p, v, 0, 0, b0->r);
	e0 = vcpu_dump_get(&p->lc, 1, 0);
	if (!ret && e0 && e0->r[REG_EAX] >= LEAF_EXT_BASE &&
	    e0->r[REG_EAX] <= LEAF_EXT_BASE + 0xffff)
		ret = dumpparse_put_leaf(p, v, LEAF_EXT_BASE, 0, e0->r);
	for (size_t i = 0; i < p->lc.n && !ret; i++) {
		const struct leafval *e = &p->lc.leaves[i];
		const struct lc_array *a = &lc_arrays[e->leaf];

		if (a->indexed && e->subleaf && in_range(v, a->leaf + e->subleaf))
			ret = dumpparse_put_leaf(p, v, a->leaf + e->subleaf, 0, e->r);
	}
	for (uint32_t k = 0; k < LC_NARRAYS && !ret; k++) {
		const struct lc_array *a = &lc_arrays[k];
		const struct leafval *l0;
		uint32_t r0[4];

		if (a->indexed || !in_range(v, a->leaf))
			continue;
		l0 = vcpu_dump_get(v, a->leaf, 0) ?: vcpu_dump_get(&p->lc, k, 0);
		if (!l0)
			continue;
		/*
		 * A copy: l0 may point into v->leaves, which the puts below reallocate (a
		 * use-after-free when a vCPU's leaves outgrew 64 here, found by fuzzing,
		 * tests/fixtures/fuzz/dump_aida64/leaf-array-moves-under-subleaf-0).
		 */
		memcpy(r0, l0->r, sizeof(r0));
		for (uint32_t j = 0; !ret; j++) {
			const struct leafval *e = vcpu_dump_get(&p->lc, k, j);

			if (!e || !subleaf_valid(a->leaf, j, e->r, r0))
				break;
			if (j || !vcpu_dump_get(v, a->leaf, 0))
				ret = dumpparse_put_leaf(p, v, a->leaf, j, e->r);
		}
	}
out:
	p->lc.n = 0;
	return ret;
}

int lcdump_line(struct parser *p)
{
	const char *s = p->line, *key = s;
	uint32_t idx, r[4];
	size_t klen;
	uint32_t k;

	if (!*s || eat(&s, "version="))
		return 0;
	if (eat(&s, LC_SEPARATOR " Logical CPU #")) {
		if (!scan_dec(&s, MAX_CPU_NO, &idx) || strcmp(s, " " LC_SEPARATOR))
			return perr(p, "malformed CPU separator");
		return dumpparse_start_vcpu(p, idx);
	}
	klen = strcspn(s, "[=");
	for (k = 0; k < LC_NARRAYS; k++)
		if (strlen(lc_arrays[k].key) == klen && !strncmp(key, lc_arrays[k].key, klen))
			break;
	if (k == LC_NARRAYS) {
		if (!strncmp(key, "arm_", 4))
			return perr(p, "ARM register dump (%.*s): cpudrift reads x86 CPUID only",
				    (int)klen, key);
		return perr(p, "unknown entry '%.*s'", (int)(klen > 40 ? 40 : klen), key);
	}
	s += klen;
	if (!eat(&s, "[") || !scan_dec(&s, DUMP_MAX_LEAVES - 1, &idx) || !eat(&s, "]="))
		return perr(p, "malformed index in %s[...]", lc_arrays[k].key);
	for (int i = 0; i < 4; i++) {
		if (i && (*s != ' ' && *s != '\t'))
			return perr(p, "expected 4 hex registers after %s[%u]=", lc_arrays[k].key,
				    idx);
		s = skip_ws(s);
		if (!scan_hex(&s, 8, &r[i]))
			return perr(p, "bad hex register %d in %s[%u]", i + 1, lc_arrays[k].key,
				    idx);
	}
	if (*s)
		return perr(p, "trailing text after %s[%u]", lc_arrays[k].key, idx);
	if (p->cur < 0) {
		int ret = dumpparse_start_vcpu(p, -1);

		if (ret)
			return ret;
	}
	if (p->lc.n >= DUMP_MAX_LEAVES && !vcpu_dump_get(&p->lc, k, idx))
		return perr(p, "more than %d entries in one vCPU", DUMP_MAX_LEAVES);
	return dumpparse_put_leaf(p, &p->lc, k, idx, r);
}

bool lcdump_starts(const char *s)
{
	if (!strncmp(s, "version=", 8) || !strncmp(s, LC_SEPARATOR, strlen(LC_SEPARATOR)))
		return true;
	for (size_t k = 0; k < LC_NARRAYS; k++)
		if (!strncmp(s, lc_arrays[k].key, strlen(lc_arrays[k].key)) &&
		    s[strlen(lc_arrays[k].key)] == '[')
			return true;
	return false;
}

/* --- export ---------------------------------------------------------------------------- */

static void export_vcpu(const struct vcpu_dump *v, FILE *f)
{
	static const uint32_t zero[4];

	for (size_t k = 0; k < LC_NARRAYS; k++) {
		const struct lc_array *a = &lc_arrays[k];

		for (int i = 0; i < a->size; i++) {
			uint32_t leaf = a->indexed ? a->leaf + i : a->leaf;
			uint32_t sub = a->indexed ? 0 : i;
			const struct leafval *l = vcpu_dump_get(v, leaf, sub);
			const uint32_t *r = l && lcdump_holds(v, leaf, sub) ? l->r : zero;

			fprintf(f, "%s[%d]=%08x %08x %08x %08x\n", a->key, i, r[0], r[1], r[2],
				r[3]);
		}
	}
}

int lcdump_export(const struct snapshot *s, int vcpu, FILE *f)
{
	if (vcpu < -1 || vcpu >= s->nvcpus || !s->nvcpus)
		return -EINVAL;
	fprintf(f, "version=%s\n", LC_VERSION);
	if (vcpu >= 0) {
		export_vcpu(&s->vcpus[vcpu], f);
	} else {
		/* libcpuid uses the separator's number as an array index: number them 0..n-1. */
		for (int i = 0; i < s->nvcpus; i++) {
			fprintf(f, "\n%s Logical CPU #%d %s\n", LC_SEPARATOR, i, LC_SEPARATOR);
			export_vcpu(&s->vcpus[i], f);
		}
	}
	return ferror(f) ? -EIO : 0;
}
