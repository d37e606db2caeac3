// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's pipeline on a real SQLite store and this machine's CPUID: an incident opened
 * by timing evidence is stored, a pipeline started again on the same store (a restart)
 * takes it back, and new evidence joins it under the same ID; the textfile shows it and
 * nothing of its reasons in labels.  No BPF, no root: nothing skips.
 */
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "capture/capture.h"
#include "core/clock.h"
#include "core/log.h"
#include "daemon/pipeline.h"
#include "sinks/store.h"
#include "testutil.h"

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/cpudrift-pipeline-XXXXXX");
	cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
	tu_rmtree(dir);
}

TestSuite(pipeline, .init = setup, .fini = teardown);

struct run {
	struct config cfg;
	struct store *store;
	struct pipeline *p;
};

static void start(struct run *r)
{
	struct errbuf err = { "" };
	struct snapshot *s = NULL;

	config_defaults(&r->cfg);
	r->cfg.journal = false;
	cr_assert_eq(store__new(&r->store, dir, STORE_LOCK, &err), 0, "%s", err.msg);
	cr_assert_eq(
		pipeline__new(
			&(struct pipeline_opts){ .cfg = &r->cfg, .store = r->store, .live = true },
			&r->p),
		0);
	cr_assert_eq(capture_snapshot(&s, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(pipeline_first_snapshot(r->p, s, &err), 0, "%s", err.msg);
}

static void stop(struct run *r)
{
	pipeline__free(r->p);
	store__free(r->store);
}

static struct observation at(enum obs_source src, int64_t mono)
{
	struct observation o = { .src = src, .mono_ns = mono };

	o.real_ns = mono + clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
	return o;
}

static void rtc(struct run *r, int64_t mono, int64_t off_ms)
{
	struct observation o = at(OBS_HOSTCLOCK, mono);

	snprintf(o.text, sizeof(o.text), "rtc0");
	o.hostclock.offset_ns = off_ms * 1000000;
	o.hostclock.err_ns = 10000000;
	cr_assert_geq(pipeline_observe(r->p, &o), 0);
}

struct issues {
	int n;
	int last_issue;
	char id[48];
	char ids[8][48];
};

static int keep(int64_t row, const struct event *e, void *arg)
{
	struct issues *is = arg;
	struct json_object *v;

	(void)row;
	if (is->n < 8 && json_object_object_get_ex(e->body, "incident_id", &v))
		snprintf(is->ids[is->n], sizeof(is->ids[0]), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(e->body, "issue", &v))
		is->last_issue = json_object_get_int(v);
	is->n++;
	return 0;
}

static struct issues stored_issues(struct store *s)
{
	struct event_query q = { .kind = EV_MIGRATION_SUSPECTED };
	struct issues is = { 0 };

	cr_assert_eq(store_query_events(s, &q, keep, &is), 0);
	return is;
}

Test(pipeline, an_open_incident_survives_a_restart)
{
	struct run a = { 0 }, b = { 0 };
	int64_t t0 = clock_mono_ns();
	struct issues is;
	char *prom, path[128];
	int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);

	start(&a);
	/* the RTC moves 2 s ahead and stays there: a host-clock step, low confidence */
	rtc(&a, t0, 0);
	rtc(&a, t0 + NSEC_PER_SEC, 0);
	rtc(&a, t0 + 2 * NSEC_PER_SEC, 2000);
	rtc(&a, t0 + 3 * NSEC_PER_SEC, 2000);
	is = stored_issues(a.store);
	cr_assert_eq(is.n, 1, "%d issues", is.n);
	cr_expect_eq(is.last_issue, 1);
	cr_expect_eq(pipeline_textfile(a.p)->incident_confidence, 1);
	cr_expect_gt(pipeline_textfile(a.p)->incident_start_time, 0);
	stop(&a);

	/* a restart: the incident is taken back from the store, and grows */
	start(&b);
	for (int c = 0; c < ncpu; c++) {
		struct observation o = at(OBS_STALL, t0 + 5 * NSEC_PER_SEC);

		o.stall.cpu = c;
		o.stall.lateness_ns = 200000000;
		o.stall.online = ncpu;
		cr_assert_geq(pipeline_observe(b.p, &o), 0);
	}
	cr_assert_geq(pipeline_flush(b.p, t0 + 6 * NSEC_PER_SEC), 0);
	is = stored_issues(b.store);
	cr_assert_eq(is.n, 2, "%d issues: the stall opened another incident or none", is.n);
	cr_expect_str_eq(is.ids[1], is.ids[0]);
	cr_expect_eq(is.last_issue, 2);
	cr_expect_eq(pipeline_textfile(b.p)->incident_reasons, 2);

	/* the textfile: four series, no reasons in labels */
	snprintf(path, sizeof(path), "%s/t.prom", dir);
	cr_assert_eq(textfile_write(pipeline_textfile(b.p), path), 0);
	prom = tu_read_file(path);
	cr_assert_not_null(prom);
	cr_expect(strstr(prom, "\ncpudrift_incident_confidence 1\n"), "%s", prom);
	cr_expect(strstr(prom, "\ncpudrift_incident_reasons 2\n"), "%s", prom);
	cr_expect(strstr(prom, "\ncpudrift_processes_at_risk 0\n"), "%s", prom);
	cr_expect(strstr(prom, "\ncpudrift_incident_start_time_seconds "), "%s", prom);
	cr_expect_null(strstr(prom, "clock_step/host"), "a reason in the textfile");
	cr_expect_null(strstr(prom, is.ids[0]), "the incident ID in a label");
	free(prom);
	stop(&b);
}
