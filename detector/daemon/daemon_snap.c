// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's snapshot cycle: capture and probe, compare with what this boot saw before,
 * turn the differences into cpuid.drift / cpuid.vcpu_mismatch / probe.* events, keep the
 * baseline and each boot's first snapshot in the store.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capture/atrisk.h"
#include "capture/capture.h"
#include "daemon/daemon_priv.h"
#include "analysis/diff.h"
#include "core/log.h"
#include "capture/probe.h"
#include "formats/snapjson.h"
#include "sinks/store.h"

/* A verdict or drift lists at most this many processes at risk. */
#define ATRISK_MAX 50

static int64_t boottime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* What identifies a snapshot's content: raw leaves, XCR0, microcode, shadow set. */
static uint64_t snapshot_digest(const struct snapshot *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

#define MIX(p, n)                           \
	for (size_t k_ = 0; k_ < (n); k_++) \
	h = (h ^ ((const uint8_t *)(p))[k_]) * 0x100000001b3ull
	for (int i = 0; i < s->nvcpus; i++)
		MIX(s->vcpus[i].leaves, s->vcpus[i].n * sizeof(struct leafval));
	MIX(&s->xcr0, sizeof(s->xcr0));
	MIX(&s->microcode, sizeof(s->microcode));
	if (s->has_shadow)
		MIX(&s->shadow, sizeof(s->shadow));
#undef MIX
	return h;
}

static struct snapshot *load_snapshot(struct daemon *d, enum snap_select sel, const char *boot,
				      struct snapmeta *m)
{
	struct errbuf err = { "" };
	struct snapshot *s = NULL;
	struct json_object *o;
	char *json = NULL;

	if (store_get_snapshot(d->store, sel, boot, m, &json))
		return NULL;
	o = json_tokener_parse(json);
	if (!o || snapshot_from_json(o, &s, &err))
		log_warn("failed to read a stored snapshot (id %" PRId64 "): %s", m->id,
			 err.msg[0] ? err.msg : "not JSON");
	json_object_put(o);
	free(json);
	return s;
}

static int save_snapshot(struct daemon *d, const struct snapshot *s, enum snap_kind kind,
			 int64_t *id)
{
	struct json_object *o = snapshot_to_json(s);
	struct snapmeta m = { .kind = kind, .realtime_ns = s->realtime_ns, .level = s->level };
	int ret;

	if (!o)
		return -ENOMEM;
	snprintf(m.boot_id, sizeof(m.boot_id), "%s", s->boot_id);
	snprintf(m.vendor, sizeof(m.vendor), "%s", s->id.vendor);
	snprintf(m.brand, sizeof(m.brand), "%s", s->id.brand);
	snprintf(m.digest, sizeof(m.digest), "%016" PRIx64, snapshot_digest(s));
	m.nfeatures = featset_count(&s->features);
	ret = store_add_snapshot(d->store, &m,
				 json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), id);
	json_object_put(o);
	if (ret)
		log_warn("failed to store a snapshot: %s", strerror(-ret));
	return ret;
}

static int take(struct snapshot **out, struct probe_report **pr)
{
	struct errbuf err = { "" };
	int ret;

	ret = capture_snapshot(out, NULL, &err);
	if (ret) {
		log_err("failed to capture CPUID: %s", err.msg);
		return ret;
	}
	if (probe_run(*out, NULL, pr, &err)) {
		log_warn("failed to run the instruction probes: %s", err.msg);
		*pr = NULL;
		return 0;
	}
	(*out)->has_shadow = true;
	(*out)->shadow = (*pr)->shadow;
	return 0;
}

/*
 * One event for one comparison: cpuid.drift (in boot) or cpuid.boot_drift.  The severity
 * is the worst change; the subject the first removed feature, else the first change.
 */
