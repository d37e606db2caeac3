/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The report as one self-contained HTML page: the timeline as inline SVG (events by kind
 * and severity, stall lateness per vCPU, host-clock offset, CPUID-exit cost, snapshots and
 * probe runs, the verdict marked) above the plain-words report.  No script, no style sheet,
 * font or image fetched from anywhere.  Every string from the store is escaped for HTML.
 */
#ifndef CPUDRIFT_REPORTHTML_H
#define CPUDRIFT_REPORTHTML_H

#include <stdio.h>

#include <json-c/json.h>

/** Write @report (analysis/report.h's model) as HTML to @f.  0 or -errno. */
int reporthtml_write(struct json_object *report, FILE *f);

#endif
