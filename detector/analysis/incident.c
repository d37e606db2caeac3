// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/incident.h"

/* Incidents held at once: closed ones leave at incidents_clean(). */
#define MAX_HELD 64

void incident_opts_default(struct incident_opts *o)
{
	verdict_opts_default(&o->vo);
	o->window_ns = o->vo.window_ns;
	o->quiet_ns = 30 * 60 * 1000000000LL;
}

struct incidents {
	struct incident_opts o;
	struct incident *v[MAX_HELD];
	int n;
	/* evidence that belongs to no incident yet, within the window of the newest */
	struct event **pending;
	size_t npending, cap;
};

struct incidents *incidents__new(const struct incident_opts *o)
{
	struct incidents *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (o)
		s->o = *o;
	else
		incident_opts_default(&s->o);
	return s;
}

static void incident_free(struct incident *inc)
{
	if (!inc)
		return;
	verdict_tally_clear(&inc->tally);
	json_object_put(inc->casualties);
	json_object_put(inc->survived);
	free(inc);
}

static void pending_clear(struct incidents *s)
{
	for (size_t i = 0; i < s->npending; i++)
		event__free(s->pending[i]);
	s->npending = 0;
}

void incidents__free(struct incidents *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->n; i++)
		incident_free(s->v[i]);
	pending_clear(s);
	free(s->pending);
	free(s);
}

static const char *body_str(const struct event *e, const char *key)
{
	struct json_object *v;

	if (!e->body || !json_object_object_get_ex(e->body, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

static bool body_bool(const struct event *e, const char *key)
{
	struct json_object *v;

	return e->body && json_object_object_get_ex(e->body, key, &v) &&
	       json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

static struct event *event_copy(const struct event *e)
{
	struct json_object *j = event_to_json(e);
	struct event *c = j ? event_from_json(j) : NULL;

	json_object_put(j);
	return c;
}

/* --- the processes of migration faults ---------------------------------------------------- */

static struct json_object *find_pid(struct json_object *list, int pid, size_t *at)
{
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *p = json_object_array_get_idx(list, i), *v;

		if (json_object_object_get_ex(p, "pid", &v) && json_object_get_int(v) == pid) {
			*at = i;
			return p;
		}
	}
	return NULL;
}

static struct json_object *proc_json(const struct event *e)
{
	struct json_object *p = json_object_new_object();

	if (!p)
		return NULL;
	json_object_object_add(p, "pid", json_object_new_int(e->pid));
	json_object_object_add(p, "comm", json_object_new_string(body_str(e, "comm")));
	json_object_object_add(p, "exe", json_object_new_string(body_str(e, "exe")));
	json_object_object_add(p, "feature", json_object_new_string(body_str(e, "feature")));
	json_object_object_add(p, "class", json_object_new_string(body_str(e, "class")));
	json_object_object_add(p, "realtime_ns", json_object_new_int64(e->realtime_ns));
	json_object_object_add(p, "monotonic_ns", json_object_new_int64(e->monotonic_ns));
	return p;
}

/*
 * A fault that weighs (a migration class) names its process: a casualty when the signal was
 * fatal, else a survivor, until a later fatal one makes it a casualty.  True when a list
 * changed; -ENOMEM.
 */
static int note_process(struct incident *inc, const struct event *e)
{
	bool fatal = body_bool(e, "fatal");
	struct json_object *p, *to = fatal ? inc->casualties : inc->survived;
	size_t at;

	if (e->kind != EV_FAULT_SIGILL || e->pid <= 0 || find_pid(inc->casualties, e->pid, &at))
		return 0;
	if (find_pid(inc->survived, e->pid, &at)) {
		if (!fatal)
			return 0;
		json_object_array_del_idx(inc->survived, at, 1);
	}
	if (json_object_array_length(to) >= INCIDENT_MAX_PROCS)
		return 0;
	p = proc_json(e);
	if (!p || json_object_array_add(to, p)) {
		json_object_put(p);
		return -ENOMEM;
	}
	return 1;
}

/* --- issues ------------------------------------------------------------------------------- */

static int issue(struct incidents *s, struct incident *inc, struct evlist *out)
{
	struct verdict_result r;
	struct event *e;
	struct json_object *b;

	verdict_tally_result(&inc->tally, &s->o.vo, &r);
	e = verdict_event(&r, &s->o.vo);
	if (!e) {
		verdict_result_clear(&r);
		return -ENOMEM;
	}
	b = e->body;
	json_object_object_add(b, "incident_id", json_object_new_string(inc->id));
	json_object_object_add(b, "issue", json_object_new_int(inc->issues + 1));
	if (inc->issues) {
		json_object_object_add(b, "previous_confidence",
				       json_object_new_string(verdict_confidence_name(inc->conf)));
		json_object_object_add(b, "previous_severity",
				       json_object_new_string(severity_name(inc->sev)));
	}
	json_object_object_add(b, "opened_real_ns", json_object_new_int64(inc->opened_real_ns));
	json_object_object_add(b, "casualties", json_object_get(inc->casualties));
	json_object_object_add(b, "survived", json_object_get(inc->survived));
	inc->issues++;
	inc->conf = r.conf;
	inc->sev = e->sev;
	inc->dirty = true;
	verdict_result_clear(&r);
	return evlist_push(out, e);
}

/* Confidence or severity the tally gives now differs from the last issue. */
static bool moved(const struct incidents *s, const struct incident *inc)
{
	struct verdict_result r;
	bool m;

	verdict_tally_result(&inc->tally, &s->o.vo, &r);
	m = r.conf != inc->conf || verdict_severity(&r) != inc->sev;
	verdict_result_clear(&r);
	return m;
}

/* Add @e to @inc; 1 when it gained something worth an issue, 0 when not, -ENOMEM. */
static int join(struct incidents *s, struct incident *inc, const struct event *e,
		uint64_t cpu_state)
{
	int gained, p;

	gained = verdict_tally_add(&inc->tally, e);
	if (gained < 0)
		return gained;
	p = note_process(inc, e);
	if (p < 0)
		return p;
	if (e->kind == EV_CPUID_DRIFT && !inc->has_after) {
		inc->has_after = true;
		inc->after = cpu_state;
	}
	if (e->monotonic_ns > inc->last_mono_ns)
		inc->last_mono_ns = e->monotonic_ns;
	inc->dirty = true;
	return gained || p || moved(s, inc);
}

/* --- opening and closing ------------------------------------------------------------------ */

static struct incident *newest_open(const struct incidents *s)
{
	for (int i = s->n - 1; i >= 0; i--)
		if (!s->v[i]->closed)
			return s->v[i];
	return NULL;
}

const struct incident *incidents_newest_open(const struct incidents *s)
{
	return newest_open(s);
}

static struct incident *find_id(const struct incidents *s, const char *id)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->v[i]->id, id))
			return s->v[i];
	return NULL;
}

