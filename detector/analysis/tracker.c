// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/classify.h"
#include "analysis/diff.h"
#include "analysis/faultevent.h"
#include "analysis/tracker.h"

struct tracker {
	struct snapshot *baseline;
	struct snapshot *current;
	uint64_t digest; /* of current */
	/* the features before the last change within this boot, and when it was seen */
	struct featset prev_features;
	int64_t change_mono_ns;
	bool have_probes;
	struct probe_summary probes;
	bool have_probe_code;
	struct code_range probe_code;
};

struct tracker *tracker__new(void)
{
	return calloc(1, sizeof(struct tracker));
}

void tracker__free(struct tracker *t)
{
	if (!t)
		return;
	snapshot__free(t->baseline);
	snapshot__free(t->current);
	free(t);
}

void tracker_set_baseline(struct tracker *t, struct snapshot *b)
{
	snapshot__free(t->baseline);
	t->baseline = b;
}

const struct snapshot *tracker_baseline(const struct tracker *t)
{
	return t->baseline;
}

const struct snapshot *tracker_current(const struct tracker *t)
{
	return t->current;
}

/* A new event stamped with the time of the snapshot, probe run or fault that raised it. */
static struct event *stamped(enum event_kind kind, enum severity sev, int64_t mono, int64_t real)
{
	struct event *e = event__new(kind, sev);

	if (e && mono) {
		e->monotonic_ns = mono;
		e->realtime_ns = real;
	}
	return e;
}

/*
 * One event for one comparison: cpuid.drift (in boot) or cpuid.boot_drift.  The severity
 * is the worst change; the subject the first removed feature, else the first change.
 */
static int drift_event(enum event_kind kind, const struct snapshot *a, const struct snapshot *b,
		       const struct diff *df, struct evlist *out)
{
	struct featset removed, added;
	const char *n[FEAT__COUNT];
	enum severity sev = SEV_INFO;
	size_t relevant = 0;
	struct event *e;
	int nrem, nadd;

	/* vCPU disagreement and the shadow set have events of their own. */
	for (size_t i = 0; i < df->n; i++) {
		if (df->v[i].kind == CHANGE_VCPU_MISMATCH || df->v[i].kind == CHANGE_SHADOW)
			continue;
		relevant++;
		if (df->v[i].sev > sev)
			sev = df->v[i].sev;
	}
	if (!relevant)
		return 0;
	featset_minus(&removed, &a->features, &b->features);
	featset_minus(&added, &b->features, &a->features);
	e = stamped(kind, sev, b->monotonic_ns, b->realtime_ns);
	if (!e)
		return -ENOMEM;
	nrem = featset_names(&removed, n);
	snprintf(e->subject, sizeof(e->subject), "%s", nrem ? n[0] : df->v[0].field);
	if (nrem)
		json_object_object_add(e->body, "feature", json_object_new_string(n[0]));
	nadd = featset_count(&added);
	snprintf(e->summary, sizeof(e->summary),
		 "CPUID changed%s: %d feature%s removed, %d added, %zu change%s, level v%d -> v%d",
		 kind == EV_CPUID_BOOT_DRIFT ? " since the last boot" : "", nrem,
		 nrem == 1 ? "" : "s", nadd, df->n, df->n == 1 ? "" : "s", a->level, b->level);
	json_object_object_add(e->body, "removed", featset_to_json(&removed));
	json_object_object_add(e->body, "added", featset_to_json(&added));
	json_object_object_add(e->body, "level_before", json_object_new_int(a->level));
	json_object_object_add(e->body, "level_after", json_object_new_int(b->level));
	json_object_object_add(e->body, "diff", diff_to_json(df));
	return evlist_push(out, e);
}

static int compare(enum event_kind kind, const struct snapshot *a, const struct snapshot *b,
		   struct evlist *out)
{
	struct diff df = { 0 };
	int ret = diff_snapshots(a, b, &df);

	if (!ret)
		ret = drift_event(kind, a, b, &df, out);
	diff_free(&df);
	return ret;
}

static int vcpu_mismatch(const struct snapshot *s, struct evlist *out)
{
	struct diff vd = { 0 };
	struct event *e;
	int ret = diff_vcpus(s, &vd);

	if (ret || !vd.n)
		goto out;
	e = stamped(EV_CPUID_VCPU_MISMATCH, diff_max_severity(&vd), s->monotonic_ns,
		    s->realtime_ns);
	if (!e) {
		ret = -ENOMEM;
		goto out;
	}
	snprintf(e->subject, sizeof(e->subject), "vcpu%d", vd.v[0].vcpu);
	snprintf(e->summary, sizeof(e->summary),
		 "vCPUs disagree: %zu difference%s, first vCPU %d %s", vd.n, vd.n == 1 ? "" : "s",
		 vd.v[0].vcpu, vd.v[0].field);
	json_object_object_add(e->body, "diff", diff_to_json(&vd));
	ret = evlist_push(out, e);
out:
	diff_free(&vd);
	return ret;
}

static void adopt(struct tracker *t, struct snapshot *s)
{
	if (t->current && !featset_equal(&t->current->features, &s->features)) {
		t->prev_features = t->current->features;
		t->change_mono_ns = s->monotonic_ns;
	}
	snapshot__free(t->current);
	t->current = s;
	t->digest = snapshot_digest(s);
}

