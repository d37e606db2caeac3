/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The hook runner (`cpudrift hooks run`): runs every hook for each event the daemon spooled
 * (spool.h), in the events' order, and remembers how far it got in its cursor file, because
 * it may not delete spool entries (the daemon does, once the cursor is past them).  It runs
 * as its own user in its own unit (cpudrift-hooks.service, started by cpudrift-hooks.path),
 * with network, so that a hook can reach a webhook, a mail relay or a pager.
 *
 * Each hook (hookexec.h for the checks and the run) gets the event's JSON on stdin and its
 * main fields in the environment: CPUDRIFT_KIND, CPUDRIFT_SEVERITY, CPUDRIFT_SUBJECT,
 * CPUDRIFT_FEATURE, CPUDRIFT_PID, CPUDRIFT_COMM, CPUDRIFT_CLASS, CPUDRIFT_CONFIDENCE,
 * CPUDRIFT_SUMMARY, CPUDRIFT_TIME, CPUDRIFT_BOOT_ID, plus CPUDRIFT_SEQ (the spool sequence
 * number: delivery is at least once, a hook may use it to tell a repeat) and CPUDRIFT_HOOK
 * (its own name; a script's $0 is /dev/fd/3).  The rest of the runner's environment (the
 * unit's EnvironmentFile=, where a webhook URL lives) is passed on.
 *
 * Hooks run one at a time.  A failing, refused or timed-out hook is logged and counted, and
 * the next one runs; an event whose hooks all ran (whatever they returned) is done.  When
 * the hooks folder itself is unsafe, nothing runs and the cursor stays, so the events wait
 * in the spool until an operator fixes it.  Runs that overlap (the path unit, a person)
 * take turns on a lock on the cursor's folder.
 */
#ifndef CPUDRIFT_SINK_HOOKS_H
#define CPUDRIFT_SINK_HOOKS_H

#include <stdint.h>

struct errbuf;

/* A spool entry larger than this is not an event the daemon wrote. */
#define HOOKS_ENTRY_MAX (4u << 20)

struct hooks_opts {
	const char *state_dir; /* the spool is <state_dir>/spool */
	const char *hooks_dir;
	const char *cursor_path;
	unsigned timeout_ms; /* per hook; 0: 10 s */
};

struct hooks_stats {
	uint64_t events; /* spool entries done in this run */
	uint64_t skipped; /* entries gone before their turn (a full spool) or not events */
	uint64_t runs; /* hooks started */
	uint64_t failed; /* exited non-zero, killed by a signal, timed out, refused, no start */
	uint64_t timed_out;
	uint64_t refused; /* unsafe owner or mode, a symlink, not a regular file */
};

/**
 * Process every spooled event past the cursor, until none is left.  0 when every hook
 * succeeded, 1 when one failed (the run still went on), or a negative errno with @err when
 * the runner could not do its work (unreadable or unsafe spool, unsafe hooks folder,
 * cursor not writable): the cursor then stays where it was.
 */
int hooks_run_spool(const struct hooks_opts *o, struct hooks_stats *st, struct errbuf *err);

#endif
