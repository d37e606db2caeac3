// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The quick check: the feature leaves of one vCPU, read pinned, decoded with the same
 * decode_vcpu_features() a full capture uses, and compared with that vCPU's leaves in the
 * last capture.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/decode.h"
#include "capture/hw.h"
#include "capture/quickcheck.h"
#include "core/clock.h"

struct quickcheck {
	uint32_t leaves[QUICKCHECK_MAX_LEAVES][2];
	int nleaves;
	int next; /* index into the snapshot's vCPUs of the next one to read */
	struct vcpu_dump dump; /* reused: no allocation per check */
};

static int pair_cmp(const void *a, const void *b)
{
	const uint32_t *x = a, *y = b;

	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return (x[1] > y[1]) - (x[1] < y[1]);
}

static void add_pair(struct quickcheck *q, uint32_t leaf, uint32_t subleaf)
{
	for (int i = 0; i < q->nleaves; i++)
		if (q->leaves[i][0] == leaf && q->leaves[i][1] == subleaf)
			return;
	/* The table holds a few dozen leaves at most; a bigger one is our bug. */
	if (q->nleaves == QUICKCHECK_MAX_LEAVES)
		abort();
	q->leaves[q->nleaves][0] = leaf;
	q->leaves[q->nleaves][1] = subleaf;
	q->nleaves++;
}

int quickcheck__new(struct quickcheck **out)
{
	struct quickcheck *q = calloc(1, sizeof(*q));

	*out = NULL;
	if (!q)
		return -ENOMEM;
	/* The range maxima decide which feature leaves exist (decode_vcpu_features). */
	add_pair(q, 0, 0);
	add_pair(q, LEAF_EXT_BASE, 0);
	for (int i = 0; i < FEAT__COUNT; i++)
		add_pair(q, feature_table[i].leaf, feature_table[i].subleaf);
	qsort(q->leaves, q->nleaves, sizeof(q->leaves[0]), pair_cmp);
	q->dump.leaves = calloc(q->nleaves, sizeof(*q->dump.leaves));
	if (!q->dump.leaves) {
		free(q);
		return -ENOMEM;
	}
	q->dump.cap = q->nleaves;
	*out = q;
	return 0;
}

void quickcheck__free(struct quickcheck *q)
{
	if (!q)
		return;
	free(q->dump.leaves);
	free(q);
}

int quickcheck_leaves(const struct quickcheck *q, const uint32_t (**leaves)[2])
{
	*leaves = (const uint32_t(*)[2])q->leaves;
	return q->nleaves;
}

void quickcheck_compare(const struct snapshot *last, const struct vcpu_dump *now, bool has_xcr0,
			uint64_t xcr0, struct quickcheck_result *r)
{
	struct featset then_f, now_f;
	const struct vcpu_dump *then = NULL;

	for (int i = 0; i < last->nvcpus && !then; i++)
		if (last->vcpus[i].cpu == now->cpu)
			then = &last->vcpus[i];
	r->cpu = now->cpu;
	decode_vcpu_features(now, &now_f);
	if (then)
		decode_vcpu_features(then, &then_f);
	else
		then_f = last->features; /* a vCPU the capture did not see: the common set */
	featset_minus(&r->lost, &then_f, &now_f);
	featset_minus(&r->gained, &now_f, &then_f);
	/* XCR0 is read on vCPU 0 by a capture; the kernel sets one value on every CPU. */
	r->has_xcr0 = has_xcr0 && last->has_xcr0;
	r->xcr0_then = last->xcr0;
	r->xcr0_now = xcr0;
	r->differs = featset_count(&r->lost) || featset_count(&r->gained) ||
		     (r->has_xcr0 && r->xcr0_then != r->xcr0_now);
}

/* Read the check's leaves and XCR0 on the vCPU this thread runs on. */
static void read_here(struct quickcheck *q, bool *has_xcr0, uint64_t *xcr0)
{
	struct featset f;

	q->dump.n = 0;
	for (int i = 0; i < q->nleaves; i++) {
		uint32_t r[4];

		hw_cpuid(q->leaves[i][0], q->leaves[i][1], r);
		/* Sorted input and a dump sized for it: never reallocates, never fails. */
		vcpu_dump_put(&q->dump, q->leaves[i][0], q->leaves[i][1], r);
	}
	/* XGETBV faults unless the OS set CR4.OSXSAVE; as a capture does, ask the table first. */
	decode_vcpu_features(&q->dump, &f);
	*has_xcr0 = true;
	*xcr0 = featset_has(&f, FEAT_OSXSAVE) ? hw_xgetbv(0) : (XS_X87 | XS_SSE);
}

int quickcheck_run(struct quickcheck *q, const struct snapshot *last, struct quickcheck_result *r)
{
	int64_t t0 = clock_mono_ns();
	cpu_set_t orig, one;
	bool has_xcr0;
	uint64_t xcr0;

	memset(r, 0, sizeof(*r));
	r->cpu = -1;
	if (!last || last->nvcpus < 1)
		return -ENODEV;
	if (sched_getaffinity(0, sizeof(orig), &orig))
		return -errno;
	/* The next vCPU in turn that this thread may run on. */
	for (int tries = 0; tries < last->nvcpus; tries++) {
		int cpu = last->vcpus[q->next % last->nvcpus].cpu;

		q->next = (q->next + 1) % last->nvcpus;
		if (cpu < 0 || cpu >= CPU_SETSIZE)
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (sched_setaffinity(0, sizeof(one), &one))
			continue;
		q->dump.cpu = cpu;
		read_here(q, &has_xcr0, &xcr0);
		sched_setaffinity(0, sizeof(orig), &orig);
		quickcheck_compare(last, &q->dump, has_xcr0, xcr0, r);
		r->ncpuid = q->nleaves;
		r->cost_ns = clock_mono_ns() - t0;
		return 0;
	}
	return -ENODEV;
}
