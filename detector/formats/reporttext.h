/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The report in plain words (Markdown that reads well in a terminal): what `cpudrift
 * report` prints and an evidence bundle keeps as summary.md.  Every string from the store
 * is escaped (core/escape.h): process names and paths come from untrusted processes.
 */
#ifndef CPUDRIFT_REPORTTEXT_H
#define CPUDRIFT_REPORTTEXT_H

#include <stdio.h>

#include <json-c/json.h>

/** Write @report (analysis/report.h's model) to @f.  0 or -errno. */
int reporttext_write(struct json_object *report, FILE *f);

#endif
