// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Incidents: one per migration.  On hand-built events (what the tracker and the timing rules
 * give) and on the recordings: when one opens, what joins it and when it is issued again,
 * a second move, its casualties and survivors, how it closes, and that it survives a
 * restart through its stored form.
 */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "analysis/incident.h"
#include "core/log.h"
#include "formats/recording.h"

#define REC(name) CPUDRIFT_SRCDIR "/tests/fixtures/recordings/" name
#define S 1000000000LL

TestSuite(incidents);

static struct event *ev(enum event_kind k, enum severity sev, int64_t t_s, const char *subject)
{
	struct event *e = event__new(k, sev);

	e->monotonic_ns = t_s * S;
	e->realtime_ns = e->monotonic_ns + 1700000000 * S;
	snprintf(e->subject, sizeof(e->subject), "%s", subject);
	snprintf(e->boot_id, sizeof(e->boot_id), "0f6c2d4e-3b1a-4c55-9e2f-6a7b8c9d0e1f");
	if (k == EV_TIMING_STALL)
		json_object_object_add(e->body, "scope", json_object_new_string("vm"));
	return e;
}

static struct event *fault(int64_t t_s, int pid, const char *comm, bool fatal)
{
	struct event *e = ev(EV_FAULT_SIGILL, SEV_CRITICAL, t_s, comm);

	e->pid = pid;
	json_object_object_add(e->body, "class", json_object_new_string("feature-lost"));
	json_object_object_add(e->body, "comm", json_object_new_string(comm));
	json_object_object_add(e->body, "exe", json_object_new_string("/usr/bin/victim"));
	json_object_object_add(e->body, "feature", json_object_new_string("avx2"));
	json_object_object_add(e->body, "fatal", json_object_new_boolean(fatal));
	return e;
}

/* Feed @e (freed) with CPU state @state; the events it raised go to @out. */
static void feed(struct incidents *s, struct event *e, uint64_t state, struct evlist *out)
{
	cr_assert_eq(incidents_feed(s, e, state, out), 0);
	event__free(e);
}

static const char *str(const struct event *e, const char *k)
{
	struct json_object *v;

	cr_assert(json_object_object_get_ex(e->body, k, &v), "no \"%s\" in %s", k,
		  json_object_to_json_string(e->body));
	return json_object_get_string(v);
}

static int64_t num(const struct event *e, const char *k)
{
	struct json_object *v;

	cr_assert(json_object_object_get_ex(e->body, k, &v), "no \"%s\"", k);
	return json_object_get_int64(v);
}

static size_t len(const struct event *e, const char *k)
{
	struct json_object *v;

	cr_assert(json_object_object_get_ex(e->body, k, &v), "no \"%s\"", k);
	return json_object_array_length(v);
}

static bool has_reason(const struct event *e, const char *key)
{
	struct json_object *r, *k;

	json_object_object_get_ex(e->body, "reasons", &r);
	for (size_t i = 0; r && i < json_object_array_length(r); i++)
		if (json_object_object_get_ex(json_object_array_get_idx(r, i), "reason", &k) &&
		    !strcmp(json_object_get_string(k), key))
			return true;
	return false;
}

static const struct event *last(const struct evlist *l)
{
	cr_assert_gt(l->n, 0);
	return l->v[l->n - 1];
}

