/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The report's incident section (pure): a stored incident (analysis/incident.h's JSON form)
 * and the issues of it the store still holds, in the words of the report.  The incident
 * speaks for itself: its own reasons, casualties and survivors, state and confidence
 * history, whatever the selected window shows of it.
 */
#ifndef CPUDRIFT_REPORTINCIDENT_H
#define CPUDRIFT_REPORTINCIDENT_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "core/event.h"

/** One entry of the confidence history from an issue or the resolution of the incident. */
struct json_object *reportincident_issue(const struct event *e);

/**
 * The section (a new reference): "id", "state", "confidence", "severity", "score",
 * "opened", "first_evidence", "last_evidence", "closed" and "close_reason" (with their
 * *_real_ns), "at_risk" (null: never counted), "reasons", "casualties" and "survived"
 * (each process with its "time", and its "unit" when one of @procs, fault briefs with
 * "pid" and "unit", names it), and "history" ({"total", "list"}).  NULL when @stored is
 * NULL or on allocation failure.
 */
struct json_object *reportincident_section(struct json_object *stored, struct json_object *history,
					   int64_t nhistory, struct json_object *const *procs,
					   size_t nprocs);

/** A line's worth of an incident for the list of open ones: id, opened, confidence, ... */
struct json_object *reportincident_brief(struct json_object *stored);

#endif
