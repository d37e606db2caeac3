// SPDX-License-Identifier: GPL-2.0-or-later
/* Diff on snapshot pairs that differ by one bit, by identity, by vCPU, by ignored fields. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "analysis/decode.h"
#include "analysis/diff.h"
#include "core/log.h"

/* A small two-vCPU machine, built leaf by leaf: Intel-like, AVX2, hypervisor range. */
static void put(struct vcpu_dump *v, uint32_t leaf, uint32_t sub, uint32_t a, uint32_t b,
		uint32_t c, uint32_t d)
{
	uint32_t r[4] = { a, b, c, d };

	cr_assert_eq(vcpu_dump_put(v, leaf, sub, r), 0);
}

static struct snapshot *machine(void)
{
	struct snapshot *s = snapshot__new();
	struct errbuf err = { "" };

	for (int cpu = 0; cpu < 2; cpu++) {
		struct vcpu_dump *v = snapshot_add_vcpu(s, cpu);

		/* "GenuineIntel", max leaf 0xd */
		put(v, 0, 0, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69);
		/* Haswell signature; sse3 ssse3 fma cx16 sse4_1/2 movbe popcnt xsave osxsave avx f16c */
		put(v, 1, 0, 0x000306c3, (uint32_t)cpu << 24 | 0x00020800, 0xfed83203, 0x178bfbff);
		put(v, 7, 0, 0, 0x000003a9, 0, 0); /* bmi1 avx2 bmi2 ... */
		put(v, 0xb, 0, 1, 1, 0x100, (uint32_t)cpu); /* x2APIC ID differs per vCPU */
		put(v, 0xd, 0, 7, 0x340, 0x340, 0);
		put(v, 0x80000000, 0, 0x80000001, 0, 0, 0);
		put(v, 0x80000001, 0, 0, 0, 0x21, 0x2c100800); /* lahf_lm abm */
	}
	s->has_xcr0 = true;
	s->xcr0 = 7;
	cr_assert_eq(decode_snapshot(s, &err), 0, "%s", err.msg);
	return s;
}

static const struct change *find(const struct diff *d, enum change_kind k, const char *field)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].kind == k && !strcmp(d->v[i].field, field))
			return &d->v[i];
	return NULL;
}

Test(diff, identical_snapshots_have_no_drift)
{
	struct snapshot *a = machine(), *b = machine();
	struct diff d;

	cr_assert(featset_has(&a->features, FEAT_AVX2), "fixture should advertise avx2");
	cr_assert_eq(a->level, 3, "fixture should be x86-64-v3, is v%d", a->level);
	cr_assert_eq(diff_snapshots(a, b, &d), 0);
	cr_expect_eq(d.n, 0, "unexpected change: %s", d.n ? d.v[0].field : "");
	diff_free(&d);
	snapshot__free(a);
	snapshot__free(b);
}

Test(diff, one_removed_bit_is_critical)
{
	struct snapshot *a = machine(), *b = machine();
	struct errbuf err;
	const struct change *c;
	struct diff d;

	for (int i = 0; i < b->nvcpus; i++) {
		struct leafval *l = (struct leafval *)vcpu_dump_get(&b->vcpus[i], 7, 0);

		l->r[REG_EBX] &= ~(1u << 5); /* avx2 */
	}
	cr_assert_eq(decode_snapshot(b, &err), 0);
	cr_assert_eq(diff_snapshots(a, b, &d), 0);
	c = find(&d, CHANGE_FEATURE_REMOVED, "avx2");
	cr_assert_not_null(c);
	cr_expect_eq(c->sev, SEV_CRITICAL);
	/* Losing avx2 also drops the level: v3 -> v2. */
	c = find(&d, CHANGE_LEVEL, "x86_64_level");
	cr_assert_not_null(c);
	cr_expect_str_eq(c->before, "v3");
	cr_expect_str_eq(c->after, "v2");
	cr_expect_eq(diff_max_severity(&d), SEV_CRITICAL);
	/* The feature bit is reported by name, not again as a raw leaf change. */
	cr_expect_null(find(&d, CHANGE_LEAF, "0x00000007.0.ebx"));
	diff_free(&d);

	/* The other way round it is an added feature: a notice. */
	cr_assert_eq(diff_snapshots(b, a, &d), 0);
	c = find(&d, CHANGE_FEATURE_ADDED, "avx2");
	cr_assert_not_null(c);
	cr_expect_eq(c->sev, SEV_NOTICE);
	diff_free(&d);
	snapshot__free(a);
	snapshot__free(b);
}

