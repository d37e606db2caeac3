// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Diff (pure): two snapshots in, a list of changes out.  Features are compared as decoded
 * sets; every other leaf is compared raw, minus the bits that differ per vCPU or per boot
 * by design (diff_compared_mask).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/decode.h"
#include "analysis/diff.h"

static const char *const change_names[] = {
#define X(id, name) [CHANGE_##id] = name,
	CHANGE_KINDS(X)
#undef X
};

static const char *const reg_names[4] = { "eax", "ebx", "ecx", "edx" };

const char *change_kind_name(enum change_kind k)
{
	return change_names[k];
}

struct excluded {
	uint32_t leaf;
	int reg;
	uint32_t bits;
	const char *why;
};

/* Documented in README.md ("What diff ignores"); keep the two in step. */
static const struct excluded excluded_bits[] = {
	{ 0x1, REG_EBX, 0xff000000, "initial APIC ID" },
	{ 0xb, REG_EDX, 0xffffffff, "x2APIC ID" },
	{ 0x1f, REG_EDX, 0xffffffff, "x2APIC ID" },
	{ 0xd, REG_EBX, 0xffffffff, "XSAVE area size of the state enabled now (per process)" },
	{ 0x1a, REG_EAX, 0xffffffff, "hybrid core type of the vCPU" },
	{ 0x8000001e, REG_EAX, 0xffffffff, "extended APIC ID" },
	{ 0x8000001e, REG_EBX, 0xffffffff, "core and compute-unit ID" },
	{ 0x8000001e, REG_ECX, 0xffffffff, "node ID" },
	{ 0x80000026, REG_EDX, 0xffffffff, "extended APIC ID" },
};

uint32_t diff_compared_mask(uint32_t leaf, uint32_t subleaf, int reg)
{
	uint32_t mask = 0xffffffff;

	(void)subleaf;
	for (size_t i = 0; i < sizeof(excluded_bits) / sizeof(excluded_bits[0]); i++)
		if (excluded_bits[i].leaf == leaf && excluded_bits[i].reg == reg)
			mask &= ~excluded_bits[i].bits;
	return mask;
}

/* The feature bits of each (leaf, subleaf, register), built once from the feature table. */
struct feature_word {
	uint32_t leaf, subleaf;
	uint32_t mask[4];
};

static struct feature_word feature_words[FEAT__COUNT];
static size_t nfeature_words;
static pthread_once_t feature_words_once = PTHREAD_ONCE_INIT;

static void build_feature_words(void)
{
	for (int i = 0; i < FEAT__COUNT; i++) {
		const struct feature *f = &feature_table[i];
		size_t j = 0;

		while (j < nfeature_words &&
		       (feature_words[j].leaf != f->leaf || feature_words[j].subleaf != f->subleaf))
			j++;
		if (j == nfeature_words) {
			feature_words[j] =
				(struct feature_word){ .leaf = f->leaf, .subleaf = f->subleaf };
			nfeature_words++;
		}
		feature_words[j].mask[f->reg] |= 1u << f->bit;
	}
}

/* The compared bits of a register that are not feature bits (those are diffed as names). */
static uint32_t raw_mask(uint32_t leaf, uint32_t subleaf, int reg)
{
	uint32_t m = diff_compared_mask(leaf, subleaf, reg);

	pthread_once(&feature_words_once, build_feature_words);
	for (size_t j = 0; j < nfeature_words; j++)
		if (feature_words[j].leaf == leaf && feature_words[j].subleaf == subleaf)
			return m & ~feature_words[j].mask[reg];
	return m;
}

static int push(struct diff *d, enum change_kind k, enum severity sev, int vcpu, const char *field,
		const char *before, const char *after)
{
	struct change *c;

	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 32;
		struct change *v = realloc(d->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		d->v = v;
		d->cap = cap;
	}
	c = &d->v[d->n++];
	c->kind = k;
	c->sev = sev;
	c->vcpu = vcpu;
	snprintf(c->field, sizeof(c->field), "%s", field);
	snprintf(c->before, sizeof(c->before), "%s", before);
	snprintf(c->after, sizeof(c->after), "%s", after);
	return 0;
}

/* Both values formatted with the same conversion. */
static int push_u64(struct diff *d, enum change_kind k, enum severity sev, const char *field,
		    const char *fmt, uint64_t a, uint64_t b)
{
	char sa[32], sb[32];

	snprintf(sa, sizeof(sa), fmt, a);
	snprintf(sb, sizeof(sb), fmt, b);
	return push(d, k, sev, -1, field, sa, sb);
}

