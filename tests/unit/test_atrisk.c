// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The at-risk analysis on plain records: who is a candidate, the rank order (above the
 * level first, masked last, unknown between, oldest first), the reason in words, and the
 * JSON every consumer reads, with its bounds.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "analysis/atrisk.h"

TestSuite(atrisk);

#define S 1000000000LL

static struct atrisk_query query(int level, const char *lost)
{
	struct atrisk_query q = { .change_boot_ns = 100 * S, .level = level };

	if (lost)
		featset_add(&q.lost, feature_lookup(lost));
	return q;
}

static struct json_object *get(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	cr_assert(json_object_object_get_ex(o, k, &v), "no '%s' in %s", k,
		  json_object_to_json_string(o));
	return v;
}

Test(atrisk, candidates_started_before_and_not_cpudrift)
{
	struct atrisk_query q = query(3, "avx2");
	struct atrisk_proc v[] = {
		{ .pid = 10, .start_boot_ns = 5 * S },
		{ .pid = 11, .start_boot_ns = 100 * S }, /* at the change: not before it */
		{ .pid = 12, .start_boot_ns = 150 * S },
		{ .pid = 13, .start_boot_ns = 1 * S, .self = true },
	};

	cr_expect(atrisk_candidate(&v[0], &q));
	cr_expect_not(atrisk_candidate(&v[1], &q));
	cr_expect_not(atrisk_candidate(&v[2], &q));
	cr_expect_not(atrisk_candidate(&v[3], &q), "cpudrift itself is never listed");
	cr_expect_eq(atrisk_select(v, 4, &q), 1);
	cr_expect_eq(v[0].pid, 10);
}

Test(atrisk, rank_above_first_then_unmasked_unknown_masked_oldest_first)
{
	struct atrisk_query q = query(2, "avx2");
	/* Given in the wrong order on purpose. */
	struct atrisk_proc v[] = {
		{ .pid = 1, .start_boot_ns = 1 * S, .glibc_masked = 1, .hwcaps_level = 0 },
		{ .pid = 2, .start_boot_ns = 2 * S, .glibc_masked = -1, .hwcaps_level = -1 },
		{ .pid = 3, .start_boot_ns = 9 * S, .glibc_masked = 0, .hwcaps_level = 0 },
		{ .pid = 4, .start_boot_ns = 8 * S, .glibc_masked = 0, .hwcaps_level = 2 },
		{ .pid = 5, .start_boot_ns = 7 * S, .glibc_masked = 1, .hwcaps_level = 3 },
		{ .pid = 6, .start_boot_ns = 3 * S, .glibc_masked = 0, .hwcaps_level = 3 },
		{ .pid = 7, .start_boot_ns = 3 * S, .glibc_masked = 0, .hwcaps_level = 0 },
	};
	static const int want[] = { 6, 5, 7, 4, 3, 2, 1 };
	size_t n = atrisk_select(v, 7, &q);

	cr_assert_eq(n, 7);
	for (size_t i = 0; i < n; i++)
		cr_expect_eq(v[i].pid, want[i], "rank %zu: pid %d, want %d", i, v[i].pid, want[i]);
}

Test(atrisk, nothing_is_above_an_unknown_level)
{
	struct atrisk_query q = query(0, NULL);
	struct atrisk_proc p = { .pid = 1, .hwcaps_level = 4 };

	cr_expect_not(atrisk_above(&p, &q));
	q.level = 4;
	cr_expect_not(atrisk_above(&p, &q), "v4 libraries on a v4 VM are no risk");
	q.level = 3;
	cr_expect(atrisk_above(&p, &q));
}

Test(atrisk, reasons_in_words)
{
	struct atrisk_query q = query(2, "avx2");
	struct atrisk_proc p = { .pid = 1, .hwcaps_level = 3, .glibc_masked = 0 };
	char buf[300];

	atrisk_reason(&p, &q, buf, sizeof(buf));
	cr_expect_str_eq(buf,
			 "maps glibc-hwcaps/x86-64-v3 above v2 now; started with avx2 present");
	p.hwcaps_level = 0;
	p.glibc_masked = 1;
	atrisk_reason(&p, &q, buf, sizeof(buf));
	cr_expect_str_eq(buf, "started with avx2 present; glibc masked to baseline code, its own "
			      "code may not be");
	p.glibc_masked = -1;
	atrisk_reason(&p, &q, buf, sizeof(buf));
	cr_expect_str_eq(buf, "started with avx2 present; glibc mask unknown (environment "
			      "unreadable)");
	memset(&q.lost, 0, sizeof(q.lost));
	p.glibc_masked = 0;
	atrisk_reason(&p, &q, buf, sizeof(buf));
	cr_expect_str_eq(buf, "started before the change");
	/* many losses are summarised, and a short buffer is cut, not overrun */
	for (const char *const *f =
		     (const char *const[]){ "avx", "avx2", "fma", "bmi1", "bmi2", "f16c", NULL };
	     *f; f++)
		featset_add(&q.lost, feature_lookup(*f));
	atrisk_reason(&p, &q, buf, sizeof(buf));
	cr_expect(strstr(buf, "(+2 more) present"), "%s", buf);
	atrisk_reason(&p, &q, buf, 10);
	cr_expect_eq(strlen(buf), 9);
}

