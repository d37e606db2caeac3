// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/classify.h"
#include "analysis/storeevent.h"
#include "analysis/watchevent.h"
#include "capture/proctable.h"
#include "core/clock.h"
#include "core/log.h"
#include "daemon/pipeline.h"
#include "formats/recording.h"
#include "formats/snapexport.h"
#include "sinks/sink_journal.h"
#include "sinks/spool.h"
#include "sinks/store.h"

/* An open incident where something was lost: its processes at risk are counted this often. */
#define AT_RISK_EVERY_NS (60 * NSEC_PER_SEC)

struct pipeline {
	struct pipeline_opts o;
	struct engine *engine;
	struct watchevent *watch;
	uint64_t stored_digest; /* of the newest snapshot in the store */
	struct textfile_state tf;
	bool in_batch;
	int journal_err; /* the last journal send's result: a change is logged once */
	bool store_failing; /* writes failed: once they work again, the incidents are rewritten */
};

static void engine_opts_from(const struct config *c, struct engine_opts *eo)
{
	engine_opts_default(eo);
	config_timing(c, &eo->th);
}

int pipeline__new(const struct pipeline_opts *o, struct pipeline **out)
{
	struct pipeline *p = calloc(1, sizeof(*p));
	struct engine_opts eo;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->o = *o;
	engine_opts_from(o->cfg, &eo);
	p->engine = engine__new(&eo);
	p->watch = watchevent__new(NULL);
	if (!p->engine || !p->watch) {
		pipeline__free(p);
		return -ENOMEM;
	}
	p->tf.shadow_features = -1;
	*out = p;
	return 0;
}

void pipeline__free(struct pipeline *p)
{
	if (!p)
		return;
	engine__free(p->engine);
	watchevent__free(p->watch);
	free(p);
}

struct tracker *pipeline_tracker(struct pipeline *p)
{
	return engine_tracker(p->engine);
}

struct textfile_state *pipeline_textfile(struct pipeline *p)
{
	return &p->tf;
}

void pipeline_set_spool(struct pipeline *p, struct spool *sp)
{
	p->o.spool = sp;
}

int pipeline_reconfigure(struct pipeline *p)
{
	struct engine_opts eo;

	engine_opts_from(p->o.cfg, &eo);
	return engine_set_thresholds(p->engine, &eo.th);
}

/* --- sinks ----------------------------------------------------------------------------- */

/*
 * An incident is issued again each time it gains evidence: the store keeps every issue,
 * but the journal and the hooks, which page people, get only its first issue and those
 * that change its confidence or severity.  Everything else goes everywhere.
 */
static bool pages_people(const struct event *e)
{
	struct json_object *v;
	const char *pc = "", *ps = "", *conf = "";

	if (e->kind != EV_MIGRATION_SUSPECTED)
		return true;
	if (!json_object_object_get_ex(e->body, "issue", &v) || json_object_get_int(v) <= 1)
		return true;
	if (json_object_object_get_ex(e->body, "previous_confidence", &v))
		pc = json_object_get_string(v);
	if (json_object_object_get_ex(e->body, "previous_severity", &v))
		ps = json_object_get_string(v);
	if (json_object_object_get_ex(e->body, "confidence", &v))
		conf = json_object_get_string(v);
	return strcmp(pc, conf) || strcmp(ps, severity_name(e->sev));
}

/*
 * The journal may not run (no socket: a container, a rescue boot): the other sinks still
 * get every event, and the failure is logged when it starts and when it ends, not per event.
 */
static void journal_write(struct pipeline *p, const struct event *e)
{
	int r = sink_journal_send(e);

	if (r && r != p->journal_err)
		log_warn("failed to send events to the journal: %s (the store, the textfile and "
			 "the hooks still get them; logged again only when this changes)",
			 strerror(-r));
	else if (!r && p->journal_err)
		log_info("events reach the journal again");
	else if (r)
		log_debug("failed to send a %s event to the journal", event_kind_names[e->kind]);
	p->journal_err = r;
}