static struct incident *incident_new(struct incidents *s, const struct event *at)
{
	struct incident *inc;

	/* Full of open incidents (a hostile recording): the oldest is forgotten. */
	if (s->n == MAX_HELD) {
		incident_free(s->v[0]);
		memmove(s->v, s->v + 1, (MAX_HELD - 1) * sizeof(s->v[0]));
		s->n--;
	}
	inc = calloc(1, sizeof(*inc));
	if (!inc)
		return NULL;
	inc->casualties = json_object_new_array();
	inc->survived = json_object_new_array();
	if (!inc->casualties || !inc->survived || verdict_tally_init(&inc->tally)) {
		incident_free(inc);
		return NULL;
	}
	snprintf(inc->boot_id, sizeof(inc->boot_id), "%s", at->boot_id);
	snprintf(inc->id, sizeof(inc->id), "%.8s-%lld", at->boot_id[0] ? at->boot_id : "00000000",
		 (long long)(at->monotonic_ns / 1000000));
	/* Two incidents in one millisecond of one boot: only a recording can do that. */
	for (int k = 2; find_id(s, inc->id) && k < 100; k++)
		snprintf(inc->id, sizeof(inc->id), "%.8s-%lld-%d",
			 at->boot_id[0] ? at->boot_id : "00000000",
			 (long long)(at->monotonic_ns / 1000000), k);
	inc->opened_mono_ns = at->monotonic_ns;
	inc->opened_real_ns = at->realtime_ns;
	inc->at_risk = -1;
	s->v[s->n++] = inc;
	return inc;
}

