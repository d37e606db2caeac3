// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The quick check: its cost per run and its CPU share at default settings (it runs in the
 * daemon's own wake-ups, so its CPUID exits and pinning are all it adds), and how long a
 * feature change takes to be seen.  The latency is measured the way the daemon works: a
 * loop that wakes once a second and checks when due, against a snapshot doctored to lack
 * a feature this machine has (what a migration does to the last snapshot's truth), from a
 * random moment in the check period to the end of the full capture it triggers.
 * BENCH_QUICKCHECK_RUNS latency runs (default 3).  Prints `name: value unit` lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "analysis/decode.h"
#include "capture/capture.h"
#include "capture/quickcheck.h"
#include "core/clock.h"
#include "core/log.h"
#include "formats/config.h"

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Clear feature @id in every vCPU of @s, as a CPU model without it would. */
static void drop_feature(struct snapshot *s, int id)
{
	const struct feature *f = &feature_table[id];
	struct errbuf err;

	for (int i = 0; i < s->nvcpus; i++) {
		const struct leafval *l = vcpu_dump_get(&s->vcpus[i], f->leaf, f->subleaf);
		uint32_t r[4];

		if (!l)
			continue;
		memcpy(r, l->r, sizeof(r));
		r[f->reg] &= ~(1u << f->bit);
		vcpu_dump_put(&s->vcpus[i], f->leaf, f->subleaf, r);
	}
	decode_snapshot(s, &err);
}

int main(void)
{
	const char *env = getenv("BENCH_QUICKCHECK_RUNS");
	int runs = env ? atoi(env) : 3, n = 200, feat = -1;
	struct snapshot *s = NULL, *doctored = NULL, *fresh = NULL;
	struct quickcheck_result r;
	struct quickcheck *q;
	struct config cfg;
	struct errbuf err;
	int64_t cost[200], every, t;
	double c0, wall0, cpu, wall;

	config_defaults(&cfg);
	every = (int64_t)cfg.quick_check_s * NSEC_PER_SEC;
	if (capture_snapshot(&s, NULL, &err) || quickcheck__new(&q)) {
		fprintf(stderr, "bench_quickcheck: %s\n", err.msg);
		return 1;
	}

	/* cost: what one check adds to a wake-up the daemon has anyway */
	wall0 = clock_mono_ns() / 1e9;
	c0 = cpu_s();
	for (int i = 0; i < n; i++) {
		if (quickcheck_run(q, s, &r))
			return 1;
		cost[i] = r.cost_ns;
	}
	cpu = cpu_s() - c0;
	wall = clock_mono_ns() / 1e9 - wall0;
	qsort(cost, n, sizeof(cost[0]), cmp_i64);
	printf("quickcheck_cpuids: %d CPUID instructions (+ XGETBV), %d vCPU(s) in turn\n",
	       r.ncpuid, s->nvcpus);
	printf("quickcheck_cost_median_us: %.1f us (p90 %.1f us)\n", cost[n / 2] / 1e3,
	       cost[n * 9 / 10] / 1e3);
	printf("quickcheck_cpu_per_check_us: %.1f us (getrusage over %d checks, %.2f s)\n",
	       cpu / n * 1e6, n, wall);
	printf("quickcheck_cpu_share_pct: %.5f %% of one core (default quick_check = %llu s)\n",
	       every ? 100.0 * cpu / n / (every / 1e9) : 0.0,
	       (unsigned long long)cfg.quick_check_s);

	/* a full capture, which a difference triggers */
	t = clock_mono_ns();
	if (capture_snapshot(&fresh, NULL, &err))
		return 1;
	printf("quickcheck_full_capture_ms: %.2f ms (all vCPUs, decoded)\n",
	       (clock_mono_ns() - t) / 1e6);
	snapshot__free(fresh);

	/* latency: the daemon's schedule, a change at a random moment of the period */
	for (int i = 0; i < FEAT__COUNT && feat < 0; i++)
		if (featset_has(&s->features, i) && feature_table[i].leaf == 1 && i != FEAT_OSXSAVE)
			feat = i;
	doctored = snapshot_dup(s);
	if (!doctored || feat < 0)
		return 1;
	drop_feature(doctored, feat);
	srand((unsigned)time(NULL));
	for (int k = 0; k < runs; k++) {
		int64_t last = clock_mono_ns() - (int64_t)(rand() / (RAND_MAX + 1.0) * every);
		int64_t changed = clock_mono_ns(), seen = 0;

		while (!seen) {
			if (clock_mono_ns() - last >= every) {
				last = clock_mono_ns();
				if (!quickcheck_run(q, doctored, &r) && r.differs) {
					if (capture_snapshot(&fresh, NULL, &err))
						return 1;
					seen = clock_mono_ns();
					snapshot__free(fresh);
					break;
				}
			}
			usleep(1000000); /* the daemon's loop wakes at least once a second */
		}
		printf("quickcheck_detection_latency_s: %.2f s (run %d, %s lost)\n",
		       (seen - changed) / 1e9, k + 1, feature_table[feat].name);
	}
	printf("quickcheck_detection_latency_bound_s: %.1f s (period + 1 s loop granularity + "
	       "check + capture)\n",
	       every / 1e9 + 1 + cost[n / 2] / 1e9);
	snapshot__free(doctored);
	snapshot__free(s);
	quickcheck__free(q);
	return 0;
}
