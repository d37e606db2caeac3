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

static int cmp_mono(const void *a, const void *b)
{
	const struct event *x = *(struct event *const *)a, *y = *(struct event *const *)b;

	return (x->monotonic_ns > y->monotonic_ns) - (x->monotonic_ns < y->monotonic_ns);
}

int verdict_fuse(struct event *const *ev, size_t n, const struct verdict_opts *o,
		 struct verdict_result *r)
{
	struct event **sorted = NULL;
	int64_t newest = INT64_MIN;
	bool forced = false;
	int ret = 0;

	memset(r, 0, sizeof(*r));
	r->reasons = json_object_new_array();
	if (!r->reasons)
		return -ENOMEM;
	if (!n)
		return 0;
	sorted = malloc(n * sizeof(*sorted));
	if (!sorted) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(sorted, ev, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_mono);
	for (size_t i = 0; i < n; i++) {
		struct verdict_reason w;

		if (verdict_weigh(sorted[i], &w) && sorted[i]->monotonic_ns > newest)
			newest = sorted[i]->monotonic_ns;
	}
	for (size_t i = 0; i < n; i++) {
		const struct event *e = sorted[i];
		struct json_object *have, *cnt;
		struct verdict_reason w;

		if (!verdict_weigh(e, &w) || e->monotonic_ns < newest - o->window_ns)
			continue;
		if (!r->score) {
			r->first_mono_ns = e->monotonic_ns;
			r->first_real_ns = e->realtime_ns;
		}
		r->last_mono_ns = e->monotonic_ns;
		r->last_real_ns = e->realtime_ns;
		forced |= w.forces_high;
		r->hardware |= w.hardware;
		r->loss |= w.forces_high || e->sev == SEV_CRITICAL;
		have = find_reason(r->reasons, w.key);
		if (have) {
			json_object_object_get_ex(have, "count", &cnt);
			json_object_set_int(cnt, json_object_get_int(cnt) + 1);
			continue;
		}
		json_object_array_add(r->reasons, reason_json(e, &w));
		r->score += w.weight;
	}
	if (forced || r->score >= o->high)
		r->conf = CONF_HIGH;
	else if (r->score >= o->medium)
		r->conf = CONF_MEDIUM;
	else if (r->score >= o->low)
		r->conf = CONF_LOW;
	if (!r->hardware && r->conf > CONF_LOW)
		r->conf = CONF_LOW;
out:
	free(sorted);
	if (ret)
		verdict_result_clear(r);
	return ret;
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

struct event *verdict_event(const struct verdict_result *r, const struct verdict_opts *o)
{
	enum severity sev = conf_sev[r->conf];
	size_t n = json_object_array_length(r->reasons), len;
	struct json_object *b;
	struct event *e;

	/* Gains and pauses are news; only a loss puts programs at risk. */
	if (!r->loss && sev > SEV_WARNING)
		sev = SEV_WARNING;
	e = event__new(EV_MIGRATION_SUSPECTED, sev);

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

/* --- streaming ---------------------------------------------------------------------------- */

struct verdict {
	struct verdict_opts opts;
	size_t n, cap;
	struct event **ev; /* evidence still inside the window */
	enum confidence reported;
};

struct verdict *verdict__new(const struct verdict_opts *o)
{
	struct verdict *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	if (o)
		v->opts = *o;
	else
		verdict_opts_default(&v->opts);
	return v;
}

void verdict__free(struct verdict *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++)
		event__free(v->ev[i]);
	free(v->ev);
	free(v);
}

static struct event *event_copy(const struct event *e)
{
	struct json_object *j = event_to_json(e);
	struct event *c = j ? event_from_json(j) : NULL;

	json_object_put(j);
	return c;
}

/* Drop evidence that left the window; an empty window starts a new episode. */
static void prune(struct verdict *v, int64_t now)
{
	size_t k = 0;

	for (size_t i = 0; i < v->n; i++) {
		if (v->ev[i]->monotonic_ns < now - v->opts.window_ns)
			event__free(v->ev[i]);
		else
			v->ev[k++] = v->ev[i];
	}
	v->n = k;
	if (!k)
		v->reported = CONF_NONE;
}

int verdict_add(struct verdict *v, const struct event *e, struct event **out)
{
	struct verdict_result r;
	struct verdict_reason w;
	struct event *c;
	int err;

	*out = NULL;
	prune(v, e->monotonic_ns);
	if (!verdict_weigh(e, &w))
		return 0;
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		struct event **a = realloc(v->ev, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		v->ev = a;
		v->cap = cap;
	}
	c = event_copy(e);
	if (!c)
		return -ENOMEM;
	v->ev[v->n++] = c;
	err = verdict_fuse(v->ev, v->n, &v->opts, &r);
	if (err)
		return err;
	if (r.conf > v->reported) {
		*out = verdict_event(&r, &v->opts);
		if (!*out)
			err = -ENOMEM;
		else
			v->reported = r.conf;
	}
	verdict_result_clear(&r);
	return err;
}