Test(incidents, opens_at_low_and_is_issued_again_with_every_reason)
{
	struct incidents *s = incidents__new(NULL);
	struct evlist out = { 0 };
	const struct event *e;
	char id[48];

	/* one VM-wide stall weighs 1: below low, nothing */
	feed(s, ev(EV_TIMING_STALL, SEV_NOTICE, 100, "vm"), 1, &out);
	cr_expect_eq(out.n, 0);
	/* the RTC step makes 3: low (timing alone) -> the first issue, with both reasons */
	feed(s, ev(EV_TIMING_CLOCK_STEP, SEV_WARNING, 101, "rtc0"), 1, &out);
	cr_assert_eq(out.n, 1);
	e = last(&out);
	cr_expect_eq(e->kind, EV_MIGRATION_SUSPECTED);
	cr_expect_str_eq(str(e, "confidence"), "low");
	cr_expect_eq(num(e, "issue"), 1);
	cr_expect(has_reason(e, "timing.stall/vm") && has_reason(e, "timing.clock_step/host"));
	cr_expect_str_eq(str(e, "incident_id"), "0f6c2d4e-101000");
	snprintf(id, sizeof(id), "%s", str(e, "incident_id"));

	/* the same reason again: counted, not issued */
	feed(s, ev(EV_TIMING_CLOCK_STEP, SEV_WARNING, 110, "rtc0"), 1, &out);
	cr_expect_eq(out.n, 1, "a repeated reason was issued");

	/* a fault 0.4 s before the drift, then the drift: each gains, each is issued */
	feed(s, fault(120, 4242, "victim", true), 1, &out);
	cr_assert_eq(out.n, 2);
	e = last(&out);
	cr_expect_str_eq(str(e, "incident_id"), id);
	cr_expect_str_eq(str(e, "confidence"), "high");
	cr_expect_eq(e->sev, SEV_CRITICAL);
	cr_expect_eq(num(e, "issue"), 2);
	cr_expect_str_eq(str(e, "previous_confidence"), "low");
	cr_expect_str_eq(str(e, "previous_severity"), "notice");
	feed(s, ev(EV_CPUID_DRIFT, SEV_CRITICAL, 120, "avx2"), 7, &out);
	cr_assert_eq(out.n, 3, "the drift after the verdict was high did not join");
	e = last(&out);
	cr_expect_str_eq(str(e, "incident_id"), id);
	cr_expect_eq(num(e, "issue"), 3);
	cr_expect_str_eq(str(e, "previous_confidence"), "high");
	cr_expect(has_reason(e, "cpuid.drift") && has_reason(e, "fault.sigill/migration") &&
			  has_reason(e, "timing.clock_step/host") &&
			  has_reason(e, "timing.stall/vm"),
		  "not every reason: %s", json_object_to_json_string(e->body));
	/* an RTC step seconds later (a host clock confirmed late) joins too */
	feed(s, ev(EV_TIMING_CLOCK_STEP, SEV_NOTICE, 126, "realtime"), 7, &out);
	cr_assert_eq(out.n, 4);
	cr_expect(has_reason(last(&out), "timing.clock_step/realtime"));
	cr_expect_eq(len(last(&out), "reasons"), 5);
	evlist_free(&out);
	incidents__free(s);
}

Test(incidents, a_move_to_yet_another_cpu_opens_the_next_incident)
{
	struct incidents *s = incidents__new(NULL);
	struct evlist out = { 0 };
	char first[48];

	feed(s, ev(EV_CPUID_DRIFT, SEV_CRITICAL, 100, "avx2"), 7, &out);
	cr_assert_eq(out.n, 1);
	snprintf(first, sizeof(first), "%s", str(last(&out), "incident_id"));
	/* the drift to the same state (seen by a later capture) is the same migration */
	feed(s, ev(EV_CPUID_DRIFT, SEV_CRITICAL, 110, "avx2"), 7, &out);
	cr_expect_eq(out.n, 1, "a repeat of the same drift was issued");
	/* a drift to another state, inside the window: the next migration */
	feed(s, ev(EV_CPUID_DRIFT, SEV_NOTICE, 150, "avx2"), 9, &out);
	cr_assert_eq(out.n, 2);
	cr_expect_str_neq(str(last(&out), "incident_id"), first);
	cr_expect_eq(num(last(&out), "issue"), 1);
	/* later evidence joins the newest */
	feed(s, ev(EV_TIMING_CLOCK_STEP, SEV_WARNING, 151, "rtc0"), 9, &out);
	cr_assert_eq(out.n, 3);
	cr_expect_str_neq(str(last(&out), "incident_id"), first);
	evlist_free(&out);
	incidents__free(s);
}

Test(incidents, casualties_and_survivors)
{
	struct incidents *s = incidents__new(NULL);
	struct evlist out = { 0 };
	struct json_object *c, *p;
	const struct event *e;

	feed(s, fault(100, 10, "jvm", false), 1, &out); /* handled: survived */
	feed(s, fault(101, 20, "victim", true), 1, &out); /* killed: casualty */
	feed(s, fault(102, 10, "jvm", false), 1, &out); /* again: nothing new */
	cr_expect_eq(out.n, 2);
	feed(s, fault(103, 10, "jvm", true), 1, &out); /* it died after all */
	cr_assert_eq(out.n, 3);
	e = last(&out);
	cr_expect_eq(len(e, "casualties"), 2);
	cr_expect_eq(len(e, "survived"), 0);
	json_object_object_get_ex(e->body, "casualties", &c);
	p = json_object_array_get_idx(c, 0);
	cr_expect_str_eq(json_object_get_string(json_object_object_get(p, "comm")), "victim");
	cr_expect_str_eq(json_object_get_string(json_object_object_get(p, "exe")),
			 "/usr/bin/victim");
	cr_expect_str_eq(json_object_get_string(json_object_object_get(p, "feature")), "avx2");
	cr_expect_eq(json_object_get_int64(json_object_object_get(p, "realtime_ns")),
		     (1700000000 + 101) * S);
	/* faults of other classes weigh nothing and name no one */
	{
		struct event *x = fault(104, 30, "buggy", true);

		json_object_object_add(x->body, "class",
				       json_object_new_string("not-feature-related"));
		feed(s, x, 1, &out);
	}
	cr_expect_eq(out.n, 3);
	evlist_free(&out);
	incidents__free(s);
}

