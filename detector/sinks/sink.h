/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What every sink (journald, hooks, textfile) pulls out of an event, the same way: the
 * kind and severity, and the feature, class, confidence, comm and incident that analysis
 * modules put in the event body ("feature", "class", "confidence", "comm", "incident_id").  A subject that names
 * a feature of the feature table counts as the feature.
 */
#ifndef CPUDRIFT_SINK_H
#define CPUDRIFT_SINK_H

#include "core/event.h"

struct sink_fields {
	const char *kind;
	const char *severity;
	char feature[64]; /* "" when the event is not about one feature */
	char class_[48]; /* fault class, "" when none */
	char confidence[16]; /* "0.85", "" when none */
	char comm[32];
	char pid[16]; /* "" when the event is not about a process */
	char incident[48]; /* migration.*: the incident's ID */
};

void sink_fields_get(const struct event *e, struct sink_fields *f);

#endif
