// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/classify.h"
#include "analysis/verdict.h"

static const char *const conf_names[] = {
	[CONF_NONE] = "none",
	[CONF_LOW] = "low",
	[CONF_MEDIUM] = "medium",
	[CONF_HIGH] = "high",
};

const char *verdict_confidence_name(enum confidence c)
{
	return (unsigned)c <= CONF_HIGH ? conf_names[c] : "unknown";
}

void verdict_opts_default(struct verdict_opts *o)
{
	*o = (struct verdict_opts){
		.window_ns = 300 * 1000000000LL,
		.low = 2,
		.medium = 3,
		.high = 5,
	};
}

/* The weights, as data (see verdict.h for the reasoning).  variant NULL: any. */
static const struct weight {
	enum event_kind kind;
	const char *variant;
	int weight;
	bool forces_high;
	bool hardware;
} weights[] = {
	{ EV_CPUID_DRIFT, NULL, 3, false, true },
	{ EV_PROBE_SHADOW_DRIFT, NULL, 3, false, true },
	{ EV_TIMING_TSC_RATE, NULL, 3, false, true },
	{ EV_FAULT_SIGILL, "migration", 3, true, true },
	{ EV_FAULT_SIGILL, "unconfirmed", 1, false, false },
	{ EV_TIMING_CLOCK_STEP, "host", 2, false, false },
	{ EV_PROBE_MISMATCH, NULL, 2, false, true },
	{ EV_TIMING_CLOCK_STEP, "realtime", 1, false, false },
	{ EV_TIMING_STALL, "vm", 1, false, false },
	{ EV_TIMING_CLOCKSOURCE, NULL, 1, false, false },
	{ EV_TIMING_STEAL, NULL, 1, false, false },
	{ EV_TIMING_CPUID_LATENCY, NULL, 1, false, false },
	{ EV_CPUID_VCPU_MISMATCH, NULL, 1, false, true },
};

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

static const char *variant_of(const struct event *e)
{
	switch (e->kind) {
	case EV_TIMING_STALL:
		return body_str(e, "scope");
	case EV_TIMING_CLOCK_STEP:
		return strcmp(e->subject, "realtime") ? "host" : "realtime";
	case EV_FAULT_SIGILL:
		/* A tracer may have injected the signal or the bytes: never evidence. */
		if (!strcmp(body_str(e, "origin"), "traced"))
			return "traced";
		/* Bytes that changed under the watcher could claim any feature: a probe confirms. */
		if (!strcmp(body_str(e, "class"), fault_class_name(FC_ADVERTISED_BUT_FAULTING)) &&
		    !body_bool(e, "probe_confirms"))
			return "unconfirmed";
		return fault_class_is_migration(body_str(e, "class")) ? "migration" : "other";
	default:
		return NULL;
	}
}

int verdict_weigh(const struct event *e, struct verdict_reason *r)
{
	const char *var = variant_of(e);

	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < sizeof(weights) / sizeof(weights[0]); i++) {
		const struct weight *w = &weights[i];

		if (w->kind != e->kind || (w->variant && (!var || strcmp(w->variant, var))))
			continue;
		snprintf(r->key, sizeof(r->key), "%s%s%s", event_kind_names[e->kind],
			 var ? "/" : "", var ? var : "");
		r->weight = w->weight;
		r->forces_high = w->forces_high;
		r->hardware = w->hardware;
		break;
	}
	return r->weight;
}

static struct json_object *reason_json(const struct event *e, const struct verdict_reason *r)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "kind", json_object_new_string(event_kind_names[e->kind]));
	json_object_object_add(o, "reason", json_object_new_string(r->key));
	json_object_object_add(o, "subject", json_object_new_string(e->subject));
	json_object_object_add(o, "weight", json_object_new_int(r->weight));
	json_object_object_add(o, "count", json_object_new_int(1));
	json_object_object_add(o, "summary", json_object_new_string(e->summary));
	json_object_object_add(o, "realtime_ns", json_object_new_int64(e->realtime_ns));
	json_object_object_add(o, "monotonic_ns", json_object_new_int64(e->monotonic_ns));
	return o;
}

/* The entry of @reasons with key @key, or NULL. */
static struct json_object *find_reason(struct json_object *reasons, const char *key)
{
	size_t n = json_object_array_length(reasons);

	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(reasons, i), *k;

		if (json_object_object_get_ex(o, "reason", &k) &&
		    !strcmp(json_object_get_string(k), key))
			return o;
	}
	return NULL;
}

/* --- the tally ---------------------------------------------------------------------------- */