static void emit_drift(struct daemon *d, enum event_kind kind, const struct snapshot *a,
		       const struct snapshot *b, const struct diff *df)
{
	struct featset removed, added;
	struct event *e;
	const char *n[FEAT__COUNT];
	int nrem, nadd;
	size_t relevant = 0;

	enum severity sev = SEV_INFO;

	/* vCPU disagreement and the shadow set have events of their own. */
	for (size_t i = 0; i < df->n; i++) {
		if (df->v[i].kind == CHANGE_VCPU_MISMATCH || df->v[i].kind == CHANGE_SHADOW)
			continue;
		relevant++;
		if (df->v[i].sev > sev)
			sev = df->v[i].sev;
	}
	if (!relevant)
		return;
	featset_minus(&removed, &a->features, &b->features);
	featset_minus(&added, &b->features, &a->features);
	e = event__new(kind, sev);
	if (!e)
		return;
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
	/* Programs that picked their code paths before the change are the ones at risk. */
	if (nrem && atrisk_attach(e, b->level, ATRISK_MAX))
		log_debug("failed to list processes at risk");
	daemon_emit(d, e);
}

static void emit_vcpu_mismatch(struct daemon *d, const struct snapshot *s)
{
	struct diff vd = { 0 };
	struct event *e;

	if (diff_vcpus(s, &vd) || !vd.n) {
		diff_free(&vd);
		return;
	}
	e = event__new(EV_CPUID_VCPU_MISMATCH, diff_max_severity(&vd));
	if (e) {
		snprintf(e->subject, sizeof(e->subject), "vcpu%d", vd.v[0].vcpu);
		snprintf(e->summary, sizeof(e->summary),
			 "vCPUs disagree: %zu difference%s, first vCPU %d %s", vd.n,
			 vd.n == 1 ? "" : "s", vd.v[0].vcpu, vd.v[0].field);
		json_object_object_add(e->body, "diff", diff_to_json(&vd));
		daemon_emit(d, e);
	}
	diff_free(&vd);
}

static void emit_probe_events(struct daemon *d, const struct probe_report *old,
			      const struct probe_report *now)
{
	struct featset was = { 0 }, is = { 0 }, gone, came;
	struct event *e;

	if (!now)
		return;
	for (size_t i = 0; old && i < old->n; i++)
		if (old->rows[i].result == PROBE_R_MISMATCH && old->rows[i].feature >= 0)
			featset_add(&was, old->rows[i].feature);
	for (size_t i = 0; i < now->n; i++)
		if (now->rows[i].result == PROBE_R_MISMATCH && now->rows[i].feature >= 0)
			featset_add(&is, now->rows[i].feature);
	featset_minus(&came, &is, &was);
	if (featset_count(&came) && (e = event__new(EV_PROBE_MISMATCH, SEV_CRITICAL))) {
		const char *n[FEAT__COUNT];
		int k = featset_names(&came, n);

		snprintf(e->subject, sizeof(e->subject), "%s", n[0]);
		json_object_object_add(e->body, "feature", json_object_new_string(n[0]));
		json_object_object_add(e->body, "features", featset_to_json(&came));
		snprintf(e->summary, sizeof(e->summary),
			 "%d advertised feature%s fault%s on execution, first %s", k,
			 k == 1 ? "" : "s", k == 1 ? "s" : "", n[0]);
		daemon_emit(d, e);
	}
	if (!old || featset_equal(&old->shadow, &now->shadow))
		return;
	featset_minus(&gone, &old->shadow, &now->shadow);
	featset_minus(&came, &now->shadow, &old->shadow);
	e = event__new(EV_PROBE_SHADOW_DRIFT, SEV_WARNING);
	if (!e)
		return;
	snprintf(e->subject, sizeof(e->subject), "shadow");
	json_object_object_add(e->body, "removed", featset_to_json(&gone));
	json_object_object_add(e->body, "added", featset_to_json(&came));
	snprintf(e->summary, sizeof(e->summary),
		 "masked-but-executable set changed (%d gone, %d new): the hardware under a frozen "
		 "CPUID changed",
		 featset_count(&gone), featset_count(&came));
	daemon_emit(d, e);
}

void daemon_reload_baseline(struct daemon *d)
{
	struct snapmeta m;
	struct snapshot *b = load_snapshot(d, SEL_BASELINE, NULL, &m);

	if (!b)
		return;
	snapshot__free(d->baseline);
	d->baseline = b;
	daemon_textfile_snapshot(d);
}

