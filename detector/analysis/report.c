// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analysis/diff.h"
#include "analysis/report.h"
#include "analysis/reportgroup.h"
#include "analysis/reportincident.h"
#include "analysis/timeline.h"
#include "core/features.h"

struct report {
	struct report_window w;
	char incident[64];
	int64_t by_kind[EV__COUNT][SEV_CRITICAL + 1];
	int64_t total;

	/* the change */
	struct json_object *change_ev; /* the chosen drift event's JSON */
	int change_rank; /* boot drift 0, drift 1; then severity */
	struct json_object *changes; /* every drift, boot drift, shadow drift, probe mismatch */
	int64_t nchanges;
	struct json_object *change; /* report_set_change's result */

	/* verdicts */
	struct json_object *verdicts;
	int64_t nverdicts;
	struct json_object *at_risk; /* the newest at_risk list (verdict or drift) */
	int64_t at_risk_time;

	/* faults */
	struct json_object *faults, *fault_classes, *fault_features;
	int64_t nfaults;
	struct json_object *casualties, *survived;
	int64_t ncasualties, nsurvived;
	/* what the lists hold, for lookups without JSON */
	struct {
		int pid;
		char ip[24];
		struct json_object *o;
	} sites[REPORT_MAX_FAULTS];
	size_t nsites;
	int cas_pids[REPORT_MAX_PROCS], surv_pids[REPORT_MAX_PROCS];

	/* timing evidence */
	struct json_object *timing;
	int64_t ntiming;

	/* the selected incident, its issues; or the incidents open, when none is selected */
	struct json_object *stored, *history, *open;
	int64_t nhistory, nopen;

	struct timeline *tl;
};

