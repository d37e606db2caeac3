// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Decode (pure): raw leaves -> identity, features, level, hypervisor.  Never executes
 * CPUID.  libcpuid supplies what it does well (cache sizes, codename guess) from the same
 * raw leaves; vendor, family/model/stepping and brand are decoded here from leaf 0, 1 and
 * 0x80000002-4 because libcpuid 0.6.2 gets some of them wrong (Zen 4 named "Milan").
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <libcpuid/libcpuid.h>

#include "core/log.h"
#include "analysis/decode.h"
#include "core/snapshot.h"

static bool leaf_valid(const struct vcpu_dump *v, uint32_t leaf, uint32_t subleaf, uint32_t max_std,
		       uint32_t max_ext)
{
	if (leaf >= LEAF_EXT_BASE)
		return max_ext && leaf <= max_ext;
	if (leaf > max_std)
		return false;
	/* Leaf 7 reports its last valid subleaf in subleaf 0 EAX. */
	if (leaf == 7 && subleaf) {
		const struct leafval *l0 = vcpu_dump_get(v, 7, 0);

		return l0 && subleaf <= l0->r[REG_EAX];
	}
	return true;
}

void decode_vcpu_features(const struct vcpu_dump *v, struct featset *out)
{
	uint32_t max_std = vcpu_dump_max_leaf(v, 0), max_ext = vcpu_dump_max_leaf(v, LEAF_EXT_BASE);

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < FEAT__COUNT; i++) {
		const struct feature *f = &feature_table[i];
		const struct leafval *l;

		if (!leaf_valid(v, f->leaf, f->subleaf, max_std, max_ext))
			continue;
		l = vcpu_dump_get(v, f->leaf, f->subleaf);
		if (l && (l->r[f->reg] >> f->bit & 1))
			featset_add(out, i);
	}
}

static void regs_to_str(char *dst, const uint32_t *regs, int n)
{
	memcpy(dst, regs, n * 4);
	dst[n * 4] = 0;
}

static void trim(char *s)
{
	char *p = s;
	size_t n;

	while (*p == ' ')
		p++;
	memmove(s, p, strlen(p) + 1);
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || (unsigned char)s[n - 1] < 0x20))
		s[--n] = 0;
	/* Brand strings come from untrusted dumps: keep them printable. */
	for (p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
}

static void put_raw(uint32_t dst[NUM_REGS], const struct leafval *l)
{
	if (l)
		memcpy(dst, l->r, 4 * sizeof(uint32_t));
}

/* libcpuid's view of vCPU 0: subleaf 0 of every leaf plus the few subleaf arrays it keeps. */
static void to_libcpuid(const struct vcpu_dump *v, struct cpu_raw_data_t *raw)
{
	memset(raw, 0, sizeof(*raw));
	for (uint32_t i = 0; i < MAX_CPUID_LEVEL; i++)
		put_raw(raw->basic_cpuid[i], vcpu_dump_get(v, i, 0));
	for (uint32_t i = 0; i < MAX_EXT_CPUID_LEVEL; i++)
		put_raw(raw->ext_cpuid[i], vcpu_dump_get(v, LEAF_EXT_BASE + i, 0));
	for (uint32_t i = 0; i < MAX_INTELFN4_LEVEL; i++)
		put_raw(raw->intel_fn4[i], vcpu_dump_get(v, 4, i));
	for (uint32_t i = 0; i < MAX_INTELFN11_LEVEL; i++)
		put_raw(raw->intel_fn11[i], vcpu_dump_get(v, 0xb, i));
	for (uint32_t i = 0; i < MAX_INTELFN12H_LEVEL; i++)
		put_raw(raw->intel_fn12h[i], vcpu_dump_get(v, 0x12, i));
	for (uint32_t i = 0; i < MAX_INTELFN14H_LEVEL; i++)
		put_raw(raw->intel_fn14h[i], vcpu_dump_get(v, 0x14, i));
	for (uint32_t i = 0; i < MAX_AMDFN8000001DH_LEVEL; i++)
		put_raw(raw->amd_fn8000001dh[i], vcpu_dump_get(v, 0x8000001d, i));
}

static uint32_t kb_or_zero(int32_t v)
{
	return v > 0 ? (uint32_t)v : 0;
}

/*
 * libcpuid 0.6.2 keeps its error state (and its warning hook) in globals: one caller at a
 * time, so that decoding may run on several threads (fleet inputs).
 */
static pthread_mutex_t libcpuid_lock = PTHREAD_MUTEX_INITIALIZER;

