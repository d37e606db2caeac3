/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Hooks sink: every executable in the hooks dir runs once per event, with the event's
 * JSON on stdin and its main fields in the environment (CPUDRIFT_KIND, CPUDRIFT_SEVERITY,
 * CPUDRIFT_SUBJECT, CPUDRIFT_FEATURE, CPUDRIFT_PID, CPUDRIFT_COMM, CPUDRIFT_CLASS,
 * CPUDRIFT_CONFIDENCE, CPUDRIFT_SUMMARY, CPUDRIFT_TIME, CPUDRIFT_BOOT_ID).
 *
 * Nothing here blocks: stdin is a memfd holding the JSON (a hook that never reads it
 * cannot stall us), stdout and stderr go to another memfd that is read after exit, and
 * children are reaped with waitpid(WNOHANG) from hooks_poll().  A hook past its timeout
 * is killed with its whole process group.  When the daemon is root, hooks run as the
 * configured user.
 */
#ifndef CPUDRIFT_SINK_HOOKS_H
#define CPUDRIFT_SINK_HOOKS_H

#include <stdint.h>

#include "core/event.h"

struct errbuf;
struct hooks;

struct hooks_opts {
	const char *dir;
	const char *user; /* used when running as root */
	unsigned timeout_ms;
	unsigned rate_per_min; /* events handed to hooks per minute, 0 = unlimited */
	unsigned max_running; /* concurrent hook processes, 0 = 16 */
};

struct hooks_stats {
	uint64_t started;
	uint64_t failed; /* exited non-zero, killed by a signal, or could not start */
	uint64_t timed_out; /* killed at the timeout (also counted as failed) */
	uint64_t dropped; /* events not handed to hooks because of the rate limit */
};

/** -EINVAL with @err when running as root and the user does not exist. */
int hooks__new(struct hooks **out, const struct hooks_opts *o, struct errbuf *err);
/** Kills and reaps the hooks still running. */
void hooks__free(struct hooks *h);

/** Start every hook for @e.  The number started, or a negative errno. */
int hooks_run(struct hooks *h, const struct event *e);

/**
 * Reap finished hooks, kill the ones past their timeout, log failures.  Returns the
 * milliseconds until the next timeout, or -1 when no hook runs.  Call it on SIGCHLD and
 * when that time has passed.
 */
int hooks_poll(struct hooks *h);

int hooks_running(const struct hooks *h);
void hooks_get_stats(const struct hooks *h, struct hooks_stats *st);
/** The last failure message ("" when none). */
const char *hooks_last_error(const struct hooks *h);

#endif
