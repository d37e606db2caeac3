/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The report's processes grouped by what their remedy acts on: the systemd unit, the
 * container or the pod (analysis/units.h, the one reader of cgroup paths), with the
 * command that makes them pick their code paths again on this CPU.  Pure.
 */
#ifndef CPUDRIFT_REPORTGROUP_H
#define CPUDRIFT_REPORTGROUP_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "analysis/report.h"

/**
 * The at-risk section from an event's "at_risk" body (NULL: none): {"total", "above_level",
 * "processes": [... + "alive"], "groups": [{"name", "kind", "remedy", "count", "alive",
 * "pids"}], "alive"}.  *nalive counts the processes @alive says still run.
 */
struct json_object *reportgroup_at_risk(struct json_object *at_risk, report_alive_fn alive,
					void *ctx, int64_t *nalive);

/**
 * Casualties or survivors (fault briefs with "pid" and "cgroup"): {"total", "list": [...
 * + "group"], "groups": [...]}.
 */
struct json_object *reportgroup_processes(struct json_object *procs, int64_t total);

/** The group name of a process in cgroup @cgroup ("nginx.service", "docker:ID", "none"). */
void reportgroup_name(const char *cgroup, char *buf, size_t size);

/** What to do, one sentence a group: restart the units and containers whose processes
 *  are still at risk, and say which processes belong to none. */
struct json_object *reportgroup_remedy(struct json_object *at_risk, struct json_object *casualties);

#endif
