// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/snapshot.h"

struct snapshot *snapshot__new(void)
{
	return calloc(1, sizeof(struct snapshot));
}

void snapshot__free(struct snapshot *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nvcpus; i++)
		free(s->vcpus[i].leaves);
	free(s->vcpus);
	for (size_t i = 0; i < s->nkflags; i++)
		free(s->kflags[i]);
	free(s->kflags);
	free(s);
}

struct snapshot *snapshot_dup(const struct snapshot *s)
{
	struct snapshot *d = snapshot__new();

	if (!d)
		return NULL;
	*d = *s;
	d->vcpus = NULL;
	d->kflags = NULL;
	d->nvcpus = 0;
	d->nkflags = 0;
	for (int i = 0; i < s->nvcpus; i++) {
		struct vcpu_dump *v = snapshot_add_vcpu(d, s->vcpus[i].cpu);

		if (!v)
			goto fail;
		v->leaves = malloc((s->vcpus[i].n ?: 1) * sizeof(*v->leaves));
		if (!v->leaves)
			goto fail;
		memcpy(v->leaves, s->vcpus[i].leaves, s->vcpus[i].n * sizeof(*v->leaves));
		v->n = v->cap = s->vcpus[i].n;
	}
	if (snapshot_set_kflags(d, s->kflags, s->nkflags))
		goto fail;
	return d;
fail:
	snapshot__free(d);
	return NULL;
}

struct vcpu_dump *snapshot_add_vcpu(struct snapshot *s, int cpu)
{
	struct vcpu_dump *v = realloc(s->vcpus, (s->nvcpus + 1) * sizeof(*v));

	if (!v)
		return NULL;
	s->vcpus = v;
	v = &s->vcpus[s->nvcpus++];
	memset(v, 0, sizeof(*v));
	v->cpu = cpu;
	return v;
}

uint32_t vcpu_dump_max_leaf(const struct vcpu_dump *v, uint32_t base)
{
	const struct leafval *l = vcpu_dump_get(v, base, 0);

	if (!l)
		return 0;
	if (base && (l->r[REG_EAX] < base || l->r[REG_EAX] > base + 0xffff))
		return 0;
	return l->r[REG_EAX];
}

uint64_t snapshot_digest(const struct snapshot *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

#define MIX(p, n)                           \
	for (size_t k_ = 0; k_ < (n); k_++) \
	h = (h ^ ((const uint8_t *)(p))[k_]) * 0x100000001b3ull
	for (int i = 0; i < s->nvcpus; i++)
		MIX(s->vcpus[i].leaves, s->vcpus[i].n * sizeof(struct leafval));
	MIX(&s->xcr0, sizeof(s->xcr0));
	MIX(&s->microcode, sizeof(s->microcode));
	if (s->has_shadow)
		MIX(&s->shadow, sizeof(s->shadow));
#undef MIX
	return h;
}

static int leaf_cmp(uint32_t la, uint32_t sa, uint32_t lb, uint32_t sb)
{
	if (la != lb)
		return la < lb ? -1 : 1;
	if (sa != sb)
		return sa < sb ? -1 : 1;
	return 0;
}

/* Index of the first entry not below (leaf, subleaf). */
static size_t lower_bound(const struct vcpu_dump *v, uint32_t leaf, uint32_t subleaf)
{
	size_t lo = 0, hi = v->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (leaf_cmp(v->leaves[mid].leaf, v->leaves[mid].subleaf, leaf, subleaf) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int vcpu_dump_put(struct vcpu_dump *v, uint32_t leaf, uint32_t subleaf, const uint32_t r[4])
{
	size_t i;

	/* Captures and dumps arrive in order: appending is the common case. */
	if (v->n &&
	    leaf_cmp(v->leaves[v->n - 1].leaf, v->leaves[v->n - 1].subleaf, leaf, subleaf) < 0)
		i = v->n;
	else
		i = lower_bound(v, leaf, subleaf);
	if (i < v->n && v->leaves[i].leaf == leaf && v->leaves[i].subleaf == subleaf) {
		memcpy(v->leaves[i].r, r, sizeof(v->leaves[i].r));
		return 0;
	}
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		struct leafval *nl = realloc(v->leaves, cap * sizeof(*nl));

		if (!nl)
			return -ENOMEM;
		v->leaves = nl;
		v->cap = cap;
	}
	memmove(&v->leaves[i + 1], &v->leaves[i], (v->n - i) * sizeof(*v->leaves));
	v->leaves[i] = (struct leafval){ .leaf = leaf, .subleaf = subleaf };
	memcpy(v->leaves[i].r, r, sizeof(v->leaves[i].r));
	v->n++;
	return 0;
}

const struct leafval *vcpu_dump_get(const struct vcpu_dump *v, uint32_t leaf, uint32_t subleaf)
{
	size_t i = lower_bound(v, leaf, subleaf);

	if (i < v->n && v->leaves[i].leaf == leaf && v->leaves[i].subleaf == subleaf)
		return &v->leaves[i];
	return NULL;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int snapshot_set_kflags(struct snapshot *s, char *const *flags, size_t n)
{
	char **v = calloc(n ? n : 1, sizeof(*v));
	size_t k = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		v[i] = strdup(flags[i]);
		if (!v[i]) {
			while (i--)
				free(v[i]);
			free(v);
			return -ENOMEM;
		}
	}
	qsort(v, n, sizeof(*v), str_cmp);
	for (size_t i = 0; i < n; i++) {
		if (k && !strcmp(v[k - 1], v[i]))
			free(v[i]);
		else
			v[k++] = v[i];
	}
	for (size_t i = 0; i < s->nkflags; i++)
		free(s->kflags[i]);
	free(s->kflags);
	s->kflags = v;
	s->nkflags = k;
	return 0;
}

bool snapshot_has_kflag(const struct snapshot *s, const char *flag)
{
	const char *key = flag;

	return s->nkflags && bsearch(&key, s->kflags, s->nkflags, sizeof(char *), str_cmp);
}