void daemon_textfile_snapshot(struct daemon *d)
{
	const struct snapshot *s = d->current;

	if (!s)
		return;
	d->tf.nvcpus = s->nvcpus;
	d->tf.features_advertised = featset_count(&s->features);
	d->tf.x86_64_level = s->level;
	d->tf.shadow_features = s->has_shadow ? featset_count(&s->shadow) : -1;
	d->tf.last_snapshot_time = s->realtime_ns / 1e9;
	memset(&d->tf.lost, 0, sizeof(d->tf.lost));
	if (d->baseline) {
		featset_minus(&d->tf.lost, &d->baseline->features, &s->features);
		d->tf.baseline_time = d->baseline->realtime_ns / 1e9;
	}
}

static void adopt(struct daemon *d, struct snapshot *s, struct probe_report *pr)
{
	if (d->current && !featset_equal(&d->current->features, &s->features)) {
		d->prev_features = d->current->features;
		d->change_boot_ns = boottime_ns();
	}
	snapshot__free(d->current);
	d->current = s;
	if (pr) {
		probe_report__free(d->probes);
		d->probes = pr;
		classify_probe_from_report(pr, &d->probe_view);
		d->have_probe_view = true;
	}
	daemon_textfile_snapshot(d);
}

int daemon_capture(struct daemon *d, const char *why)
{
	struct probe_report *pr = NULL;
	struct snapshot *s = NULL;
	struct diff df = { 0 };
	uint64_t digest;
	int ret;

	log_debug("capturing (%s)", why);
	ret = take(&s, &pr);
	if (ret)
		return ret;
	if (d->current && !diff_snapshots(d->current, s, &df)) {
		emit_drift(d, EV_CPUID_DRIFT, d->current, s, &df);
		diff_free(&df);
	}
	emit_probe_events(d, d->probes, pr);
	digest = snapshot_digest(s);
	if (digest != d->last_digest) {
		/* Keep a snapshot only when something in it changed: a quiet VM stores none. */
		if (d->current)
			emit_vcpu_mismatch(d, s);
		save_snapshot(d, s, SNAP_PERIODIC, NULL);
		d->last_digest = digest;
	}
	adopt(d, s, pr);
	return 0;
}

int daemon_snapshots_init(struct daemon *d, struct errbuf *err)
{
	struct snapshot *s = NULL, *prev = NULL;
	struct probe_report *pr = NULL;
	struct snapmeta m;
	int64_t id = 0;
	struct diff df = { 0 };
	int ret;

	ret = take(&s, &pr);
	if (ret) {
		errbuf_set(err, "failed to capture the first snapshot: %s", strerror(-ret));
		return ret;
	}
	d->baseline = load_snapshot(d, SEL_BASELINE, NULL, &m);
	/* Restarted within this boot: continue from the last snapshot this boot stored. */
	prev = load_snapshot(d, SEL_BOOT_FIRST, s->boot_id, &m);
	if (prev) {
		snapshot__free(prev);
		prev = load_snapshot(d, SEL_LATEST, NULL, &m);
		if (prev && !strcmp(prev->boot_id, s->boot_id) && !diff_snapshots(prev, s, &df)) {
			emit_drift(d, EV_CPUID_DRIFT, prev, s, &df);
			diff_free(&df);
		}
		d->last_digest = prev ? snapshot_digest(prev) : 0;
	} else {
		ret = save_snapshot(d, s, SNAP_BOOT_FIRST, &id);
		if (ret) {
			errbuf_set(err, "failed to store the first snapshot: %s", strerror(-ret));
			goto fail;
		}
		d->last_digest = snapshot_digest(s);
		prev = load_snapshot(d, SEL_PREV_BOOT_FIRST, s->boot_id, &m);
		if (prev && !diff_snapshots(prev, s, &df)) {
			emit_drift(d, EV_CPUID_BOOT_DRIFT, prev, s, &df);
			diff_free(&df);
		}
		if (!d->baseline) {
			ret = store_set_baseline(d->store, id);
			if (ret) {
				errbuf_set(err, "failed to set the baseline: %s", strerror(-ret));
				goto fail;
			}
			d->baseline = load_snapshot(d, SEL_BASELINE, NULL, &m);
		}
	}
	snapshot__free(prev);
	prev = NULL;
	emit_vcpu_mismatch(d, s);
	if (pr && probe_report_has_mismatch(pr))
		emit_probe_events(d, NULL, pr);
	adopt(d, s, pr);
	return 0;
fail:
	snapshot__free(prev);
	snapshot__free(s);
	probe_report__free(pr);
	return ret;
}