Test(incidents, closes_when_quiet_or_when_nothing_is_at_risk)
{
	struct incident_opts o;
	struct incidents *s;
	struct evlist out = { 0 };
	const struct event *e;
	char id[48];

	incident_opts_default(&o);
	cr_expect_eq(o.quiet_ns, 1800 * S);
	s = incidents__new(&o);
	/* a loss: open until counted */
	feed(s, fault(100, 20, "victim", true), 1, &out);
	snprintf(id, sizeof(id), "%s", str(last(&out), "incident_id"));
	cr_assert_eq(incidents_flush(s, INT64_MAX, &out), 0);
	cr_expect_eq(out.n, 1, "the end of a recording closed an incident");
	cr_assert_eq(incidents_flush(s, 1000 * S, &out), 0);
	cr_expect_eq(out.n, 1, "closed with its processes not counted");
	/* counted while still pending: stays open */
	cr_assert_eq(incidents_at_risk(s, id, 0, 200 * S, &out), 0);
	cr_expect_eq(out.n, 1);
	cr_assert_eq(incidents_at_risk(s, id, 3, 500 * S, &out), 0);
	cr_expect_eq(out.n, 1);
	/* the operator restarted them */
	cr_assert_eq(incidents_at_risk(s, id, 0, 560 * S, &out), 0);
	cr_assert_eq(out.n, 2);
	e = last(&out);
	cr_expect_eq(e->kind, EV_MIGRATION_RESOLVED);
	cr_expect_str_eq(str(e, "incident_id"), id);
	cr_expect_str_eq(str(e, "why"), "nothing at risk");
	cr_expect_eq(len(e, "casualties"), 1);
	cr_expect_eq(e->monotonic_ns, 560 * S);
	cr_expect_eq(incidents_at_risk(s, "nope", 0, 600 * S, &out), -ENOENT);

	/* another loss nobody counts: closed after 30 min of quiet, stamped then */
	feed(s, fault(3000, 21, "victim2", true), 1, &out);
	cr_assert_eq(incidents_flush(s, 3000 * S + 1799 * S, &out), 0);
	cr_expect_eq(last(&out)->kind, EV_MIGRATION_SUSPECTED);
	cr_assert_eq(incidents_flush(s, 9000 * S, &out), 0);
	e = last(&out);
	cr_expect_eq(e->kind, EV_MIGRATION_RESOLVED);
	cr_expect_str_eq(str(e, "why"), "quiet");
	cr_expect_eq(e->monotonic_ns, 4800 * S);

	/* a pause without loss puts nothing at risk: closed once the window has passed */
	feed(s, ev(EV_TIMING_CLOCK_STEP, SEV_WARNING, 10000, "rtc0"), 1, &out);
	cr_expect_eq(last(&out)->kind, EV_MIGRATION_SUSPECTED);
	cr_assert_eq(incidents_flush(s, 10299 * S, &out), 0);
	cr_expect_eq(last(&out)->kind, EV_MIGRATION_SUSPECTED);
	cr_assert_eq(incidents_flush(s, 10301 * S, &out), 0);
	cr_expect_eq(last(&out)->kind, EV_MIGRATION_RESOLVED);
	cr_expect_null(incidents_newest_open(s));
	evlist_free(&out);
	incidents__free(s);
}