int report__new(const struct report_window *w, struct report **out)
{
	struct report *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return -ENOMEM;
	r->w = *w;
	if (w->incident)
		snprintf(r->incident, sizeof(r->incident), "%s", w->incident);
	r->w.incident = r->incident[0] ? r->incident : NULL;
	r->changes = json_object_new_array();
	r->verdicts = json_object_new_array();
	r->faults = json_object_new_array();
	r->fault_classes = json_object_new_object();
	r->fault_features = json_object_new_object();
	r->casualties = json_object_new_array();
	r->survived = json_object_new_array();
	r->timing = json_object_new_array();
	r->history = json_object_new_array();
	r->open = json_object_new_array();
	r->tl = timeline__new(w->since_ns, w->until_ns);
	if (!r->changes || !r->verdicts || !r->faults || !r->fault_classes || !r->fault_features ||
	    !r->casualties || !r->survived || !r->timing || !r->history || !r->open || !r->tl) {
		report__free(r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

void report__free(struct report *r)
{
	if (!r)
		return;
	json_object_put(r->change_ev);
	json_object_put(r->changes);
	json_object_put(r->change);
	json_object_put(r->verdicts);
	json_object_put(r->at_risk);
	json_object_put(r->faults);
	json_object_put(r->fault_classes);
	json_object_put(r->fault_features);
	json_object_put(r->casualties);
	json_object_put(r->survived);
	json_object_put(r->timing);
	json_object_put(r->stored);
	json_object_put(r->history);
	json_object_put(r->open);
	timeline__free(r->tl);
	free(r);
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v = get(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

static void copy_key(struct json_object *dst, struct json_object *src, const char *key)
{
	struct json_object *v = get(src, key);

	if (v)
		json_object_object_add(dst, key, json_object_get(v));
}

static void count_key(struct json_object *map, const char *key)
{
	struct json_object *v = get(map, key);

	if (v)
		json_object_set_int64(v, json_object_get_int64(v) + 1);
	else
		json_object_object_add(map, key, json_object_new_int64(1));
}

/* An event in the short form lists keep: time, kind, severity, subject, summary. */
static struct json_object *brief(const struct event *e)
{
	struct json_object *o = event_to_json(e), *b;

	if (!o)
		return NULL;
	json_object_object_del(o, "body");
	json_object_object_del(o, "monotonic_ns");
	json_object_object_del(o, "boot_id");
	b = json_object_new_object();
	json_object_object_foreach(o, k, v) json_object_object_add(b, k, json_object_get(v));
	json_object_put(o);
	return b;
}

static bool has_room(struct json_object *arr, size_t max)
{
	return json_object_array_length(arr) < max;
}

static void push_bounded(struct json_object *arr, int64_t *n, size_t max, struct json_object *o)
{
	(*n)++;
	if (o && json_object_array_length(arr) < max)
		json_object_array_add(arr, o);
	else
		json_object_put(o);
}

static void add_change(struct report *r, const struct event *e)
{
	struct json_object *b = has_room(r->changes, REPORT_MAX_LIST) ? brief(e) : NULL;
	int rank = (e->kind == EV_CPUID_DRIFT) * 10 + (int)e->sev;

	if (b) {
		copy_key(b, e->body, "removed");
		copy_key(b, e->body, "added");
		copy_key(b, e->body, "level_before");
		copy_key(b, e->body, "level_after");
		copy_key(b, e->body, "features");
	}
	push_bounded(r->changes, &r->nchanges, REPORT_MAX_LIST, b);
	if (e->kind != EV_CPUID_DRIFT && e->kind != EV_CPUID_BOOT_DRIFT)
		return;
	/* The most severe drift within the boot explains the incident; the first one wins ties. */
	if (!r->change_ev || rank > r->change_rank) {
		json_object_put(r->change_ev);
		r->change_ev = event_to_json(e);
		r->change_rank = rank;
	}
}

static void add_verdict(struct report *r, const struct event *e)
{
	struct json_object *b = has_room(r->verdicts, REPORT_MAX_LIST) ? brief(e) : NULL;

	if (b) {
		copy_key(b, e->body, "confidence");
		copy_key(b, e->body, "score");
		copy_key(b, e->body, "reasons");
		copy_key(b, e->body, "change_real_ns");
	}
	push_bounded(r->verdicts, &r->nverdicts, REPORT_MAX_LIST, b);
}

/* The newest list of processes at risk wins: it was taken closest to now. */
static void take_at_risk(struct report *r, const struct event *e)
{
	struct json_object *a = get(e->body, "at_risk");

	if (!a || !json_object_is_type(a, json_type_object) || e->realtime_ns < r->at_risk_time)
		return;
	json_object_put(r->at_risk);
	r->at_risk = json_object_get(a);
	r->at_risk_time = e->realtime_ns;
}

static struct json_object *fault_brief(const struct event *e)
{
	static const char *const keys[] = { "pid",     "comm",	  "exe",      "cgroup",	  "signal",
					    "ip",      "bytes",	  "text",     "mnemonic", "isa_set",
					    "decoder", "feature", "features", "missing",  "class",
					    "reason",  "fatal",	  "count",    "cpu",	  "origin",
					    "mapping" };
	struct json_object *o = json_object_new_object();
	char tbuf[320];

	if (!o)
		return NULL;
	report_time_iso(e->realtime_ns, tbuf, sizeof(tbuf));
	json_object_object_add(o, "time", json_object_new_string(tbuf));
	json_object_object_add(o, "realtime_ns", json_object_new_int64(e->realtime_ns));
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		copy_key(o, e->body, keys[i]);
	json_object_object_add(o, "occurrences", json_object_new_int64(1));
	reportgroup_name(get_str(e->body, "cgroup"), tbuf, sizeof(tbuf));
	json_object_object_add(o, "unit", json_object_new_string(tbuf));
	return o;
}

static bool pid_in(const int *v, size_t n, int pid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == pid)
			return true;
	return false;
}

static void add_fault(struct report *r, const struct event *e)
{
	struct json_object *fatal = get(e->body, "fatal"), *procs;
	const char *cls = get_str(e->body, "class"), *feat = get_str(e->body, "feature");
	const char *ip = get_str(e->body, "ip");
	int64_t *n;
	int *pids, pid = e->pid;
	char tbuf[40];
	size_t have;

	count_key(r->fault_classes, *cls ? cls : "unknown");
	if (*feat)
		count_key(r->fault_features, feat);
	r->nfaults++;
	/* One entry a fault site (process, address): a storm is one line with its count. */
	for (size_t i = 0; i < r->nsites; i++) {
		struct json_object *c;

		if (r->sites[i].pid != pid || strcmp(r->sites[i].ip, ip))
			continue;
		c = get(r->sites[i].o, "occurrences");
		json_object_set_int64(c, json_object_get_int64(c) + 1);
		report_time_iso(e->realtime_ns, tbuf, sizeof(tbuf));
		json_object_object_add(r->sites[i].o, "last_time", json_object_new_string(tbuf));
		goto procs;
	}
	if (r->nsites < REPORT_MAX_FAULTS) {
		struct json_object *o = fault_brief(e);

		if (o) {
			r->sites[r->nsites].pid = pid;
			snprintf(r->sites[r->nsites].ip, sizeof(r->sites[0].ip), "%s", ip);
			r->sites[r->nsites++].o = o;
			json_object_array_add(r->faults, o);
		}
	}
procs:
	/* A process is a casualty once, at its first fatal fault; else a survivor once. */
	if (fatal && json_object_get_boolean(fatal)) {
		procs = r->casualties;
		n = &r->ncasualties;
		pids = r->cas_pids;
	} else {
		procs = r->survived;
		n = &r->nsurvived;
		pids = r->surv_pids;
	}
	have = json_object_array_length(procs);
	if (pid_in(pids, have, pid))
		return;
	(*n)++;
	if (have < REPORT_MAX_PROCS) {
		pids[have] = pid;
		json_object_array_add(procs, fault_brief(e));
	}
}

/* An issue or resolution of an incident other than the selected one. */
static bool other_incident(const struct report *r, const struct event *e)
{
	if (!r->w.incident ||
	    (e->kind != EV_MIGRATION_SUSPECTED && e->kind != EV_MIGRATION_RESOLVED))
		return false;
	return strcmp(get_str(e->body, "incident_id"), r->w.incident) != 0;
}

int report_add_event(struct report *r, const struct event *e)
{
	if ((unsigned)e->kind >= EV__COUNT || (unsigned)e->sev > SEV_CRITICAL ||
	    other_incident(r, e))
		return 0;
	r->total++;
	r->by_kind[e->kind][e->sev]++;
	timeline_add_event(r->tl, e);
	switch (e->kind) {
	case EV_CPUID_DRIFT:
	case EV_CPUID_BOOT_DRIFT:
	case EV_PROBE_SHADOW_DRIFT:
	case EV_PROBE_MISMATCH:
	case EV_CPUID_VCPU_MISMATCH:
		add_change(r, e);
		take_at_risk(r, e);
		break;
	case EV_MIGRATION_SUSPECTED:
		add_verdict(r, e);
		take_at_risk(r, e);
		break;
	case EV_FAULT_SIGILL:
		add_fault(r, e);
		break;
	default: {
		struct json_object *b = has_room(r->timing, REPORT_MAX_LIST) ? brief(e) : NULL;

		if (b) {
			copy_key(b, e->body, "scope");
			copy_key(b, e->body, "max_lateness_ns");
			copy_key(b, e->body, "cpus");
		}
		push_bounded(r->timing, &r->ntiming, REPORT_MAX_LIST, b);
		break;
	}
	}
	return 0;
}

bool report_change_time(const struct report *r, int64_t *at_ns)
{
	struct json_object *t = get(r->change_ev, "realtime_ns");

	if (!t)
		return false;
	*at_ns = json_object_get_int64(t);
	return true;
}

void report_add_snapshot(struct report *r, int64_t realtime_ns, int64_t id, int level,
			 int nfeatures)
{
	timeline_add_snapshot(r->tl, realtime_ns, id, level, nfeatures);
}

void report_add_probe_run(struct report *r, int64_t realtime_ns, struct json_object *run)
{
	struct json_object *m = get(run, "mismatch"), *s = get(run, "shadow");

	timeline_add_probe_run(r->tl, realtime_ns, m ? (int)json_object_array_length(m) : 0,
			       s ? (int)json_object_array_length(s) : 0);
}

void report_add_observation(struct report *r, const struct observation *o)
{
	timeline_add_observation(r->tl, o);
}

void report_set_incident(struct report *r, struct json_object *stored)
{
	json_object_put(r->stored);
	r->stored = json_object_get(stored);
}

int report_add_incident_event(struct report *r, const struct event *e)
{
	if ((unsigned)e->kind >= EV__COUNT || (unsigned)e->sev > SEV_CRITICAL)
		return 0;
	push_bounded(r->history, &r->nhistory, REPORT_MAX_LIST,
		     has_room(r->history, REPORT_MAX_LIST) ? reportincident_issue(e) : NULL);
	return 0;
}

void report_add_open_incident(struct report *r, struct json_object *stored)
{
	push_bounded(r->open, &r->nopen, REPORT_MAX_LIST,
		     has_room(r->open, REPORT_MAX_LIST) ? reportincident_brief(stored) : NULL);
}

void report_time_iso(int64_t ns, char *buf, size_t size)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;
	char s[32];

	if (!gmtime_r(&t, &tm)) {
		snprintf(buf, size, "?");
		return;
	}
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03dZ", s, (int)((ns % 1000000000) / 1000000));
}

static struct json_object *snap_side(const struct snapshot *s)
{
	struct json_object *o = json_object_new_object();
	char buf[40];

	report_time_iso(s->realtime_ns, buf, sizeof(buf));
	json_object_object_add(o, "time", json_object_new_string(buf));
	json_object_object_add(o, "realtime_ns", json_object_new_int64(s->realtime_ns));
	json_object_object_add(o, "boot_id", json_object_new_string(s->boot_id));
	json_object_object_add(o, "vendor", json_object_new_string(s->id.vendor));
	json_object_object_add(o, "brand", json_object_new_string(s->id.brand));
	snprintf(buf, sizeof(buf), "family 0x%x, model 0x%x, stepping %u", s->id.family,
		 s->id.model, s->id.stepping);
	json_object_object_add(o, "cpu", json_object_new_string(buf));
	snprintf(buf, sizeof(buf), "0x%08x", s->id.signature);
	json_object_object_add(o, "signature", json_object_new_string(buf));
	if (s->has_microcode) {
		snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)s->microcode);
		json_object_object_add(o, "microcode", json_object_new_string(buf));
	}
	json_object_object_add(o, "hypervisor", json_object_new_string(s->hypervisor));
	if (s->has_xcr0) {
		snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)s->xcr0);
		json_object_object_add(o, "xcr0", json_object_new_string(buf));
	}
	json_object_object_add(o, "x86_64_level", json_object_new_int(s->level));
	json_object_object_add(o, "features", json_object_new_int(featset_count(&s->features)));
	json_object_object_add(o, "vcpus", json_object_new_int(s->nvcpus));
	return o;
}

