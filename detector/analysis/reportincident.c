// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "analysis/report.h"
#include "analysis/reportincident.h"

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* @key of @o when it is an integer. */
static bool get_i64(struct json_object *o, const char *key, int64_t *out)
{
	struct json_object *v = get(o, key);

	if (!v || !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return true;
}

/* @key of @src, only when of type @t (a stored incident is read, not trusted to be whole). */
static void copy_typed(struct json_object *dst, struct json_object *src, const char *key,
		       json_type t)
{
	struct json_object *v = get(src, key);

	if (v && json_object_is_type(v, t))
		json_object_object_add(dst, key, json_object_get(v));
}

/* "<key>" as the report's time and "<key>_real_ns" as stored, from @src's @src_key. */
static void add_time(struct json_object *dst, const char *key, struct json_object *src,
		     const char *src_key)
{
	char name[64], buf[40];
	int64_t ns;

	if (!get_i64(src, src_key, &ns) || ns <= 0)
		return;
	report_time_iso(ns, buf, sizeof(buf));
	json_object_object_add(dst, key, json_object_new_string(buf));
	snprintf(name, sizeof(name), "%s_real_ns", key);
	json_object_object_add(dst, name, json_object_new_int64(ns));
}

struct json_object *reportincident_issue(const struct event *e)
{
	struct json_object *o = json_object_new_object(), *r;
	char buf[40];

	if (!o)
		return NULL;
	report_time_iso(e->realtime_ns, buf, sizeof(buf));
	json_object_object_add(o, "time", json_object_new_string(buf));
	json_object_object_add(o, "realtime_ns", json_object_new_int64(e->realtime_ns));
	json_object_object_add(o, "kind", json_object_new_string(event_kind_names[e->kind]));
	json_object_object_add(o, "severity", json_object_new_string(severity_name(e->sev)));
	copy_typed(o, e->body, "issue", json_type_int);
	copy_typed(o, e->body, "confidence", json_type_string);
	copy_typed(o, e->body, "score", json_type_int);
	copy_typed(o, e->body, "previous_confidence", json_type_string);
	copy_typed(o, e->body, "previous_severity", json_type_string);
	copy_typed(o, e->body, "why", json_type_string);
	r = get(e->body, "reasons");
	if (r && json_object_is_type(r, json_type_array))
		json_object_object_add(o, "reasons",
				       json_object_new_int((int)json_object_array_length(r)));
	json_object_object_add(o, "summary", json_object_new_string(e->summary));
	return o;
}

/* The unit one of @procs names for @pid, or NULL. */
static struct json_object *unit_of(int pid, struct json_object *const *procs, size_t nprocs)
{
	for (size_t l = 0; l < nprocs; l++) {
		struct json_object *a = procs[l];

		for (size_t i = 0; a && i < json_object_array_length(a); i++) {
			struct json_object *p = json_object_array_get_idx(a, i),
					   *u = get(p, "unit");
			int64_t q;

			if (get_i64(p, "pid", &q) && q == pid && u &&
			    json_object_is_type(u, json_type_string))
				return u;
		}
	}
	return NULL;
}

/* The incident's own casualties or survivors, with their time and, when known, unit. */
static struct json_object *procs_of(struct json_object *stored, const char *key,
				    struct json_object *const *procs, size_t nprocs)
{
	struct json_object *in = get(stored, key), *out = json_object_new_array();
	static const char *const strs[] = { "comm", "exe", "feature", "class" };

	for (size_t i = 0; out && in && json_object_is_type(in, json_type_array) &&
			   i < json_object_array_length(in);
	     i++) {
		struct json_object *p = json_object_array_get_idx(in, i), *o, *u;
		int64_t pid;

		if (!get_i64(p, "pid", &pid))
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "pid", json_object_new_int64(pid));
		for (size_t k = 0; k < sizeof(strs) / sizeof(strs[0]); k++)
			copy_typed(o, p, strs[k], json_type_string);
		add_time(o, "time", p, "realtime_ns");
		u = unit_of((int)pid, procs, nprocs);
		if (u)
			json_object_object_add(o, "unit", json_object_get(u));
		json_object_array_add(out, o);
	}
	return out;
}

struct json_object *reportincident_brief(struct json_object *stored)
{
	struct json_object *o;

	if (!stored || !(o = json_object_new_object()))
		return NULL;
	copy_typed(o, stored, "id", json_type_string);
	copy_typed(o, stored, "state", json_type_string);
	copy_typed(o, stored, "confidence", json_type_string);
	copy_typed(o, stored, "severity", json_type_string);
	copy_typed(o, stored, "reasons_count", json_type_int);
	add_time(o, "opened", stored, "opened_real_ns");
	add_time(o, "last_evidence", stored, "last_real_ns");
	return o;
}

struct json_object *reportincident_section(struct json_object *stored, struct json_object *history,
					   int64_t nhistory, struct json_object *const *procs,
					   size_t nprocs)
{
	struct json_object *o = reportincident_brief(stored), *h, *reasons;
	int64_t at_risk;

	if (!o)
		return NULL;
	copy_typed(o, stored, "score", json_type_int);
	copy_typed(o, stored, "issues", json_type_int);
	add_time(o, "first_evidence", stored, "change_real_ns");
	add_time(o, "closed", stored, "closed_real_ns");
	copy_typed(o, stored, "close_reason", json_type_string);
	/* -1: the daemon never counted them (a replay never does). */
	json_object_object_add(o, "at_risk",
			       get_i64(stored, "at_risk", &at_risk) && at_risk >= 0 ?
				       json_object_new_int64(at_risk) :
				       NULL);
	reasons = get(get(stored, "tally"), "reasons");
	json_object_object_add(o, "reasons",
			       reasons && json_object_is_type(reasons, json_type_array) ?
				       json_object_get(reasons) :
				       json_object_new_array());
	json_object_object_add(o, "casualties", procs_of(stored, "casualties", procs, nprocs));
	json_object_object_add(o, "survived", procs_of(stored, "survived", procs, nprocs));
	h = json_object_new_object();
	json_object_object_add(h, "total", json_object_new_int64(nhistory));
	json_object_object_add(h, "list", json_object_get(history));
	json_object_object_add(o, "history", h);
	return o;
}