Test(atrisk, json_fields_groups_and_bounds)
{
	struct atrisk_query q = query(2, "avx2");
	struct unit_ref nginx, pod;
	struct atrisk_proc v[] = {
		{ .pid = 10,
		  .start_boot_ns = 1 * S,
		  .comm = "nginx",
		  .exe = "/usr/sbin/nginx",
		  .hwcaps_level = 3,
		  .glibc_masked = 0,
		  .unit = &nginx },
		{ .pid = 11,
		  .start_boot_ns = 2 * S,
		  .comm = "nginx",
		  .exe = "/usr/sbin/nginx",
		  .hwcaps_level = 0,
		  .glibc_masked = 1,
		  .unit = &nginx },
		{ .pid = 12,
		  .start_boot_ns = 3 * S,
		  .hwcaps_level = -1,
		  .glibc_masked = -1,
		  .unit = &pod },
		{ .pid = 13, .start_boot_ns = 4 * S, .glibc_masked = 0 },
	};
	struct atrisk_json_opts o = { .listed_max = 2, .checked = 2, .as_of_boot_ns = 42 };
	struct json_object *j, *procs, *p0, *p1, *groups, *g;
	size_t n;

	cr_assert_eq(units_from_cgroup("/system.slice/nginx.service", &nginx), 0);
	cr_assert_eq(units_from_cgroup("/kubepods/burstable/pod1ff47ee6-9685-4726-ac6f-"
				       "0ff070c452d6/09d185410c4e25236cc24717f881589bb0978b24eafd"
				       "101624e627a4dd8d3439",
				       &pod),
		     0);
	n = atrisk_select(v, 4, &q);
	cr_assert_eq(n, 4);
	j = atrisk_to_json(v, n, &q, &o);
	cr_assert_not_null(j);
	cr_expect_eq(json_object_get_int64(get(j, "change_boot_ns")), 100 * S);
	cr_expect_eq(json_object_get_int(get(j, "level")), 2);
	cr_expect_str_eq(json_object_get_string(json_object_array_get_idx(get(j, "lost"), 0)),
			 "avx2");
	cr_expect_eq(json_object_get_int(get(j, "total")), 4);
	cr_expect_eq(json_object_get_int(get(j, "above_level")), 1);
	cr_expect_eq(json_object_get_int(get(j, "masked")), 1);
	cr_expect_eq(json_object_get_int(get(j, "mask_unknown")), 1);
	cr_expect_eq(json_object_get_int(get(j, "checked")), 2);
	cr_expect_eq(json_object_get_int64(get(j, "as_of_boot_ns")), 42);
	cr_expect_not(json_object_get_boolean(get(j, "complete")));
	procs = get(j, "processes");
	cr_assert_eq(json_object_array_length(procs), 2, "listed_max bounds the list");
	p0 = json_object_array_get_idx(procs, 0);
	cr_expect_eq(json_object_get_int(get(p0, "pid")), 10);
	cr_expect_str_eq(json_object_get_string(get(p0, "comm")), "nginx");
	cr_expect_str_eq(json_object_get_string(get(p0, "exe")), "/usr/sbin/nginx");
	cr_expect_eq(json_object_get_int64(get(p0, "start_boottime_ns")), 1 * S);
	cr_expect_str_eq(json_object_get_string(get(p0, "unit")), "nginx.service");
	cr_expect_null(get(p0, "container"));
	cr_expect_null(get(p0, "pod"));
	cr_expect_str_eq(json_object_get_string(get(p0, "group")), "nginx.service");
	cr_expect_eq(json_object_get_int(get(p0, "hwcaps_level")), 3);
	cr_expect(json_object_get_boolean(get(p0, "above_level")));
	cr_expect(json_object_is_type(get(p0, "glibc_masked"), json_type_boolean));
	cr_expect_not(json_object_get_boolean(get(p0, "glibc_masked")));
	cr_expect(strstr(json_object_get_string(get(p0, "reason")), "x86-64-v3 above v2"));
	/* unknown is null, never false */
	p1 = json_object_array_get_idx(procs, 1);
	cr_expect_eq(json_object_get_int(get(p1, "pid")), 13);
	groups = get(j, "groups");
	cr_assert_eq(json_object_array_length(groups), 3);
	g = json_object_array_get_idx(groups, 0);
	cr_expect_str_eq(json_object_get_string(get(g, "name")), "nginx.service");
	cr_expect_eq(json_object_get_int(get(g, "count")), 2, "the masked one is in its group too");
	g = json_object_array_get_idx(groups, 1);
	cr_expect_str_eq(json_object_get_string(get(g, "kind")), "none",
			 "pid 13 belongs to neither");
	g = json_object_array_get_idx(groups, 2);
	cr_expect_str_eq(json_object_get_string(get(g, "kind")), "pod");
	cr_expect_eq(json_object_get_int(get(j, "groups_omitted")), 0);
	json_object_put(j);

	/* every process listed: the unknown one shows null, not false */
	o.listed_max = 10;
	j = atrisk_to_json(v, n, &q, &o);
	p1 = json_object_array_get_idx(get(j, "processes"), 2);
	cr_expect_eq(json_object_get_int(get(p1, "pid")), 12);
	cr_expect_null(get(p1, "glibc_masked"));
	cr_expect_null(get(p1, "hwcaps_level"));
	cr_expect_null(get(p1, "comm"));
	cr_expect_str_eq(json_object_get_string(get(p1, "pod")),
			 "1ff47ee6-9685-4726-ac6f-0ff070c452d6");
	json_object_put(j);
}

Test(atrisk, nothing_at_risk_is_an_empty_list)
{
	struct atrisk_query q = query(3, "avx2");
	struct json_object *j = atrisk_to_json(NULL, 0, &q, NULL);

	cr_assert_not_null(j);
	cr_expect_eq(json_object_get_int(get(j, "total")), 0);
	cr_expect_eq(json_object_array_length(get(j, "processes")), 0);
	cr_expect_eq(json_object_array_length(get(j, "groups")), 0);
	cr_expect(json_object_get_boolean(get(j, "complete")));
	json_object_put(j);
}