int report_set_change(struct report *r, const struct snapshot *before, const struct snapshot *after)
{
	struct json_object *c = json_object_new_object(), *ev = r->change_ev, *d;
	struct featset removed, added;
	struct diff df = { 0 };
	int64_t leaves = 0;

	if (!c)
		return -ENOMEM;
	if (ev) {
		struct json_object *b = json_object_new_object();

		copy_key(b, ev, "time");
		copy_key(b, ev, "kind");
		copy_key(b, ev, "severity");
		copy_key(b, ev, "summary");
		json_object_object_add(c, "event", b);
	}
	if (before && after && !diff_snapshots(before, after, &df)) {
		json_object_object_add(c, "source", json_object_new_string("snapshots"));
		json_object_object_add(c, "before", snap_side(before));
		json_object_object_add(c, "after", snap_side(after));
		featset_minus(&removed, &before->features, &after->features);
		featset_minus(&added, &after->features, &before->features);
		json_object_object_add(c, "removed", featset_to_json(&removed));
		json_object_object_add(c, "added", featset_to_json(&added));
		json_object_object_add(c, "level_before", json_object_new_int(before->level));
		json_object_object_add(c, "level_after", json_object_new_int(after->level));
		/* Raw leaf bits are counted, not listed: the named changes say what matters. */
		d = json_object_new_array();
		for (size_t i = 0; i < df.n; i++) {
			const struct change *ch = &df.v[i];
			struct json_object *o;

			if (ch->kind == CHANGE_LEAF || ch->kind == CHANGE_FEATURE_ADDED ||
			    ch->kind == CHANGE_FEATURE_REMOVED) {
				leaves += ch->kind == CHANGE_LEAF;
				continue;
			}
			o = json_object_new_object();
			json_object_object_add(o, "kind",
					       json_object_new_string(change_kind_name(ch->kind)));
			json_object_object_add(o, "severity",
					       json_object_new_string(severity_name(ch->sev)));
			json_object_object_add(o, "field", json_object_new_string(ch->field));
			json_object_object_add(o, "before", json_object_new_string(ch->before));
			json_object_object_add(o, "after", json_object_new_string(ch->after));
			json_object_array_add(d, o);
		}
		json_object_object_add(c, "changes", d);
		json_object_object_add(c, "leaf_bits_changed", json_object_new_int64(leaves));
		json_object_object_add(c, "full_diff", diff_to_json(&df));
		diff_free(&df);
	} else if (ev) {
		struct json_object *body = get(ev, "body");

		/* No stored snapshots on both sides: the drift event says what it saw. */
		json_object_object_add(c, "source", json_object_new_string("event"));
		copy_key(c, body, "removed");
		copy_key(c, body, "added");
		copy_key(c, body, "level_before");
		copy_key(c, body, "level_after");
		copy_key(c, body, "diff");
	} else {
		json_object_put(c);
		return 0;
	}
	json_object_put(r->change);
	r->change = c;
	return 0;
}