static void decode_libcpuid(const struct vcpu_dump *v, struct identity *id)
{
	struct cpu_raw_data_t raw;
	struct cpu_id_t data;
	int r;

	to_libcpuid(v, &raw);
	memset(&data, 0, sizeof(data));
	pthread_mutex_lock(&libcpuid_lock);
	r = cpu_identify(&raw, &data);
	if (r)
		log_debug("libcpuid cannot identify this CPU: %s", cpuid_error());
	pthread_mutex_unlock(&libcpuid_lock);
	if (r)
		return;
	id->l1d_kb = kb_or_zero(data.l1_data_cache);
	id->l1i_kb = kb_or_zero(data.l1_instruction_cache);
	id->l2_kb = kb_or_zero(data.l2_cache);
	id->l3_kb = kb_or_zero(data.l3_cache);
	snprintf(id->codename, sizeof(id->codename), "%s", data.cpu_codename);
	trim(id->codename);
}

static void decode_identity(const struct vcpu_dump *v, struct identity *id, uint32_t max_ext)
{
	const struct leafval *l0 = vcpu_dump_get(v, 0, 0), *l1 = vcpu_dump_get(v, 1, 0);
	uint32_t regs[3];

	memset(id, 0, sizeof(*id));
	regs[0] = l0->r[REG_EBX];
	regs[1] = l0->r[REG_EDX];
	regs[2] = l0->r[REG_ECX];
	regs_to_str(id->vendor, regs, 3);
	trim(id->vendor);
	if (l1) {
		uint32_t eax = l1->r[REG_EAX], fam = eax >> 8 & 0xf, model = eax >> 4 & 0xf;

		id->signature = eax;
		id->stepping = eax & 0xf;
		id->family = fam == 0xf ? fam + (eax >> 20 & 0xff) : fam;
		id->model = (fam == 6 || fam == 0xf) ? (eax >> 16 & 0xf) << 4 | model : model;
	}
	if (max_ext >= LEAF_EXT_BASE + 4) {
		for (uint32_t i = 0; i < 3; i++) {
			const struct leafval *b = vcpu_dump_get(v, LEAF_EXT_BASE + 2 + i, 0);

			if (b)
				memcpy(id->brand + 16 * i, b->r, 16);
		}
		id->brand[48] = 0;
		trim(id->brand);
	}
	decode_libcpuid(v, id);
}

static void decode_hypervisor(struct snapshot *s)
{
	const struct vcpu_dump *v = &s->vcpus[0];
	const struct leafval *h = vcpu_dump_get(v, LEAF_HV_BASE, 0);
	uint32_t max;

	s->hypervisor[0] = 0;
	s->hv_max_leaf = s->hv_tsc_khz = s->hv_bus_khz = 0;
	if (!h)
		return;
	regs_to_str(s->hypervisor, &h->r[REG_EBX], 3);
	trim(s->hypervisor);
	max = h->r[REG_EAX];
	/* Some hypervisors report 0 here and mean 0x40000001. */
	if (max < LEAF_HV_BASE || max > LEAF_HV_BASE + 0xff)
		max = LEAF_HV_BASE + 1;
	s->hv_max_leaf = max;
	if (max >= LEAF_HV_BASE + 0x10) {
		const struct leafval *t = vcpu_dump_get(v, LEAF_HV_BASE + 0x10, 0);

		if (t) {
			s->hv_tsc_khz = t->r[REG_EAX];
			s->hv_bus_khz = t->r[REG_EBX];
		}
	}
}

int decode_snapshot(struct snapshot *s, struct errbuf *err)
{
	struct featset fs;

	if (s->nvcpus < 1) {
		errbuf_set(err, "no vCPU in snapshot");
		return -EINVAL;
	}
	for (int i = 0; i < s->nvcpus; i++) {
		if (!vcpu_dump_get(&s->vcpus[i], 0, 0)) {
			errbuf_set(err, "vCPU %d has no leaf 0", s->vcpus[i].cpu);
			return -EINVAL;
		}
	}
	decode_identity(&s->vcpus[0], &s->id, vcpu_dump_max_leaf(&s->vcpus[0], LEAF_EXT_BASE));
	decode_vcpu_features(&s->vcpus[0], &s->features);
	for (int i = 1; i < s->nvcpus; i++) {
		decode_vcpu_features(&s->vcpus[i], &fs);
		featset_and(&s->features, &s->features, &fs);
	}
	s->level = x86_level(&s->features, s->has_xcr0, s->xcr0);
	decode_hypervisor(s);
	return 0;
}
