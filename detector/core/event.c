// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/event.h"

const char *const event_kind_names[EV__COUNT] = {
#define X(id, name, desc) [EV_##id] = name,
	EVENT_KINDS(X)
#undef X
};

const char *const event_kind_descs[EV__COUNT] = {
#define X(id, name, desc) [EV_##id] = desc,
	EVENT_KINDS(X)
#undef X
};

static const char *const sev_names[] = {
	[SEV_INFO] = "info",
	[SEV_NOTICE] = "notice",
	[SEV_WARNING] = "warning",
	[SEV_CRITICAL] = "critical",
};

const char *severity_name(enum severity s)
{
	return (unsigned)s <= SEV_CRITICAL ? sev_names[s] : "unknown";
}

int severity_lookup(const char *name)
{
	for (int i = 0; i <= SEV_CRITICAL; i++)
		if (!strcmp(sev_names[i], name))
			return i;
	return -1;
}

int event_kind_lookup(const char *name)
{
	for (int i = 0; i < EV__COUNT; i++)
		if (!strcmp(event_kind_names[i], name))
			return i;
	return -1;
}

const char *event_boot_id(void)
{
	static char id[40];
	static int done;
	FILE *f;

	if (done)
		return id;
	done = 1;
	f = fopen("/proc/sys/kernel/random/boot_id", "r");
	if (!f)
		return id;
	if (fgets(id, sizeof(id), f))
		id[strcspn(id, "\n")] = 0;
	fclose(f);
	return id;
}

struct event *event__new(enum event_kind kind, enum severity sev)
{
	struct event *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->body = json_object_new_object();
	if (!e->body) {
		free(e);
		return NULL;
	}
	e->kind = kind;
	e->sev = sev;
	e->realtime_ns = clock_ns(CLOCK_REALTIME);
	e->monotonic_ns = clock_ns(CLOCK_MONOTONIC);
	snprintf(e->boot_id, sizeof(e->boot_id), "%s", event_boot_id());
	return e;
}

void event__free(struct event *e)
{
	if (!e)
		return;
	json_object_put(e->body);
	free(e);
}

struct json_object *event_to_json(const struct event *e)
{
	struct json_object *o = json_object_new_object();
	char when[64];
	time_t t = e->realtime_ns / 1000000000;
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(e->realtime_ns % 1000000000 / 1000000));
	json_object_object_add(o, "kind", json_object_new_string(event_kind_names[e->kind]));
	json_object_object_add(o, "severity", json_object_new_string(severity_name(e->sev)));
	json_object_object_add(o, "time", json_object_new_string(when));
	json_object_object_add(o, "realtime_ns", json_object_new_int64(e->realtime_ns));
	json_object_object_add(o, "monotonic_ns", json_object_new_int64(e->monotonic_ns));
	json_object_object_add(o, "boot_id", json_object_new_string(e->boot_id));
	json_object_object_add(o, "subject", json_object_new_string(e->subject));
	json_object_object_add(o, "pid", json_object_new_int(e->pid));
	json_object_object_add(o, "summary", json_object_new_string(e->summary));
	json_object_object_add(o, "body", json_object_get(e->body));
	return o;
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int get_i64(struct json_object *o, const char *key, int64_t *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return -1;
	*out = json_object_get_int64(v);
	return 0;
}

struct event *event_from_json(struct json_object *o)
{
	const char *kind, *sev, *s;
	struct json_object *body;
	struct event *e;
	int k, sv;
	int64_t pid = 0;

	if (!o || !json_object_is_type(o, json_type_object))
		return NULL;
	kind = get_str(o, "kind");
	sev = get_str(o, "severity");
	if (!kind || !sev || (k = event_kind_lookup(kind)) < 0 || (sv = severity_lookup(sev)) < 0)
		return NULL;
	e = event__new(k, sv);
	if (!e)
		return NULL;
	if (get_i64(o, "realtime_ns", &e->realtime_ns) ||
	    get_i64(o, "monotonic_ns", &e->monotonic_ns))
		goto bad;
	get_i64(o, "pid", &pid);
	e->pid = (int)pid;
	if ((s = get_str(o, "boot_id")))
		snprintf(e->boot_id, sizeof(e->boot_id), "%s", s);
	if ((s = get_str(o, "subject")))
		snprintf(e->subject, sizeof(e->subject), "%s", s);
	if ((s = get_str(o, "summary")))
		snprintf(e->summary, sizeof(e->summary), "%s", s);
	if (json_object_object_get_ex(o, "body", &body) &&
	    json_object_is_type(body, json_type_object)) {
		json_object_put(e->body);
		e->body = json_object_get(body);
	}
	return e;
bad:
	event__free(e);
	return NULL;
}

int evlist_push(struct evlist *l, struct event *e)
{
	if (!e)
		return -ENOMEM;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct event **v = realloc(l->v, cap * sizeof(*v));

		if (!v) {
			event__free(e);
			return -ENOMEM;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = e;
	return 0;
}

void evlist_free(struct evlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		event__free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}