static int open_from_pending(struct incidents *s, const struct event *at, uint64_t cpu_state,
			     struct evlist *out)
{
	struct incident *inc = incident_new(s, at);
	int ret = 0;

	if (!inc)
		return -ENOMEM;
	for (size_t i = 0; i < s->npending && ret >= 0; i++)
		ret = join(s, inc, s->pending[i], cpu_state);
	pending_clear(s);
	return ret < 0 ? ret : issue(s, inc, out);
}

static int pending_add(struct incidents *s, const struct event *e)
{
	size_t k = 0;
	struct event *c;

	/* Evidence that left the window of the newest can no longer fuse with it. */
	for (size_t i = 0; i < s->npending; i++) {
		if (s->pending[i]->monotonic_ns < e->monotonic_ns - s->o.window_ns)
			event__free(s->pending[i]);
		else
			s->pending[k++] = s->pending[i];
	}
	s->npending = k;
	if (s->npending == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct event **a = realloc(s->pending, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		s->pending = a;
		s->cap = cap;
	}
	c = event_copy(e);
	if (!c)
		return -ENOMEM;
	s->pending[s->npending++] = c;
	return 0;
}

bool incident_pending(const struct incidents *s, const struct incident *inc, int64_t mono_ns)
{
	return mono_ns - inc->last_mono_ns < s->o.window_ns;
}

int incidents_feed(struct incidents *s, const struct event *e, uint64_t cpu_state,
		   struct evlist *out)
{
	struct incident *inc = newest_open(s);
	struct verdict_reason w;
	struct verdict_result r;
	int ret;

	if (e->kind == EV_MIGRATION_SUSPECTED || e->kind == EV_MIGRATION_RESOLVED ||
	    !verdict_weigh(e, &w))
		return 0;
	/* A move to yet another CPU is the next migration, not more of this one. */
	if (inc && e->kind == EV_CPUID_DRIFT && inc->has_after && cpu_state != inc->after)
		inc = NULL;
	if (inc && e->monotonic_ns - inc->last_mono_ns <= s->o.window_ns) {
		ret = join(s, inc, e, cpu_state);
		return ret > 0 ? issue(s, inc, out) : ret;
	}
	ret = pending_add(s, e);
	if (ret)
		return ret;
	ret = verdict_fuse(s->pending, s->npending, &s->o.vo, &r);
	if (ret)
		return ret;
	if (r.conf >= CONF_LOW)
		ret = open_from_pending(s, e, cpu_state, out);
	verdict_result_clear(&r);
	return ret;
}

static int close_incident(struct incident *inc, const char *why, int64_t mono_ns, int64_t real_ns,
			  struct evlist *out)
{
	size_t nreasons = json_object_array_length(inc->tally.reasons);
	size_t ncas = json_object_array_length(inc->casualties);
	struct event *e = event__new(EV_MIGRATION_RESOLVED, SEV_NOTICE);
	struct json_object *b;

	inc->closed = true;
	inc->dirty = true;
	snprintf(inc->close_reason, sizeof(inc->close_reason), "%s", why);
	if (!e)
		return -ENOMEM;
	if (mono_ns) {
		e->monotonic_ns = mono_ns;
		e->realtime_ns = real_ns;
	}
	inc->closed_real_ns = e->realtime_ns;
	snprintf(e->subject, sizeof(e->subject), "%s", inc->id);
	snprintf(e->summary, sizeof(e->summary),
		 "incident %s resolved (%s): %s confidence, %zu reason%s, %zu casualt%s", inc->id,
		 why, verdict_confidence_name(inc->conf), nreasons, nreasons == 1 ? "" : "s", ncas,
		 ncas == 1 ? "y" : "ies");
	b = e->body;
	json_object_object_add(b, "incident_id", json_object_new_string(inc->id));
	json_object_object_add(b, "why", json_object_new_string(why));
	json_object_object_add(b, "confidence",
			       json_object_new_string(verdict_confidence_name(inc->conf)));
	json_object_object_add(b, "incident_severity",
			       json_object_new_string(severity_name(inc->sev)));
	json_object_object_add(b, "opened_real_ns", json_object_new_int64(inc->opened_real_ns));
	json_object_object_add(b, "change_real_ns",
			       json_object_new_int64(inc->tally.first_real_ns));
	json_object_object_add(b, "last_evidence_real_ns",
			       json_object_new_int64(inc->tally.last_real_ns));
	json_object_object_add(b, "issues", json_object_new_int(inc->issues));
	json_object_object_add(b, "reasons", json_object_get(inc->tally.reasons));
	json_object_object_add(b, "casualties", json_object_get(inc->casualties));
	json_object_object_add(b, "survived", json_object_get(inc->survived));
	if (inc->at_risk >= 0)
		json_object_object_add(b, "at_risk", json_object_new_int64(inc->at_risk));
	return evlist_push(out, e);
}

/* The realtime of @mono_ns, from the incident's newest evidence (no clock is read here). */
static int64_t real_at(const struct incident *inc, int64_t mono_ns)
{
	return inc->tally.last_real_ns + (mono_ns - inc->tally.last_mono_ns);
}

/* Nothing lost: nothing at risk.  Else what the last count said (-1: not counted). */
static bool nothing_at_risk(const struct incident *inc)
{
	return !inc->tally.loss || inc->at_risk == 0;
}

int incidents_flush(struct incidents *s, int64_t mono_ns, struct evlist *out)
{
	int ret = 0;

	if (mono_ns == INT64_MAX)
		return 0;
	for (int i = 0; i < s->n && !ret; i++) {
		struct incident *inc = s->v[i];
		int64_t quiet_at = inc->last_mono_ns + s->o.quiet_ns;

		if (inc->closed)
			continue;
		/* Stamped when it became quiet, not when someone noticed: replays agree. */
		if (mono_ns >= quiet_at)
			ret = close_incident(inc, "quiet", quiet_at, real_at(inc, quiet_at), out);
		else if (nothing_at_risk(inc) && !incident_pending(s, inc, mono_ns))
			ret = close_incident(inc, "nothing at risk",
					     inc->last_mono_ns + s->o.window_ns,
					     real_at(inc, inc->last_mono_ns + s->o.window_ns), out);
	}
	return ret;
}

int incidents_at_risk(struct incidents *s, const char *id, int64_t n, int64_t mono_ns,
		      struct evlist *out)
{
	struct incident *inc = find_id(s, id);

	if (!inc)
		return -ENOENT;
	if (inc->at_risk != n)
		inc->dirty = true;
	inc->at_risk = n;
	inc->at_risk_mono_ns = mono_ns;
	if (inc->closed || !nothing_at_risk(inc) || incident_pending(s, inc, mono_ns))
		return 0;
	return close_incident(inc, "nothing at risk", mono_ns, real_at(inc, mono_ns), out);
}

int incidents_list(const struct incidents *s, const struct incident *const **v)
{
	*v = (const struct incident *const *)s->v;
	return s->n;
}

void incidents_clean(struct incidents *s)
{
	int k = 0;

	for (int i = 0; i < s->n; i++) {
		s->v[i]->dirty = false;
		if (s->v[i]->closed)
			incident_free(s->v[i]);
		else
			s->v[k++] = s->v[i];
	}
	s->n = k;
}

/* --- the stored form ---------------------------------------------------------------------- */

struct json_object *incident_to_json(const struct incident *inc, const struct incident_opts *o)
{
	struct json_object *j = json_object_new_object();
	char after[20];

	if (!j)
		return NULL;
	snprintf(after, sizeof(after), "%016llx", (unsigned long long)inc->after);
	json_object_object_add(j, "id", json_object_new_string(inc->id));
	json_object_object_add(j, "boot_id", json_object_new_string(inc->boot_id));
	json_object_object_add(j, "state", json_object_new_string(inc->closed ? "closed" : "open"));
	json_object_object_add(j, "confidence",
			       json_object_new_string(verdict_confidence_name(inc->conf)));
	json_object_object_add(j, "severity", json_object_new_string(severity_name(inc->sev)));
	json_object_object_add(j, "opened_mono_ns", json_object_new_int64(inc->opened_mono_ns));
	json_object_object_add(j, "opened_real_ns", json_object_new_int64(inc->opened_real_ns));
	json_object_object_add(j, "last_mono_ns", json_object_new_int64(inc->last_mono_ns));
	json_object_object_add(j, "last_real_ns", json_object_new_int64(inc->tally.last_real_ns));
	json_object_object_add(j, "change_real_ns",
			       json_object_new_int64(inc->tally.first_real_ns));
	if (inc->closed) {
		json_object_object_add(j, "closed_real_ns",
				       json_object_new_int64(inc->closed_real_ns));
		json_object_object_add(j, "close_reason",
				       json_object_new_string(inc->close_reason));
	}
	if (inc->has_after)
		json_object_object_add(j, "after", json_object_new_string(after));
	json_object_object_add(j, "issues", json_object_new_int(inc->issues));
	json_object_object_add(j, "score", json_object_new_int(inc->tally.score));
	json_object_object_add(
		j, "reasons_count",
		json_object_new_int((int)json_object_array_length(inc->tally.reasons)));
	json_object_object_add(j, "at_risk", json_object_new_int64(inc->at_risk));
	json_object_object_add(j, "window_ns", json_object_new_int64(o->window_ns));
	json_object_object_add(j, "tally", verdict_tally_to_json(&inc->tally));
	json_object_object_add(j, "casualties", json_object_get(inc->casualties));
	json_object_object_add(j, "survived", json_object_get(inc->survived));
	return j;
}

static bool member(struct json_object *j, const char *k, json_type t, struct json_object **v)
{
	return json_object_object_get_ex(j, k, v) && json_object_is_type(*v, t);
}

static int lookup_name(const char *name, const char *(*namer)(int), int max)
{
	for (int i = 0; i <= max; i++)
		if (!strcmp(namer(i), name))
			return i;
	return -1;
}

static const char *conf_namer(int i)
{
	return verdict_confidence_name(i);
}

static const char *sev_namer(int i)
{
	return severity_name(i);
}

int incidents_restore(struct incidents *s, struct json_object *j, const char *boot_id,
		      struct evlist *out)
{
	struct json_object *v, *id, *boot, *conf, *sev, *cas, *sur, *tally;
	struct incident *inc;
	int c, sv;

	if (!j || !member(j, "id", json_type_string, &id) ||
	    !member(j, "boot_id", json_type_string, &boot) ||
	    !member(j, "confidence", json_type_string, &conf) ||
	    !member(j, "severity", json_type_string, &sev) ||
	    !member(j, "casualties", json_type_array, &cas) ||
	    !member(j, "survived", json_type_array, &sur) ||
	    !member(j, "tally", json_type_object, &tally) ||
	    (c = lookup_name(json_object_get_string(conf), conf_namer, CONF_HIGH)) < 0 ||
	    (sv = lookup_name(json_object_get_string(sev), sev_namer, SEV_CRITICAL)) < 0)
		return -EINVAL;
	if (member(j, "state", json_type_string, &v) && strcmp(json_object_get_string(v), "open"))
		return 0;
	if (find_id(s, json_object_get_string(id)))
		return 0;
	if (s->n == MAX_HELD)
		return -ENOSPC;
	inc = calloc(1, sizeof(*inc));
	if (!inc)
		return -ENOMEM;
	if (verdict_tally_from_json(tally, &inc->tally)) {
		free(inc);
		return -EINVAL;
	}
	snprintf(inc->id, sizeof(inc->id), "%s", json_object_get_string(id));
	snprintf(inc->boot_id, sizeof(inc->boot_id), "%s", json_object_get_string(boot));
	inc->conf = c;
	inc->sev = sv;
	inc->casualties = json_object_get(cas);
	inc->survived = json_object_get(sur);
	if (member(j, "opened_mono_ns", json_type_int, &v))
		inc->opened_mono_ns = json_object_get_int64(v);
	if (member(j, "opened_real_ns", json_type_int, &v))
		inc->opened_real_ns = json_object_get_int64(v);
	if (member(j, "last_mono_ns", json_type_int, &v))
		inc->last_mono_ns = json_object_get_int64(v);
	if (member(j, "issues", json_type_int, &v))
		inc->issues = json_object_get_int(v);
	if (member(j, "after", json_type_string, &v)) {
		inc->has_after = true;
		inc->after = strtoull(json_object_get_string(v), NULL, 16);
	}
	inc->at_risk = -1;
	s->v[s->n++] = inc;
	/* Its processes died with the boot they ran in. */
	if (strcmp(inc->boot_id, boot_id))
		return close_incident(inc, "reboot", 0, 0, out);
	return 0;
}
