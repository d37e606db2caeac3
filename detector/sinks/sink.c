// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <string.h>

#include "core/features.h"
#include "sinks/sink.h"

static void body_str(const struct event *e, const char *key, char *dst, size_t size)
{
	struct json_object *v;

	*dst = 0;
	if (!e->body || !json_object_object_get_ex(e->body, key, &v) || !v)
		return;
	if (json_object_is_type(v, json_type_double))
		snprintf(dst, size, "%.3g", json_object_get_double(v));
	else
		snprintf(dst, size, "%s", json_object_get_string(v));
}

void sink_fields_get(const struct event *e, struct sink_fields *f)
{
	memset(f, 0, sizeof(*f));
	f->kind = event_kind_names[e->kind];
	f->severity = severity_name(e->sev);
	body_str(e, "feature", f->feature, sizeof(f->feature));
	if (!*f->feature && feature_lookup(e->subject) >= 0)
		snprintf(f->feature, sizeof(f->feature), "%s", e->subject);
	body_str(e, "class", f->class_, sizeof(f->class_));
	body_str(e, "confidence", f->confidence, sizeof(f->confidence));
	body_str(e, "comm", f->comm, sizeof(f->comm));
	body_str(e, "incident_id", f->incident, sizeof(f->incident));
	if (e->pid > 0)
		snprintf(f->pid, sizeof(f->pid), "%d", e->pid);
}