Test(incidents, survives_a_restart_and_a_reboot_closes_it)
{
	struct incident_opts o;
	struct incidents *a, *b;
	struct evlist out = { 0 };
	const struct incident *inc;
	struct json_object *j;
	char id[48];

	incident_opts_default(&o);
	a = incidents__new(&o);
	feed(a, fault(100, 20, "victim", true), 7, &out);
	feed(a, ev(EV_CPUID_DRIFT, SEV_CRITICAL, 101, "avx2"), 7, &out);
	inc = incidents_newest_open(a);
	cr_assert_not_null(inc);
	snprintf(id, sizeof(id), "%s", inc->id);
	/* through text, as the store keeps it */
	j = incident_to_json(inc, &o);
	cr_assert_not_null(j);
	{
		struct json_object *text = json_tokener_parse(json_object_to_json_string(j));

		json_object_put(j);
		j = text;
	}
	cr_assert_not_null(j);
	incidents__free(a);
	evlist_free(&out);

	b = incidents__new(&o);
	cr_assert_eq(incidents_restore(b, j, "0f6c2d4e-3b1a-4c55-9e2f-6a7b8c9d0e1f", &out), 0);
	cr_expect_eq(out.n, 0);
	inc = incidents_newest_open(b);
	cr_assert_not_null(inc);
	cr_expect_str_eq(inc->id, id);
	cr_expect_eq(inc->issues, 2);
	/* evidence after the restart joins it: its third issue, every reason */
	feed(b, ev(EV_TIMING_CLOCK_STEP, SEV_WARNING, 105, "rtc0"), 7, &out);
	cr_assert_eq(out.n, 1);
	cr_expect_str_eq(str(last(&out), "incident_id"), id);
	cr_expect_eq(num(last(&out), "issue"), 3);
	cr_expect_eq(len(last(&out), "reasons"), 3);
	cr_expect_eq(len(last(&out), "casualties"), 1);
	/* the same drift state does not make a second incident */
	feed(b, ev(EV_CPUID_DRIFT, SEV_CRITICAL, 106, "avx2"), 7, &out);
	cr_expect_eq(out.n, 1);
	incidents__free(b);
	evlist_free(&out);

	/* restored in another boot: closed at once */
	b = incidents__new(&o);
	cr_assert_eq(incidents_restore(b, j, "11111111-2222-3333-4444-555555555555", &out), 0);
	cr_assert_eq(out.n, 1);
	cr_expect_eq(out.v[0]->kind, EV_MIGRATION_RESOLVED);
	cr_expect_str_eq(str(out.v[0], "why"), "reboot");
	cr_expect_null(incidents_newest_open(b));
	/* garbage is refused, not taken */
	{
		struct json_object *empty = json_object_new_object();

		cr_expect_eq(incidents_restore(b, empty, "x", &out), -EINVAL);
		json_object_put(empty);
	}
	incidents__free(b);
	evlist_free(&out);
	json_object_put(j);
}

/* --- recordings ---------------------------------------------------------------------------- */

static int keep(void *ctx, const struct event *e)
{
	struct json_object *j = event_to_json(e);

	evlist_push(ctx, event_from_json(j));
	json_object_put(j);
	return 0;
}

static void replay(const char *path, struct evlist *out)
{
	struct errbuf err = { { 0 } };

	cr_assert_eq(recording_replay(path, NULL, keep, out, NULL, &err), 0, "%s", err.msg);
}

Test(incidents, a_feature_loss_recording_is_one_incident_with_its_casualty)
{
	struct evlist l = { 0 };
	const struct event *e = NULL;
	const char *id = NULL;
	int issues = 0;

	replay(REC("feature_drift.jsonl"), &l);
	for (size_t i = 0; i < l.n; i++) {
		if (l.v[i]->kind != EV_MIGRATION_SUSPECTED)
			continue;
		e = l.v[i];
		if (!id)
			id = str(e, "incident_id");
		cr_expect_str_eq(str(e, "incident_id"), id, "a second incident");
		issues++;
	}
	cr_assert_not_null(e);
	/* the drift (medium), the first fault (high), the fatal one (a casualty); the other
	 * eighteen faults repeat a reason */
	cr_expect_eq(issues, 3);
	cr_expect(has_reason(e, "cpuid.drift") && has_reason(e, "fault.sigill/migration"));
	cr_expect_eq(len(e, "casualties"), 1);
	evlist_free(&l);
}

Test(incidents, noise_opens_no_incident)
{
	static const char *const recs[] = { "noise.jsonl", "rtc_noise.jsonl", "stall_vm.jsonl",
					    "clock_step.jsonl" };

	for (size_t r = 0; r < sizeof(recs) / sizeof(recs[0]); r++) {
		struct evlist l = { 0 };
		char path[512];

		snprintf(path, sizeof(path), "%s", REC(""));
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "%s", recs[r]);
		replay(path, &l);
		for (size_t i = 0; i < l.n; i++)
			cr_expect(l.v[i]->kind != EV_MIGRATION_SUSPECTED &&
					  l.v[i]->kind != EV_MIGRATION_RESOLVED,
				  "%s: %s", recs[r], l.v[i]->summary);
		evlist_free(&l);
	}
}