static struct json_object *events_json(const struct report *r, bool *critical)
{
	struct json_object *o = json_object_new_object(), *kinds = json_object_new_object();
	int64_t crit = 0;

	for (int k = 0; k < EV__COUNT; k++) {
		struct json_object *sev = NULL;

		for (int s = 0; s <= SEV_CRITICAL; s++) {
			if (!r->by_kind[k][s])
				continue;
			if (!sev)
				sev = json_object_new_object();
			json_object_object_add(sev, severity_name(s),
					       json_object_new_int64(r->by_kind[k][s]));
		}
		crit += r->by_kind[k][SEV_CRITICAL];
		if (sev)
			json_object_object_add(kinds, event_kind_names[k], sev);
	}
	json_object_object_add(o, "total", json_object_new_int64(r->total));
	json_object_object_add(o, "critical", json_object_new_int64(crit));
	json_object_object_add(o, "by_kind", kinds);
	*critical = crit > 0;
	return o;
}

static struct json_object *listed(struct json_object *arr, int64_t total)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "total", json_object_new_int64(total));
	json_object_object_add(o, "list", json_object_get(arr));
	return o;
}

struct json_object *report_to_json(struct report *r, report_alive_fn alive, void *ctx)
{
	struct json_object *o = json_object_new_object(), *v, *faults, *risk, *cas;
	int64_t nalive = 0;
	bool critical;
	char buf[40];

