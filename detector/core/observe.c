// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/observe.h"

#define OBS_VALUE_MAX (1LL << 62)

const char *const obs_source_names[OBS__COUNT] = {
#define X(id, name, desc) [OBS_##id] = name,
	OBS_SOURCES(X)
#undef X
};

/* The JSON form of each source, as data: value field names (in union order) and text key. */
struct obs_form {
	const char *fields[3];
	const char *text_key; /* NULL: the source carries no text */
};

static const struct obs_form forms[OBS__COUNT] = {
	[OBS_STALL] = { { "cpu", "lateness_ns", "online" } },
	[OBS_CLOCK_STEP] = { { "step_ns" } },
	[OBS_HOSTCLOCK] = { { "offset_ns", "err_ns" }, "clock" },
	[OBS_TSC] = { { "hz", "interval_ns", "ref_hz" } },
	[OBS_CLOCKSOURCE] = { {}, "name" },
	[OBS_KMSG] = { {}, "msg" },
	[OBS_STEAL] = { { "steal_ns", "interval_ns", "ncpu" } },
	[OBS_CPUID_LAT] = { { "median_ns", "p90_ns", "n" } },
	[OBS_HRE] = { { "count" } },
};

int observe_source_lookup(const char *name)
{
	for (int i = 0; i < OBS__COUNT; i++)
		if (!strcmp(obs_source_names[i], name))
			return i;
	return -1;
}

void observe_init(struct observation *o, enum obs_source src)
{
	memset(o, 0, sizeof(*o));
	o->src = src;
	o->mono_ns = clock_ns(CLOCK_MONOTONIC);
	o->real_ns = clock_ns(CLOCK_REALTIME);
}

struct json_object *observe_to_json(const struct observation *o)
{
	const struct obs_form *f = &forms[o->src];
	struct json_object *j = json_object_new_object();

	if (!j)
		return NULL;
	json_object_object_add(j, "src", json_object_new_string(obs_source_names[o->src]));
	json_object_object_add(j, "mono_ns", json_object_new_int64(o->mono_ns));
	json_object_object_add(j, "real_ns", json_object_new_int64(o->real_ns));
	for (int i = 0; i < 3 && f->fields[i]; i++)
		json_object_object_add(j, f->fields[i], json_object_new_int64(o->v[i]));
	if (f->text_key)
		json_object_object_add(j, f->text_key, json_object_new_string(o->text));
	return j;
}

static int get_int(struct json_object *j, const char *key, int64_t *out, bool required,
		   struct errbuf *err)
{
	struct json_object *v;

	if (!json_object_object_get_ex(j, key, &v)) {
		if (required)
			errbuf_set(err, "missing \"%s\"", key);
		return required ? -EINVAL : 0;
	}
	if (!json_object_is_type(v, json_type_int)) {
		errbuf_set(err, "\"%s\" is not an integer", key);
		return -EINVAL;
	}
	*out = json_object_get_int64(v);
	/* Room for the sums and differences the rules take, so hostile values cannot overflow. */
	if (*out > OBS_VALUE_MAX || *out < -OBS_VALUE_MAX) {
		errbuf_set(err, "\"%s\" is out of range", key);
		return -EINVAL;
	}
	return 0;
}

int observe_from_json(struct json_object *j, struct observation *o, struct errbuf *err)
{
	struct json_object *v;
	const struct obs_form *f;
	int src;

	memset(o, 0, sizeof(*o));
	if (!json_object_is_type(j, json_type_object)) {
		errbuf_set(err, "not a JSON object");
		return -EINVAL;
	}
	if (!json_object_object_get_ex(j, "src", &v) || !json_object_is_type(v, json_type_string)) {
		errbuf_set(err, "missing \"src\"");
		return -EINVAL;
	}
	src = observe_source_lookup(json_object_get_string(v));
	if (src < 0) {
		errbuf_set(err, "unknown source \"%.40s\"", json_object_get_string(v));
		return -EINVAL;
	}
	o->src = src;
	f = &forms[src];
	if (get_int(j, "mono_ns", &o->mono_ns, true, err) ||
	    get_int(j, "real_ns", &o->real_ns, false, err))
		return -EINVAL;
	for (int i = 0; i < 3 && f->fields[i]; i++)
		if (get_int(j, f->fields[i], &o->v[i], false, err))
			return -EINVAL;
	if (f->text_key && json_object_object_get_ex(j, f->text_key, &v)) {
		if (!json_object_is_type(v, json_type_string)) {
			errbuf_set(err, "\"%s\" is not a string", f->text_key);
			return -EINVAL;
		}
		snprintf(o->text, sizeof(o->text), "%s", json_object_get_string(v));
	}
	return 0;
}

struct event *observe_event(const struct observation *o, enum event_kind kind, enum severity sev,
			    const char *subject, const char *fmt, ...)
{
	struct event *e = event__new(kind, sev);
	va_list ap;

	if (!e)
		return NULL;
	e->monotonic_ns = o->mono_ns;
	e->realtime_ns = o->real_ns;
	snprintf(e->subject, sizeof(e->subject), "%s", subject);
	va_start(ap, fmt);
	vsnprintf(e->summary, sizeof(e->summary), fmt, ap);
	va_end(ap);
	return e;
}