int verdict_tally_init(struct verdict_tally *t)
{
	memset(t, 0, sizeof(*t));
	t->reasons = json_object_new_array();
	return t->reasons ? 0 : -ENOMEM;
}

void verdict_tally_clear(struct verdict_tally *t)
{
	json_object_put(t->reasons);
	memset(t, 0, sizeof(*t));
}

int verdict_tally_add(struct verdict_tally *t, const struct event *e)
{
	struct json_object *have, *cnt, *r;
	struct verdict_reason w;

	if (!verdict_weigh(e, &w))
		return 0;
	if (!t->score || e->monotonic_ns < t->first_mono_ns) {
		t->first_mono_ns = e->monotonic_ns;
		t->first_real_ns = e->realtime_ns;
	}
	if (!t->score || e->monotonic_ns > t->last_mono_ns) {
		t->last_mono_ns = e->monotonic_ns;
		t->last_real_ns = e->realtime_ns;
	}
	t->forced |= w.forces_high;
	t->hardware |= w.hardware;
	t->loss |= w.forces_high || e->sev == SEV_CRITICAL;
	have = find_reason(t->reasons, w.key);
	if (have) {
		json_object_object_get_ex(have, "count", &cnt);
		json_object_set_int(cnt, json_object_get_int(cnt) + 1);
		return 0;
	}
	r = reason_json(e, &w);
	if (!r || json_object_array_add(t->reasons, r)) {
		json_object_put(r);
		return -ENOMEM;
	}
	t->score += w.weight;
	return 1;
}

enum confidence verdict_tally_confidence(const struct verdict_tally *t,
					 const struct verdict_opts *o)
{
	enum confidence c = CONF_NONE;

	if (t->forced || t->score >= o->high)
		c = CONF_HIGH;
	else if (t->score >= o->medium)
		c = CONF_MEDIUM;
	else if (t->score >= o->low)
		c = CONF_LOW;
	if (!t->hardware && c > CONF_LOW)
		c = CONF_LOW;
	return c;
}

void verdict_tally_result(const struct verdict_tally *t, const struct verdict_opts *o,
			  struct verdict_result *r)
{
	memset(r, 0, sizeof(*r));
	r->conf = verdict_tally_confidence(t, o);
	r->score = t->score;
	r->first_mono_ns = t->first_mono_ns;
	r->first_real_ns = t->first_real_ns;
	r->last_mono_ns = t->last_mono_ns;
	r->last_real_ns = t->last_real_ns;
	r->hardware = t->hardware;
	r->loss = t->loss;
	r->reasons = json_object_get(t->reasons);
}

struct json_object *verdict_tally_to_json(const struct verdict_tally *t)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "score", json_object_new_int(t->score));
	json_object_object_add(o, "forced", json_object_new_boolean(t->forced));
	json_object_object_add(o, "hardware", json_object_new_boolean(t->hardware));
	json_object_object_add(o, "loss", json_object_new_boolean(t->loss));
	json_object_object_add(o, "first_mono_ns", json_object_new_int64(t->first_mono_ns));
	json_object_object_add(o, "first_real_ns", json_object_new_int64(t->first_real_ns));
	json_object_object_add(o, "last_mono_ns", json_object_new_int64(t->last_mono_ns));
	json_object_object_add(o, "last_real_ns", json_object_new_int64(t->last_real_ns));
	json_object_object_add(o, "reasons", json_object_get(t->reasons));
	return o;
}

static bool get_member(struct json_object *j, const char *k, json_type type, struct json_object **v)
{
	return json_object_object_get_ex(j, k, v) && json_object_is_type(*v, type);
}

int verdict_tally_from_json(struct json_object *j, struct verdict_tally *t)
{
	static const char *const times[] = { "first_mono_ns", "first_real_ns", "last_mono_ns",
					     "last_real_ns" };
	int64_t *dst[] = { &t->first_mono_ns, &t->first_real_ns, &t->last_mono_ns,
			   &t->last_real_ns };
	struct json_object *v, *r;

	memset(t, 0, sizeof(*t));
	if (!j || !get_member(j, "reasons", json_type_array, &r) ||
	    !get_member(j, "score", json_type_int, &v))
		return -EINVAL;
	t->score = json_object_get_int(v);
	for (size_t i = 0; i < 4; i++) {
		if (!get_member(j, times[i], json_type_int, &v))
			return -EINVAL;
		*dst[i] = json_object_get_int64(v);
	}
	t->forced = get_member(j, "forced", json_type_boolean, &v) && json_object_get_boolean(v);
	t->hardware =
		get_member(j, "hardware", json_type_boolean, &v) && json_object_get_boolean(v);
	t->loss = get_member(j, "loss", json_type_boolean, &v) && json_object_get_boolean(v);
	/* Each reason must name its key, or a repeat could not find it. */
	for (size_t i = 0; i < json_object_array_length(r); i++)
		if (!get_member(json_object_array_get_idx(r, i), "reason", json_type_string, &v))
			return -EINVAL;
	t->reasons = json_object_get(r);
	return 0;
}