void tracker_prime(struct tracker *t, struct snapshot *s)
{
	adopt(t, s);
}

int tracker_snapshot(struct tracker *t, struct snapshot *s, struct evlist *out)
{
	int ret = 0;

	/* The first snapshot ever is the baseline until someone accepts another. */
	if (!t->baseline && !(t->baseline = snapshot_dup(s))) {
		snapshot__free(s);
		return -ENOMEM;
	}
	if (t->current)
		ret = compare(EV_CPUID_DRIFT, t->current, s, out);
	/* vCPUs are compared when there is something new to compare. */
	if (!ret && (!t->current || snapshot_digest(s) != t->digest))
		ret = vcpu_mismatch(s, out);
	adopt(t, s);
	return ret;
}

int tracker_boot_drift(const struct snapshot *prev, const struct snapshot *now, struct evlist *out)
{
	return compare(EV_CPUID_BOOT_DRIFT, prev, now, out);
}

int tracker_probes(struct tracker *t, const struct probe_summary *p, struct evlist *out)
{
	struct featset came, gone;
	const char *n[FEAT__COUNT];
	struct event *e;
	int k, ret = 0;

	featset_minus(&came, &p->mismatch,
		      t->have_probes ? &t->probes.mismatch : &(struct featset){ 0 });
	if (featset_count(&came)) {
		e = stamped(EV_PROBE_MISMATCH, SEV_CRITICAL, p->mono_ns, p->real_ns);
		if (!e)
			return -ENOMEM;
		k = featset_names(&came, n);
		snprintf(e->subject, sizeof(e->subject), "%s", n[0]);
		json_object_object_add(e->body, "feature", json_object_new_string(n[0]));
		json_object_object_add(e->body, "features", featset_to_json(&came));
		snprintf(e->summary, sizeof(e->summary),
			 "%d advertised feature%s fault%s on execution, first %s", k,
			 k == 1 ? "" : "s", k == 1 ? "s" : "", n[0]);
		ret = evlist_push(out, e);
	}
	if (!ret && t->have_probes && !featset_equal(&t->probes.shadow, &p->shadow)) {
		featset_minus(&gone, &t->probes.shadow, &p->shadow);
		featset_minus(&came, &p->shadow, &t->probes.shadow);
		e = stamped(EV_PROBE_SHADOW_DRIFT, SEV_WARNING, p->mono_ns, p->real_ns);
		if (!e)
			return -ENOMEM;
		snprintf(e->subject, sizeof(e->subject), "shadow");
		json_object_object_add(e->body, "removed", featset_to_json(&gone));
		json_object_object_add(e->body, "added", featset_to_json(&came));
		snprintf(
			e->summary, sizeof(e->summary),
			"masked-but-executable set changed (%d gone, %d new): the hardware under a "
			"frozen CPUID changed",
			featset_count(&gone), featset_count(&came));
		ret = evlist_push(out, e);
	}
	t->probes = *p;
	t->have_probes = true;
	return ret;
}

void tracker_cpuid_now(const struct tracker *t, struct fault *f, const struct featset *now,
		       const char *from)
{
	memset(&f->lost_now, 0, sizeof(f->lost_now));
	if (t->current)
		featset_minus(&f->lost_now, &t->current->features, now);
	snprintf(f->lost_now_from, sizeof(f->lost_now_from), "%s", from);
	f->has_cpuid_now = true;
}

void tracker_set_probe_code(struct tracker *t, const struct code_range *r)
{
	t->have_probe_code = r != NULL;
	if (r)
		t->probe_code = *r;
}

int tracker_fault(struct tracker *t, const struct fault *f, struct evlist *out)
{
	const struct snapshot *cur = t->current;
	struct featset none = { 0 }, now;
	struct classify_input in = {
		.advertised = cur ? &cur->features : &none,
		.has_xcr0 = cur && cur->has_xcr0,
		.xcr0 = cur ? cur->xcr0 : 0,
		.baseline = t->baseline ? &t->baseline->features : NULL,
		.probe = t->have_probes ? &t->probes : NULL,
		.amx_permitted = -1,
		.probe_code = t->have_probe_code ? &t->probe_code : NULL,
	};
	struct classification c;
	struct attribution a;
	int64_t start_mono = (int64_t)f->start_ns;

	/* A process that started before the last change within this boot saw the features before it. */
	if (f->mono_ns && f->boot_ns)
		start_mono -= (int64_t)f->boot_ns - f->mono_ns;
	if (t->change_mono_ns && start_mono < t->change_mono_ns)
		in.at_start = &t->prev_features;
	/* CPUID on the faulting vCPU lacks what the latest snapshot had: judge against that. */
	if (cur && f->has_cpuid_now && featset_count(&f->lost_now)) {
		featset_minus(&now, &cur->features, &f->lost_now);
		in.advertised = &now;
		if (!in.at_start)
			in.at_start = &cur->features;
	}
	faultevent_classify(f, &in, &a, &c);
	return evlist_push(out, faultevent_new(f, &a, &c));
}