static int diff_features(const struct featset *a, const struct featset *b, struct diff *d,
			 enum change_kind kadd, enum change_kind kdel, int vcpu)
{
	struct featset x;
	int id, ret = 0;

	featset_minus(&x, a, b);
	featset_for_each (id, &x)
		ret = ret   ?:
			      push(d, kdel,
				   kdel == CHANGE_FEATURE_REMOVED ? SEV_CRITICAL : SEV_WARNING,
				   vcpu, feature_table[id].name, "yes", "no");
	featset_minus(&x, b, a);
	featset_for_each (id, &x)
		ret = ret   ?:
			      push(d, kadd, kadd == CHANGE_FEATURE_ADDED ? SEV_NOTICE : SEV_WARNING,
				   vcpu, feature_table[id].name, "no", "yes");
	return ret;
}

static void fmt_leaf(char *buf, size_t n, const struct leafval *l, int reg)
{
	if (l)
		snprintf(buf, n, "0x%08" PRIx32, l->r[reg]);
	else
		snprintf(buf, n, "absent");
}

/*
 * Raw leaves of @a's vCPU @va against @b's vCPU @vb: every leaf either side holds, minus
 * excluded and feature bits.  Two sorted lists, walked together.
 */
static int diff_raw(const struct vcpu_dump *va, const struct vcpu_dump *vb, struct diff *d,
		    enum change_kind k, enum severity sev, int vcpu)
{
	size_t i = 0, j = 0;
	int ret = 0;

	while (!ret && (i < va->n || j < vb->n)) {
		const struct leafval *la = i < va->n ? &va->leaves[i] : NULL;
		const struct leafval *lb = j < vb->n ? &vb->leaves[j] : NULL;
		const struct leafval *key;

		if (la && lb && la->leaf == lb->leaf && la->subleaf == lb->subleaf) {
			i++, j++;
		} else if (!lb || (la && (la->leaf < lb->leaf ||
					  (la->leaf == lb->leaf && la->subleaf < lb->subleaf)))) {
			i++, lb = NULL;
		} else {
			j++, la = NULL;
		}
		key = la ? la : lb;
		for (int r = 0; r < 4 && !ret; r++) {
			uint32_t m = raw_mask(key->leaf, key->subleaf, r);
			char field[48], sa[16], sb[16];

			if (la && lb && !((la->r[r] ^ lb->r[r]) & m))
				continue;
			if ((!la || !lb) && !(key->r[r] & m))
				continue; /* an absent leaf reads as zero */
			snprintf(field, sizeof(field), "0x%08" PRIx32 ".%" PRIu32 ".%s", key->leaf,
				 key->subleaf, reg_names[r]);
			fmt_leaf(sa, sizeof(sa), la, r);
			fmt_leaf(sb, sizeof(sb), lb, r);
			ret = push(d, k, sev, vcpu, field, sa, sb);
		}
	}
	return ret;
}

int diff_vcpus(const struct snapshot *s, struct diff *out)
{
	struct featset f0, fi;
	int ret = 0;

	if (s->nvcpus < 2)
		return 0;
	decode_vcpu_features(&s->vcpus[0], &f0);
	for (int i = 1; i < s->nvcpus && !ret; i++) {
		decode_vcpu_features(&s->vcpus[i], &fi);
		ret = diff_features(&f0, &fi, out, CHANGE_VCPU_MISMATCH, CHANGE_VCPU_MISMATCH,
				    s->vcpus[i].cpu);
		if (!ret)
			ret = diff_raw(&s->vcpus[0], &s->vcpus[i], out, CHANGE_VCPU_MISMATCH,
				       SEV_NOTICE, s->vcpus[i].cpu);
	}
	return ret;
}

static int diff_str(struct diff *d, enum change_kind k, enum severity sev, const char *field,
		    const char *a, const char *b)
{
	return strcmp(a, b) ? push(d, k, sev, -1, field, a, b) : 0;
}

