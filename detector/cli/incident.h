/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What `report` and `evidence` read from the store for one selection: a time window now,
 * an incident once incidents are stored (the selection then resolves to the incident's
 * window and ID).  Both commands go through here, so a window and an incident always
 * select the same data.
 */
#ifndef CPUDRIFT_INCIDENT_H
#define CPUDRIFT_INCIDENT_H

#include <stdint.h>

#include <json-c/json.h>

#include "core/snapshot.h"
#include "sinks/store.h"

struct errbuf;

struct incident_sel {
	int64_t since_ns; /* realtime; 0: from the first thing stored */
	int64_t until_ns; /* realtime; 0: now */
	const char *incident; /* NULL: a plain window */
};

struct incident {
	int64_t since_ns, until_ns; /* the selection, resolved (until: now when not given) */
	int64_t first_ns, last_ns; /* what the data spans within it (the timeline's axis) */
	struct json_object *report; /* analysis/report.h's model */
	struct snapshot *before, *after; /* bracketing the change; NULL when none */
	char *before_json, *after_json; /* as stored */
};

/** Read the selection and build the report.  0 or -errno with @err filled. */
int incident_load(struct store *s, const struct incident_sel *sel, struct incident *out,
		  struct errbuf *err);
void incident_clear(struct incident *in);

#endif