	if (!o)
		return NULL;
	json_object_object_add(o, "format", json_object_new_string("cpudrift-report"));
	json_object_object_add(o, "version", json_object_new_int(REPORT_FORMAT_VERSION));
	v = json_object_new_object();
	report_time_iso(r->w.since_ns, buf, sizeof(buf));
	json_object_object_add(v, "since", json_object_new_string(buf));
	report_time_iso(r->w.until_ns, buf, sizeof(buf));
	json_object_object_add(v, "until", json_object_new_string(buf));
	json_object_object_add(v, "since_ns", json_object_new_int64(r->w.since_ns));
	json_object_object_add(v, "until_ns", json_object_new_int64(r->w.until_ns));
	json_object_object_add(v, "incident",
			       r->w.incident ? json_object_new_string(r->w.incident) : NULL);
	json_object_object_add(o, "window", v);
	{
		struct json_object *procs[] = { r->faults, r->casualties, r->survived };

		json_object_object_add(
			o, "incident",
			reportincident_section(r->stored, r->history, r->nhistory, procs, 3));
	}
	json_object_object_add(o, "open_incidents", listed(r->open, r->nopen));

	/* The strongest verdict: the last of the highest confidence (verdicts only rise). */
	v = NULL;
	for (size_t i = 0; i < json_object_array_length(r->verdicts); i++)
		v = json_object_array_get_idx(r->verdicts, i);
	json_object_object_add(o, "verdict", json_object_get(v));
	json_object_object_add(o, "verdicts", listed(r->verdicts, r->nverdicts));
	json_object_object_add(o, "change", json_object_get(r->change));
	json_object_object_add(o, "changes", listed(r->changes, r->nchanges));

	faults = listed(r->faults, r->nfaults);
	json_object_object_add(faults, "by_class", json_object_get(r->fault_classes));
	json_object_object_add(faults, "by_feature", json_object_get(r->fault_features));
	json_object_object_add(o, "faults", faults);
	json_object_object_add(o, "timing", listed(r->timing, r->ntiming));

	risk = reportgroup_at_risk(r->at_risk, alive, ctx, &nalive);
	json_object_object_add(o, "at_risk", risk);
	cas = reportgroup_processes(r->casualties, r->ncasualties);
	json_object_object_add(o, "casualties", cas);
	/* A process that survived some faults and died of a later one is a casualty. */
	for (size_t i = json_object_array_length(r->survived); i-- > 0;) {
		int pid =
			json_object_get_int(get(json_object_array_get_idx(r->survived, i), "pid"));

		for (size_t j = 0; j < json_object_array_length(r->casualties); j++)
			if (json_object_get_int(get(json_object_array_get_idx(r->casualties, j),
						    "pid")) == pid) {
				json_object_array_del_idx(r->survived, i, 1);
				r->nsurvived--;
				break;
			}
	}
	json_object_object_add(o, "survived", reportgroup_processes(r->survived, r->nsurvived));
	json_object_object_add(o, "remedy", reportgroup_remedy(risk, cas));

	json_object_object_add(o, "events", events_json(r, &critical));
	json_object_object_add(o, "timeline", timeline_to_json(r->tl));
	v = json_object_new_object();
	json_object_object_add(v, "critical_events", json_object_new_boolean(critical));
	json_object_object_add(v, "at_risk_alive", json_object_new_int64(nalive));
	json_object_object_add(v, "status", json_object_new_int(critical || nalive ? 1 : 0));
	json_object_object_add(o, "exit", v);
	return o;
}