int diff_snapshots(const struct snapshot *a, const struct snapshot *b, struct diff *out)
{
	const struct identity *ia = &a->id, *ib = &b->id;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = diff_features(&a->features, &b->features, out, CHANGE_FEATURE_ADDED,
			    CHANGE_FEATURE_REMOVED, -1);
	ret = ret ?: diff_str(out, CHANGE_IDENTITY, SEV_WARNING, "vendor", ia->vendor, ib->vendor);
	/* A new model under the same vendor is news, not harm: what harms is in features. */
	if (!ret && ia->family != ib->family)
		ret = push_u64(out, CHANGE_IDENTITY, SEV_NOTICE, "family", "0x%" PRIx64, ia->family,
			       ib->family);
	if (!ret && ia->model != ib->model)
		ret = push_u64(out, CHANGE_IDENTITY, SEV_NOTICE, "model", "0x%" PRIx64, ia->model,
			       ib->model);
	if (!ret && ia->stepping != ib->stepping)
		ret = push_u64(out, CHANGE_IDENTITY, SEV_NOTICE, "stepping", "%" PRIu64,
			       ia->stepping, ib->stepping);
	ret = ret ?: diff_str(out, CHANGE_IDENTITY, SEV_NOTICE, "brand", ia->brand, ib->brand);
	if (!ret && a->has_microcode && b->has_microcode && a->microcode != b->microcode)
		ret = push_u64(out, CHANGE_MICROCODE, SEV_NOTICE, "microcode", "0x%" PRIx64,
			       a->microcode, b->microcode);
	ret = ret   ?:
		      diff_str(out, CHANGE_HYPERVISOR, SEV_WARNING, "hypervisor", a->hypervisor,
			       b->hypervisor);
	if (!ret && a->has_xcr0 && b->has_xcr0 && a->xcr0 != b->xcr0)
		ret = push_u64(out, CHANGE_XCR0, (a->xcr0 & ~b->xcr0) ? SEV_CRITICAL : SEV_NOTICE,
			       "xcr0", "0x%" PRIx64, a->xcr0, b->xcr0);
	if (!ret && a->hv_tsc_khz != b->hv_tsc_khz)
		ret = push_u64(out, CHANGE_TSC, SEV_WARNING, "hypervisor_tsc_khz", "%" PRIu64,
			       a->hv_tsc_khz, b->hv_tsc_khz);
	if (!ret && a->hv_bus_khz != b->hv_bus_khz)
		ret = push_u64(out, CHANGE_TSC, SEV_WARNING, "hypervisor_bus_khz", "%" PRIu64,
			       a->hv_bus_khz, b->hv_bus_khz);
	if (!ret && a->level != b->level)
		ret = push_u64(out, CHANGE_LEVEL, a->level > b->level ? SEV_CRITICAL : SEV_NOTICE,
			       "x86_64_level", "v%" PRIu64, a->level, b->level);
	if (!ret && a->has_shadow && b->has_shadow && !featset_equal(&a->shadow, &b->shadow))
		ret = diff_features(&a->shadow, &b->shadow, out, CHANGE_SHADOW, CHANGE_SHADOW, -1);
	/* TSC leaves 0x15/0x16 and the hypervisor range are in the raw comparison. */
	if (!ret && a->nvcpus && b->nvcpus)
		ret = diff_raw(&a->vcpus[0], &b->vcpus[0], out, CHANGE_LEAF, SEV_INFO, -1);
	ret = ret ?: diff_vcpus(b, out);
	if (ret)
		diff_free(out);
	return ret;
}

void diff_free(struct diff *d)
{
	free(d->v);
	memset(d, 0, sizeof(*d));
}

enum severity diff_max_severity(const struct diff *d)
{
	enum severity m = SEV_INFO;

	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].sev > m)
			m = d->v[i].sev;
	return m;
}

struct json_object *diff_to_json(const struct diff *d)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_array();

	for (size_t i = 0; i < d->n; i++) {
		const struct change *c = &d->v[i];
		struct json_object *x = json_object_new_object();

		json_object_object_add(x, "kind", json_object_new_string(change_names[c->kind]));
		json_object_object_add(x, "severity",
				       json_object_new_string(severity_name(c->sev)));
		json_object_object_add(x, "field", json_object_new_string(c->field));
		json_object_object_add(x, "before", json_object_new_string(c->before));
		json_object_object_add(x, "after", json_object_new_string(c->after));
		if (c->vcpu >= 0)
			json_object_object_add(x, "vcpu", json_object_new_int(c->vcpu));
		json_object_array_add(a, x);
	}
	json_object_object_add(o, "drift", json_object_new_boolean(d->n > 0));
	json_object_object_add(o, "max_severity",
			       d->n ? json_object_new_string(severity_name(diff_max_severity(d))) :
				      NULL);
	json_object_object_add(o, "changes", a);
	return o;
}