Test(diff, identity_change)
{
	struct snapshot *a = machine(), *b = machine();
	struct errbuf err;
	struct diff d;

	for (int i = 0; i < b->nvcpus; i++) {
		struct leafval *l = (struct leafval *)vcpu_dump_get(&b->vcpus[i], 1, 0);

		l->r[REG_EAX] = 0x000306c4; /* stepping 3 -> 4 */
	}
	cr_assert_eq(decode_snapshot(b, &err), 0);
	a->has_microcode = b->has_microcode = true;
	a->microcode = 0x28;
	b->microcode = 0x2a;
	cr_assert_eq(diff_snapshots(a, b, &d), 0);
	cr_expect_not_null(find(&d, CHANGE_IDENTITY, "stepping"));
	cr_expect_not_null(find(&d, CHANGE_MICROCODE, "microcode"));
	cr_expect_null(find(&d, CHANGE_IDENTITY, "family"));
	diff_free(&d);
	snapshot__free(a);
	snapshot__free(b);
}

Test(diff, vcpu_disagreement_is_reported_but_apic_ids_are_not)
{
	struct snapshot *a = machine(), *b = machine();
	struct errbuf err;
	const struct change *c;
	struct diff d;
	struct leafval *l = (struct leafval *)vcpu_dump_get(&b->vcpus[1], 7, 0);

	l->r[REG_EBX] &= ~(1u << 8); /* bmi2 only on vCPU 1 */
	cr_assert_eq(decode_snapshot(b, &err), 0);
	cr_expect_not(featset_has(&b->features, FEAT_BMI2), "features must hold on every vCPU");
	cr_assert_eq(diff_snapshots(a, b, &d), 0);
	c = find(&d, CHANGE_VCPU_MISMATCH, "bmi2");
	cr_assert_not_null(c);
	cr_expect_eq(c->vcpu, 1);
	cr_expect_not_null(find(&d, CHANGE_FEATURE_REMOVED, "bmi2"));
	/* Leaf 1 EBX[31:24] and leaf 0xB EDX (APIC IDs) differ between the vCPUs by design. */
	cr_expect_null(find(&d, CHANGE_VCPU_MISMATCH, "0x00000001.0.ebx"));
	cr_expect_null(find(&d, CHANGE_VCPU_MISMATCH, "0x0000000b.0.edx"));
	diff_free(&d);
	snapshot__free(a);
	snapshot__free(b);
}

Test(diff, hypervisor_xcr0_and_shadow_changes)
{
	struct snapshot *a = machine(), *b = machine();
	struct diff d;

	snprintf(b->hypervisor, sizeof(b->hypervisor), "KVMKVMKVM");
	b->xcr0 = 3; /* AVX state disabled */
	a->has_shadow = b->has_shadow = true;
	featset_add(&a->shadow, FEAT_AVX512F);
	cr_assert_eq(diff_snapshots(a, b, &d), 0);
	cr_expect_not_null(find(&d, CHANGE_HYPERVISOR, "hypervisor"));
	cr_expect_eq(find(&d, CHANGE_XCR0, "xcr0")->sev, SEV_CRITICAL);
	cr_expect_not_null(find(&d, CHANGE_SHADOW, "avx512f"));
	diff_free(&d);
	snapshot__free(a);
	snapshot__free(b);
}

Test(diff, raw_leaf_change_outside_features)
{
	struct snapshot *a = machine(), *b = machine();
	struct errbuf err;
	struct diff d;
	uint32_t r[4] = { 0x1, 0x2, 0x3, 0x4 };

	cr_assert_eq(vcpu_dump_put(&b->vcpus[0], 0x6, 0, r), 0);
	cr_assert_eq(vcpu_dump_put(&b->vcpus[1], 0x6, 0, r), 0);
	cr_assert_eq(decode_snapshot(b, &err), 0);
	cr_assert_eq(diff_snapshots(a, b, &d), 0);
	cr_expect_not_null(find(&d, CHANGE_LEAF, "0x00000006.0.edx"));
	diff_free(&d);
	snapshot__free(a);
	snapshot__free(b);
}