static void sinks_write(struct pipeline *p, struct event *e)
{
	bool page = pages_people(e);

	/* A store that cannot write keeps the event in memory and says so once (store.h). */
	if (store_add_event(p->o.store, e, NULL)) {
		p->store_failing = true;
		log_debug("failed to store a %s event", event_kind_names[e->kind]);
	}
	if (page && p->o.cfg->journal)
		journal_write(p, e);
	/* Spooled for cpudrift hooks run; a failed write is counted and logged by the spool. */
	if (page && p->o.spool)
		spool_add(p->o.spool, e);
	p->tf.events[e->kind][e->sev]++;
	if (e->kind == EV_MIGRATION_SUSPECTED)
		p->tf.last_migration_time = e->realtime_ns / 1e9;
	if (e->sev >= SEV_WARNING && page)
		log_info("%s: %s", event_kind_names[e->kind], e->summary);
	else
		log_debug("%s: %s", event_kind_names[e->kind], e->summary);
}

static bool removes_features(const struct event *e)
{
	struct json_object *r;

	return json_object_object_get_ex(e->body, "removed", &r) &&
	       json_object_is_type(r, json_type_array) && json_object_array_length(r) > 0;
}

static const char *body_str(const struct event *e, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(e->body, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

/*
 * The processes at risk from the change @e reports: those started before it (the
 * verdict's change time, else the event's own), against the level now, with what was lost
 * (the drift's removed features, else what the baseline has and the VM no longer has).
 */
static void attach_at_risk(struct pipeline *p, struct event *e)
{
	const struct tracker *t = engine_tracker(p->engine);
	const struct snapshot *cur = tracker_current(t), *base = tracker_baseline(t);
	struct atrisk_query q = { .level = cur ? cur->level : 0 };
	int64_t change = e->monotonic_ns;
	struct json_object *v, *ar;

	if (json_object_object_get_ex(e->body, "change_mono_ns", &v) &&
	    json_object_is_type(v, json_type_int))
		change = json_object_get_int64(v);
	q.change_boot_ns = clock_mono_to_boot(change);
	if (json_object_object_get_ex(e->body, "removed", &v) &&
	    json_object_is_type(v, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			const char *name = json_object_get_string(json_object_array_get_idx(v, i));
			int id = name ? feature_lookup(name) : -1;

			if (id >= 0)
				featset_add(&q.lost, id);
		}
	} else if (cur && base) {
		featset_minus(&q.lost, &base->features, &cur->features);
	}
	ar = proctable_at_risk(p->o.procs, &q,
			       &(struct atrisk_json_opts){ .listed_max = ATRISK_LISTED_MAX });
	if (!ar) {
		log_debug("failed to list processes at risk");
		return;
	}
	json_object_object_add(e->body, "at_risk", ar);
}

/* Enrich and write every event of @l; returns PIPE_* flags or a negative errno. */
/* Store the incidents that changed and show the newest open one in the textfile. */
static void incidents_write(struct pipeline *p)
{
	struct incidents *in = engine_incidents(p->engine);
	const struct incident *const *v;
	const struct incident *open;
	int n = incidents_list(in, &v);

	for (int i = 0; i < n; i++) {
		struct json_object *j;

		if (!v[i]->dirty)
			continue;
		j = incident_to_json(v[i], engine_incident_opts(p->engine));
		if (!j || store_put_incident(p->o.store, j))
			log_warn("failed to store incident %s", v[i]->id);
		json_object_put(j);
	}
	incidents_clean(in);
	open = incidents_newest_open(in);
	p->tf.incident_start_time = open ? open->opened_real_ns / 1e9 : 0;
	p->tf.incident_confidence = open ? (int)open->conf : 0;
	p->tf.incident_reasons = open ? (int)json_object_array_length(open->tally.reasons) : 0;
	p->tf.processes_at_risk = open && open->tally.loss && open->at_risk > 0 ? open->at_risk : 0;
}

/* The count of an at_risk list ("total"), or -1. */
static int64_t at_risk_total(struct json_object *ar)
{
	struct json_object *total;

	return ar && json_object_object_get_ex(ar, "total", &total) ? json_object_get_int64(total) :
								      -1;
}

/* The at_risk list an issue carries is a count of its incident's processes too. */
static void count_from_issue(struct pipeline *p, const struct event *e, struct evlist *later)
{
	struct json_object *ar, *id;
	int64_t n;

	if (!json_object_object_get_ex(e->body, "incident_id", &id) ||
	    !json_object_object_get_ex(e->body, "at_risk", &ar) || (n = at_risk_total(ar)) < 0)
		return;
	if (engine_at_risk(p->engine, json_object_get_string(id), n, e->monotonic_ns, later))
		log_debug("failed to count the processes at risk of an incident");
}

static int deliver(struct pipeline *p, struct evlist *l, int ret)
{
	struct evlist later = { 0 };
	int flags = 0;

	for (size_t i = 0; i < l->n; i++) {
		struct event *e = l->v[i];

		/* Programs that picked their code paths before a loss are the ones at risk. */
		if (p->o.live && p->o.procs &&
		    (e->kind == EV_MIGRATION_SUSPECTED ||
		     (e->kind == EV_CPUID_DRIFT && removes_features(e)))) {
			attach_at_risk(p, e);
			if (e->kind == EV_MIGRATION_SUSPECTED)
				count_from_issue(p, e, &later);
		}
		if (e->kind == EV_FAULT_SIGILL) {
			const char *cls = body_str(e, "class");

			/* cpudrift's own probes fault by design: neither counted nor reported. */
			if (!strcmp(cls, fault_class_name(FC_PROBE)))
				continue;
		}
		sinks_write(p, e);
		/* Timing evidence is a reason to look at CPUID and the silicon right now. */
		if (e->kind >= EV_TIMING_STALL && e->kind <= EV_TIMING_CPUID_LATENCY)
			flags |= PIPE_TRIGGER;
		if (e->kind == EV_TIMING_STALL || e->kind == EV_TIMING_CLOCK_STEP)
			flags |= PIPE_QUICKCHECK;
	}
	/* An incident the count closed (a live count never closes one still pending). */
	for (size_t i = 0; i < later.n; i++)
		sinks_write(p, later.v[i]);
	evlist_free(&later);
	evlist_free(l);
	incidents_write(p);
	return ret < 0 ? ret : flags;
}

/*
 * Count again the processes at risk of each open incident that lost something and can no
 * longer grow, at most once a minute: once none is left (the operator restarted them), it
 * closes.  Live only: a replay knows nothing of the recorded machine's processes.
 */
static int recount(struct pipeline *p, int64_t mono_ns, struct evlist *out)
{
	struct incidents *in = engine_incidents(p->engine);
	const struct snapshot *cur = tracker_current(engine_tracker(p->engine));
	const struct incident *const *v;
	int n = incidents_list(in, &v), ret = 0;

	for (int i = 0; i < n && !ret && p->o.procs; i++) {
		const struct incident *inc = v[i];
		struct atrisk_query q = { .level = cur ? cur->level : 0 };
		struct json_object *ar;
		char id[sizeof(inc->id)];
		int64_t total;

		if (inc->closed || !inc->tally.loss || incident_pending(in, inc, mono_ns) ||
		    (inc->at_risk >= 0 && mono_ns - inc->at_risk_mono_ns < AT_RISK_EVERY_NS))
			continue;
		q.change_boot_ns = clock_mono_to_boot(inc->tally.first_mono_ns);
		ar = proctable_at_risk(p->o.procs, &q,
				       &(struct atrisk_json_opts){ .listed_max = 0 });
		total = at_risk_total(ar);
		json_object_put(ar);
		if (total < 0) {
			log_debug("failed to count the processes at risk of incident %s", inc->id);
			continue;
		}
		/* The count may close it: keep what names it. */
		snprintf(id, sizeof(id), "%s", inc->id);
		ret = engine_at_risk(p->engine, id, total, mono_ns, out);
	}
	return ret;
}

/* --- the snapshot cycle ---------------------------------------------------------------- */

/* The fleet export (`export = on`): the live daemon's newest snapshot, never a replay's. */
static void export_snapshot(struct pipeline *p)
{
	const struct snapshot *s = tracker_current(engine_tracker(p->engine));
	int r;

	if (!s || !p->o.live || !p->o.cfg->export_snapshot)
		return;
	r = snapexport_write(p->o.cfg->state_dir, s);
	if (r)
		log_warn("failed to write %s/%s/%s: %s", p->o.cfg->state_dir, SNAPEXPORT_DIR,
			 SNAPEXPORT_FILE, strerror(-r));
}

static void textfile_snapshot(struct pipeline *p)
{
	const struct snapshot *s = tracker_current(engine_tracker(p->engine));
	const struct snapshot *b = tracker_baseline(engine_tracker(p->engine));

	if (!s)
		return;
	p->tf.nvcpus = s->nvcpus;
	p->tf.features_advertised = featset_count(&s->features);
	p->tf.x86_64_level = s->level;
	p->tf.shadow_features = s->has_shadow ? featset_count(&s->shadow) : -1;
	p->tf.last_snapshot_time = s->realtime_ns / 1e9;
	memset(&p->tf.lost, 0, sizeof(p->tf.lost));
	if (b) {
		featset_minus(&p->tf.lost, &b->features, &s->features);
		p->tf.baseline_time = b->realtime_ns / 1e9;
	}
}

static struct snapshot *load(struct pipeline *p, enum snap_select sel, const char *boot)
{
	struct errbuf err = { "" };
	struct snapshot *s = NULL;
	struct snapmeta m;
	int ret = store_load_snapshot(p->o.store, sel, boot, &m, &s, &err);

	if (ret && ret != -ENOENT)
		log_warn("%s", err.msg);
	return s;
}

void pipeline_reload_baseline(struct pipeline *p)
{
	struct snapshot *b = load(p, SEL_BASELINE, NULL);
	char buf[16];

	/* A person accepted one (`cpudrift baseline accept`): no longer a stand-in. */
	p->tf.baseline_provisional =
		!store_get_status(p->o.store, STORE_PROVISIONAL_KEY, buf, sizeof(buf));

	if (!b)
		return;
	tracker_set_baseline(engine_tracker(p->engine), b);
	textfile_snapshot(p);
}

int pipeline_snapshot(struct pipeline *p, struct snapshot *s)
{
	struct evlist out = { 0 };
	uint64_t digest = snapshot_digest(s);
	int ret = engine_snapshot(p->engine, s, &out);

	ret = deliver(p, &out, ret);
	/* Keep a snapshot only when something in it changed: a quiet VM stores none. */
	if (ret >= 0 && digest != p->stored_digest) {
		const struct snapshot *cur = tracker_current(engine_tracker(p->engine));

		if (store_save_snapshot(p->o.store, cur, SNAP_PERIODIC, NULL))
			log_warn("failed to store a snapshot");
		else
			p->stored_digest = digest;
	}
	textfile_snapshot(p);
	export_snapshot(p);
	return ret;
}

struct restore {
	struct pipeline *p;
	const char *boot_id;
	struct evlist *out;
};

static int restore_one(struct json_object *j, void *arg)
{
	struct restore *r = arg;
	struct json_object *id;
	int ret = engine_restore_incident(r->p->engine, j, r->boot_id, r->out);

	if (ret && ret != -ENOMEM) {
		json_object_object_get_ex(j, "id", &id);
		log_warn("failed to take back incident %s: %s",
			 id ? json_object_get_string(id) : "?", strerror(-ret));
		return 0;
	}
	return ret;
}

/*
 * The incidents a previous run left open continue (a restart); those of another boot close
 * ("reboot": their processes are gone).  Live only: a replay starts from nothing.
 */
static int restore_incidents(struct pipeline *p, const char *boot_id, struct evlist *out)
{
	struct incident_query q = { .open_only = true };
	struct restore r = { .p = p, .boot_id = boot_id, .out = out };

	if (!p->o.live)
		return 0;
	return store_query_incidents(p->o.store, &q, restore_one, &r);
}

/*
 * The store was started anew from a corrupt database and its baseline could not be read:
 * the snapshot @id stands in as a provisional baseline until a person accepts one.
 */
static void set_baseline(struct pipeline *p, int64_t id)
{
	const struct store_recovery *rc = store_recovery(p->o.store);
	char why[600];
	int ret;

	if (!id)
		return;
	ret = store_set_baseline(p->o.store, id);
	if (ret) {
		log_warn("failed to store the baseline: %s; it is kept in memory", strerror(-ret));
		return;
	}
	if (!rc->recovered)
		return;
	snprintf(why, sizeof(why),
		 "the store was started anew (%.200s: %.200s) and its baseline could not be read",
		 rc->moved_to, rc->why);
	p->tf.baseline_provisional = true;
	if (store_set_status(p->o.store, STORE_PROVISIONAL_KEY, why))
		log_warn("failed to flag the provisional baseline");
	log_warn("snapshot %lld is a provisional baseline: %s; drift is measured from it until "
		 "a person accepts a baseline (cpudrift baseline accept)",
		 (long long)id, why);
}

/* The store's start: store.recovered, when its database was corrupt and was moved aside. */
static int store_started(struct pipeline *p, struct evlist *out)
{
	const struct store_recovery *rc = store_recovery(p->o.store);
	struct store_recovered r;
	struct event *e;
	char db[PATH_MAX + 16];

	if (!rc->recovered || !p->o.live)
		return 0;
	snprintf(db, sizeof(db), "%s/%s", p->o.cfg->state_dir, STORE_DB_NAME);
	r = (struct store_recovered){ .db = db,
				      .moved_to = rc->moved_to,
				      .why = rc->why,
				      .baseline_kept = rc->baseline_kept,
				      .baseline_real_ns = rc->baseline_real_ns };
	e = storeevent_recovered(&r);
	return e ? evlist_push(out, e) : -ENOMEM;
}

int pipeline_first_snapshot(struct pipeline *p, struct snapshot *s, struct errbuf *err)
{
	struct tracker *t = engine_tracker(p->engine);
	struct snapshot *prev = NULL, *first = NULL;
	struct evlist out = { 0 };
	struct snapmeta m;
	int64_t id = 0;
	int ret = 0;

	if (store_started(p, &out) || restore_incidents(p, s->boot_id, &out) == -ENOMEM) {
		evlist_free(&out);
		snapshot__free(s);
		errbuf_set(err, "failed to take back the open incidents: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	ret = deliver(p, &out, 0);
	if (ret < 0) {
		snapshot__free(s);
		errbuf_set(err, "failed to take back the open incidents: %s", strerror(-ret));
		return ret;
	}
	ret = 0;
	tracker_set_baseline(t, load(p, SEL_BASELINE, NULL));
	/* A stand-in an earlier run flagged stays one until a person accepts a baseline. */
	p->tf.baseline_provisional =
		!store_get_status(p->o.store, STORE_PROVISIONAL_KEY, m.digest, sizeof(m.digest));
	first = load(p, SEL_BOOT_FIRST, s->boot_id);
	if (first) {
		/* Restarted within this boot: continue from the last snapshot this boot stored. */
		snapshot__free(first);
		prev = load(p, SEL_LATEST, NULL);
		if (prev && !strcmp(prev->boot_id, s->boot_id)) {
			p->stored_digest = snapshot_digest(prev);
			tracker_prime(t, prev);
		} else {
			snapshot__free(prev);
		}
		/* A store started anew may hold this boot's first snapshot but no baseline. */
		if (!tracker_baseline(t) &&
		    !store_get_snapshot(p->o.store, SEL_LATEST, NULL, &m, NULL))
			set_baseline(p, m.id);
		return pipeline_snapshot(p, s) < 0 ? -ENOMEM : 0;
	}
	/* A store that cannot be written (full, read-only) keeps the snapshot in memory only. */
	ret = store_save_snapshot(p->o.store, s, SNAP_BOOT_FIRST, &id);
	if (ret) {
		log_warn("failed to store the first snapshot: %s; it is kept in memory",
			 strerror(-ret));
		id = 0;
		p->store_failing = true;
	} else {
		p->stored_digest = snapshot_digest(s);
	}
	ret = 0;
	prev = load(p, SEL_PREV_BOOT_FIRST, s->boot_id);
	if (prev)
		ret = engine_boot_drift(p->engine, prev, s, &out);
	snapshot__free(prev);
	/* The first snapshot ever is the baseline (in memory too: the tracker takes it). */
	if (!tracker_baseline(t))
		set_baseline(p, id);
	if (!ret)
		ret = engine_snapshot(p->engine, s, &out);
	else
		snapshot__free(s);
	ret = deliver(p, &out, ret);
	textfile_snapshot(p);
	export_snapshot(p);
	return ret < 0 ? ret : 0;
}

void pipeline_store_upkeep(struct pipeline *p)
{
	struct incidents *in = engine_incidents(p->engine);
	const struct incident *const *v;
	struct store_health h;

	store_health(p->o.store, &h);
	if (h.online && (h.err || h.pending)) {
		p->store_failing = true;
		store_retry(p->o.store, false);
		store_health(p->o.store, &h);
	}
	snprintf(p->tf.store_state, sizeof(p->tf.store_state), "%s", store_health_state(&h));
	p->tf.store_errors = h.errors;
	if (!h.online || h.err || h.pending || !p->store_failing)
		return;
	/* Written again: what changed meanwhile and is not kept in memory is written now. */
	p->store_failing = false;
	for (int i = 0, n = incidents_list(in, &v); i < n; i++) {
		struct json_object *j = incident_to_json(v[i], engine_incident_opts(p->engine));

		if (!j || store_put_incident(p->o.store, j))
			log_warn("failed to store incident %s", v[i]->id);
		json_object_put(j);
	}
	{
		const struct snapshot *cur = tracker_current(engine_tracker(p->engine));

		if (cur && snapshot_digest(cur) != p->stored_digest &&
		    !store_save_snapshot(p->o.store, cur, SNAP_PERIODIC, NULL))
			p->stored_digest = snapshot_digest(cur);
	}
}

/* --- the other inputs ------------------------------------------------------------------ */

int pipeline_probes(struct pipeline *p, const struct probe_summary *ps)
{
	struct json_object *j = recording_probe_json(ps);
	struct evlist out = { 0 };

	/* Kept for reports and evidence bundles: what the silicon did, run by run. */
	if (!j || store_add_probe_run(p->o.store, ps->real_ns,
				      json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN)))
		log_debug("failed to store a probe run");
	json_object_put(j);

	return deliver(p, &out, engine_probes(p->engine, ps, &out));
}

/*
 * The classes the counters use beside the fault classes: faults no site held and no record
 * detailed, and faults of traced processes (their tracer may have made them: counted apart,
 * so that no alert on a migration class fires for them).
 */
#define UNTRACKED_CLASS "untracked"
#define TRACED_CLASS "traced"

static void count_faults(struct pipeline *p, const char *cls, const char *feature, uint64_t n)
{
	if (!n)
		return;
	/* Counters survive retention: they are what says how many, exactly. */
	if (store_count_fault(p->o.store, cls, feature, (int64_t)n))
		log_debug("failed to count a fault");
	textfile_add_fault(&p->tf, cls, feature, (int64_t)n);
}

int pipeline_fault(struct pipeline *p, const struct fault *f)
{
	struct evlist out = { 0 };
	int ret;
	bool own = false;

	if (f->kind == FAULT_UNTRACKED) {
		count_faults(p, UNTRACKED_CLASS, "", f->delta);
		watchevent_untracked(p->watch, f);
		return 0;
	}
	ret = engine_fault(p->engine, f, &out);
	for (size_t i = 0; !ret && i < out.n; i++) {
		const struct event *e = out.v[i];
		const char *cls = body_str(e, "class"), *feature = body_str(e, "feature");

		/* cpudrift's own probes fault by design: neither counted nor reported. */
		own |= e->kind == EV_FAULT_SIGILL && !strcmp(cls, fault_class_name(FC_PROBE));
		if (e->kind == EV_FAULT_SIGILL && strcmp(cls, fault_class_name(FC_PROBE)))
			count_faults(p, f->origin == FAULT_ORIGIN_TRACED ? TRACED_CLASS : cls,
				     feature, f->delta);
	}
	ret = deliver(p, &out, ret);
	/*
	 * A new fault is a reason to look at CPUID now; a flush of old ones is not, nor are our
	 * own probes' faults: a capture they triggered would probe again, fault again and never
	 * stop.
	 */
	return ret < 0 || f->kind != FAULT_DETAIL || own ? ret : ret | PIPE_TRIGGER;
}

void pipeline_forged(struct pipeline *p, const struct forged_signal *s)
{
	watchevent_forged(p->watch, s);
}

int pipeline_watcher(struct pipeline *p, const struct watcher_counts *c, int64_t mono_ns)
{
	struct evlist out = { 0 };

	p->tf.bpf_lost_events = c->drops;
	p->tf.watcher_forged = c->forged;
	p->tf.watcher_untracked = c->untracked;
	return deliver(p, &out, watchevent_tick(p->watch, c, mono_ns, &out));
}

void pipeline_batch_begin(struct pipeline *p)
{
	p->in_batch = !store_begin(p->o.store);
}

void pipeline_batch_end(struct pipeline *p)
{
	/* A failed batch waits in memory; the store says so once (store.h). */
	if (p->in_batch && store_commit(p->o.store)) {
		p->store_failing = true;
		log_debug("failed to commit a batch of events");
	}
	p->in_batch = false;
}

int pipeline_observe(struct pipeline *p, const struct observation *o)
{
	struct evlist out = { 0 };
	struct json_object *j = observe_to_json(o);

	if (j) {
		if (store_add_timing_sample(
			    p->o.store, o->real_ns, obs_source_names[o->src], (double)o->v[0],
			    json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN)))
			log_debug("failed to store a timing sample");
		json_object_put(j);
	}
	return deliver(p, &out, engine_observe(p->engine, o, &out));
}

int pipeline_flush(struct pipeline *p, int64_t mono_ns)
{
	struct evlist out = { 0 };
	int ret = engine_flush(p->engine, mono_ns, &out);

	if (!ret && p->o.live)
		ret = recount(p, mono_ns, &out);
	return deliver(p, &out, ret);
}
