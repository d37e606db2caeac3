/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What `report` and `evidence` read from the store for one selection: a time window, or a
 * stored incident (analysis/incident.h), which resolves to its own window.  Both commands
 * go through here, so the same selection always gives the same data.
 *
 * An incident's window runs from SELECTION_MARGIN_NS before its first evidence (the pause
 * and the quick check that found the change come just before; a "before" snapshot up to
 * the incident's join window earlier is taken in too) to its close, or, while it is open,
 * to its newest evidence plus the join window (the time evidence could still join it),
 * never past now.  --since and --until given with an incident narrow that window: the
 * selection is their intersection, and an empty intersection is an error.
 */
#ifndef CPUDRIFT_SELECTION_H
#define CPUDRIFT_SELECTION_H

#include <stdint.h>

#include <json-c/json.h>

#include "core/snapshot.h"
#include "sinks/store.h"

struct errbuf;

/* How long before an incident's first evidence its window starts. */
#define SELECTION_MARGIN_NS (60 * 1000000000LL)

struct selection_spec {
	int64_t since_ns; /* realtime; 0: from the first thing stored (or the incident's start) */
	int64_t until_ns; /* realtime; 0: now (or the incident's end) */
	const char *incident; /* NULL: a plain window */
};

struct selection {
	int64_t since_ns, until_ns; /* the selection, resolved (until: now when not given) */
	int64_t first_ns, last_ns; /* what the data spans within it (the timeline's axis) */
	struct json_object *incident; /* the stored incident; NULL for a plain window */
	struct json_object *report; /* analysis/report.h's model */
	struct snapshot *before, *after; /* bracketing the change; NULL when none */
	char *before_json, *after_json; /* as stored */
};

/**
 * Resolve @spec and build the report.  0 or -errno with @err filled: -ENOENT when the
 * incident is not in the store, -EINVAL for an empty window.
 */
int selection_load(struct store *s, const struct selection_spec *spec, struct selection *out,
		   struct errbuf *err);
void selection_clear(struct selection *sel);

#endif
