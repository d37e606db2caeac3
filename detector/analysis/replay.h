/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Replay: run the live analysis (timing rules, recorded evidence, the verdict) over a
 * recording of observations, one JSON object a line.  `cpudrift replay`, the tests and
 * the migration lab all go through here, so they judge recordings the way the daemon
 * judges the live machine.
 */
#ifndef CPUDRIFT_REPLAY_H
#define CPUDRIFT_REPLAY_H

#include <stdio.h>

#include "core/event.h"
#include "analysis/timing.h"
#include "analysis/verdict.h"

struct errbuf;

/* Each event, in time order; verdicts right after the event that raised them. */
typedef int (*replay_cb)(void *ctx, const struct event *e);

struct replay_opts {
	struct timing_thresholds th; /* timing_thresholds_default() */
	struct verdict_opts vo; /* verdict_opts_default() */
};

void replay_opts_default(struct replay_opts *o);

struct replay_stats {
	long lines, bad, events;
};

/**
 * Replay @f.  Malformed lines are logged with @name:line and skipped; a non-zero return
 * of @cb stops the replay with that value.  0 or a negative errno with @err filled.
 */
int replay_stream(FILE *f, const char *name, const struct replay_opts *o, replay_cb cb, void *ctx,
		  struct replay_stats *st, struct errbuf *err);
/** replay_stream on a file ("-": stdin). */
int replay_file(const char *path, const struct replay_opts *o, replay_cb cb, void *ctx,
		struct replay_stats *st, struct errbuf *err);

#endif