/* --- a window ----------------------------------------------------------------------------- */

static int cmp_mono(const void *a, const void *b)
{
	const struct event *x = *(struct event *const *)a, *y = *(struct event *const *)b;

	return (x->monotonic_ns > y->monotonic_ns) - (x->monotonic_ns < y->monotonic_ns);
}

int verdict_fuse(struct event *const *ev, size_t n, const struct verdict_opts *o,
		 struct verdict_result *r)
{
	struct verdict_tally t;
	struct event **sorted = NULL;
	int64_t newest = INT64_MIN;
	int ret;

	memset(r, 0, sizeof(*r));
	ret = verdict_tally_init(&t);
	if (ret)
		return ret;
	if (n) {
		sorted = malloc(n * sizeof(*sorted));
		if (!sorted) {
			verdict_tally_clear(&t);
			return -ENOMEM;
		}
		memcpy(sorted, ev, n * sizeof(*sorted));
		qsort(sorted, n, sizeof(*sorted), cmp_mono);
	}
	for (size_t i = 0; i < n; i++) {
		struct verdict_reason w;

		if (verdict_weigh(sorted[i], &w) && sorted[i]->monotonic_ns > newest)
			newest = sorted[i]->monotonic_ns;
	}
	/* Nothing weighs: nothing to tally (and no newest to measure the window from). */
	for (size_t i = 0; i < n && ret >= 0 && newest != INT64_MIN; i++)
		if (sorted[i]->monotonic_ns >= newest - o->window_ns)
			ret = verdict_tally_add(&t, sorted[i]);
	free(sorted);
	if (ret >= 0)
		verdict_tally_result(&t, o, r);
	verdict_tally_clear(&t);
	return ret < 0 ? ret : 0;
}

void verdict_result_clear(struct verdict_result *r)
{
	json_object_put(r->reasons);
	memset(r, 0, sizeof(*r));
}

static const enum severity conf_sev[] = {
	[CONF_NONE] = SEV_INFO,
	[CONF_LOW] = SEV_NOTICE,
	[CONF_MEDIUM] = SEV_WARNING,
	[CONF_HIGH] = SEV_CRITICAL,
};

enum severity verdict_severity(const struct verdict_result *r)
{
	enum severity sev = conf_sev[r->conf];

	/* Gains and pauses are news; only a loss puts programs at risk. */
	if (!r->loss && sev > SEV_WARNING)
		sev = SEV_WARNING;
	return sev;
}

struct event *verdict_event(const struct verdict_result *r, const struct verdict_opts *o)
{
	size_t n = json_object_array_length(r->reasons), len;
	struct json_object *b;
	struct event *e = event__new(EV_MIGRATION_SUSPECTED, verdict_severity(r));

	if (!e)
		return NULL;
	e->monotonic_ns = r->last_mono_ns;
	e->realtime_ns = r->last_real_ns;
	snprintf(e->subject, sizeof(e->subject), "%s", verdict_confidence_name(r->conf));
	len = snprintf(e->summary, sizeof(e->summary),
		       "migration suspected (%s confidence):", verdict_confidence_name(r->conf));
	for (size_t i = 0; i < n && len < sizeof(e->summary); i++) {
		struct json_object *k;

		json_object_object_get_ex(json_object_array_get_idx(r->reasons, i), "reason", &k);
		len += snprintf(e->summary + len, sizeof(e->summary) - len, "%s %s", i ? "," : "",
				json_object_get_string(k));
	}
	b = e->body;
	json_object_object_add(b, "confidence",
			       json_object_new_string(verdict_confidence_name(r->conf)));
	json_object_object_add(b, "score", json_object_new_int(r->score));
	json_object_object_add(b, "window_ns", json_object_new_int64(o->window_ns));
	json_object_object_add(b, "change_mono_ns", json_object_new_int64(r->first_mono_ns));
	json_object_object_add(b, "change_real_ns", json_object_new_int64(r->first_real_ns));
	json_object_object_add(b, "reasons", json_object_get(r->reasons));
	return e;
}
