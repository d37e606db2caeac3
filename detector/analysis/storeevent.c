// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>

#include "analysis/storeevent.h"

struct event *storeevent_recovered(const struct store_recovered *r)
{
	struct event *e = event__new(EV_STORE_RECOVERED, SEV_WARNING);
	struct json_object *b;

	if (!e)
		return NULL;
	b = e->body;
	snprintf(e->subject, sizeof(e->subject), "store");
	snprintf(e->summary, sizeof(e->summary),
		 "the evidence store was corrupt and was moved aside; a new one started, %s",
		 r->baseline_kept ? "with the old baseline" :
				    "its baseline provisional until a person accepts one");
	json_object_object_add(b, "db", json_object_new_string(r->db ? r->db : ""));
	json_object_object_add(b, "moved_to",
			       json_object_new_string(r->moved_to ? r->moved_to : ""));
	json_object_object_add(b, "why", json_object_new_string(r->why ? r->why : ""));
	json_object_object_add(
		b, "baseline",
		json_object_new_string(r->baseline_kept ? "recovered" : "provisional"));
	if (r->baseline_kept)
		json_object_object_add(b, "baseline_real_ns",
				       json_object_new_int64(r->baseline_real_ns));
	return e;
}
