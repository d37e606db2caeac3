// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The quick check on the machine running the tests: it reads the feature leaves the table
 * names and no others, finds nothing against a fresh capture, and finds a lost or gained
 * feature, or a changed XCR0, against a capture doctored to differ (what a migration
 * does to the last snapshot's truth).  CPUID and pinning need no privilege: nothing skips.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "analysis/decode.h"
#include "capture/capture.h"
#include "capture/quickcheck.h"
#include "core/log.h"

TestSuite(quickcheck);

static struct snapshot *live(void)
{
	struct snapshot *s = NULL;
	struct errbuf err = { "" };

	cr_assert_eq(capture_snapshot(&s, NULL, &err), 0, "capture failed: %s", err.msg);
	return s;
}

/* Set or clear feature @id's bit in every vCPU of @s, as another CPU model would. */
static void doctor(struct snapshot *s, int id, bool on)
{
	const struct feature *f = &feature_table[id];
	struct errbuf err = { "" };

	for (int i = 0; i < s->nvcpus; i++) {
		const struct leafval *l = vcpu_dump_get(&s->vcpus[i], f->leaf, f->subleaf);
		uint32_t r[4] = { 0 };

		if (l)
			memcpy(r, l->r, sizeof(r));
		if (on)
			r[f->reg] |= 1u << f->bit;
		else
			r[f->reg] &= ~(1u << f->bit);
		cr_assert_eq(vcpu_dump_put(&s->vcpus[i], f->leaf, f->subleaf, r), 0);
	}
	cr_assert_eq(decode_snapshot(s, &err), 0, "%s", err.msg);
}

Test(quickcheck, reads_the_feature_leaves_of_the_table_and_no_others)
{
	const uint32_t(*lv)[2];
	struct quickcheck *q;
	int n;

	cr_assert_eq(quickcheck__new(&q), 0);
	n = quickcheck_leaves(q, &lv);
	for (int i = 0; i < FEAT__COUNT; i++) {
		bool found = false;

		for (int k = 0; k < n && !found; k++)
			found = lv[k][0] == feature_table[i].leaf &&
				lv[k][1] == feature_table[i].subleaf;
		cr_expect(found, "%s (leaf %#x.%u) is not read", feature_table[i].name,
			  feature_table[i].leaf, feature_table[i].subleaf);
	}
	for (int k = 0; k < n; k++) {
		bool used = (lv[k][0] == 0 || lv[k][0] == LEAF_EXT_BASE) && !lv[k][1];

		for (int i = 0; i < FEAT__COUNT && !used; i++)
			used = lv[k][0] == feature_table[i].leaf &&
			       lv[k][1] == feature_table[i].subleaf;
		cr_expect(used, "leaf %#x.%u is read but holds no feature", lv[k][0], lv[k][1]);
		if (k)
			cr_expect(lv[k - 1][0] < lv[k][0] ||
					  (lv[k - 1][0] == lv[k][0] && lv[k - 1][1] < lv[k][1]),
				  "leaves not sorted or repeated at %d", k);
	}
	/* "about sixteen CPUIDs": a full capture of one vCPU issues ~56 */
	cr_expect(n >= 10 && n <= 24, "%d leaves", n);
	quickcheck__free(q);
}

Test(quickcheck, finds_nothing_against_a_fresh_capture_and_visits_every_vcpu)
{
	struct snapshot *s = live();
	struct quickcheck_result r;
	struct quickcheck *q;
	const uint32_t(*lv)[2];
	bool seen[1024] = { false };
	int n;

	cr_assert_eq(quickcheck__new(&q), 0);
	n = quickcheck_leaves(q, &lv);
	for (int i = 0; i < s->nvcpus; i++) {
		cr_assert_eq(quickcheck_run(q, s, &r), 0);
		cr_expect_not(r.differs, "vCPU %d differs from its own fresh capture", r.cpu);
		cr_expect_eq(r.ncpuid, n);
		cr_expect(r.has_xcr0);
		cr_expect_eq(r.xcr0_now, s->xcr0);
		cr_assert(r.cpu >= 0 && r.cpu < 1024);
		seen[r.cpu] = true;
	}
	for (int i = 0; i < s->nvcpus; i++)
		cr_expect(seen[s->vcpus[i].cpu], "vCPU %d never checked", s->vcpus[i].cpu);
	quickcheck__free(q);
	snapshot__free(s);
}

Test(quickcheck, finds_a_lost_and_a_gained_feature_and_a_changed_xcr0)
{
	struct snapshot *s = live();
	struct quickcheck_result r;
	struct quickcheck *q;
	int have = -1, lack = -1;

	/* a feature this machine has, and one of leaf 1 or 7 it lacks */
	for (int i = 0; i < FEAT__COUNT; i++) {
		const struct feature *f = &feature_table[i];

		if (f->leaf != 1 && f->leaf != 7)
			continue;
		if (featset_has(&s->features, i) && have < 0 && i != FEAT_OSXSAVE)
			have = i;
		if (!featset_has(&s->features, i) && lack < 0)
			lack = i;
	}
	cr_assert(have >= 0 && lack >= 0);
	cr_assert_eq(quickcheck__new(&q), 0);

	/* The last snapshot claims a feature the CPU lacks: a check finds it lost. */
	doctor(s, lack, true);
	cr_assert_eq(quickcheck_run(q, s, &r), 0);
	cr_expect(r.differs);
	cr_expect(featset_has(&r.lost, lack), "%s not lost", feature_table[lack].name);
	cr_expect_eq(featset_count(&r.lost), 1);
	cr_expect_eq(featset_count(&r.gained), 0);
	doctor(s, lack, false);

	/* The last snapshot lacked one the CPU has: gained. */
	doctor(s, have, false);
	cr_assert_eq(quickcheck_run(q, s, &r), 0);
	cr_expect(r.differs);
	cr_expect(featset_has(&r.gained, have), "%s not gained", feature_table[have].name);
	cr_expect_eq(featset_count(&r.lost), 0);
	doctor(s, have, true);

	/* Same leaves, other XCR0 (the OS state the vector features need). */
	cr_assert_eq(quickcheck_run(q, s, &r), 0);
	cr_expect_not(r.differs);
	s->xcr0 ^= XS_AVX;
	cr_assert_eq(quickcheck_run(q, s, &r), 0);
	cr_expect(r.differs, "XCR0 %#llx vs %#llx", (unsigned long long)r.xcr0_then,
		  (unsigned long long)r.xcr0_now);
	quickcheck__free(q);
	snapshot__free(s);
}

Test(quickcheck, nothing_to_compare_with)
{
	struct quickcheck_result r;
	struct quickcheck *q;

	cr_assert_eq(quickcheck__new(&q), 0);
	cr_expect_eq(quickcheck_run(q, NULL, &r), -ENODEV);
	quickcheck__free(q);
}
