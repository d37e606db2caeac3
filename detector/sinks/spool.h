/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The hook spool: the daemon's side of the hooks.  The daemon runs no hook itself (it has no
 * network and should never wait for one); it drops each event into <state_dir>/spool/ and
 * `cpudrift hooks run` (sink_hooks.h), started by cpudrift-hooks.path as another user, runs
 * the hooks for it later.  Hooks thereby survive a daemon restart and never slow the daemon.
 *
 *   <state_dir>/spool/            mode 0750, only the daemon writes it
 *     00000000000000000042.json   one event (its JSON, event_to_json), mode 0640; names are
 *                                 a sequence number that only grows, 20 digits, so that
 *                                 their order is the events' order
 *
 * Each entry is written whole (safefile.h: a dot-named temporary file, fsync, rename), so a
 * reader never sees half of one.  The runner cannot delete entries (it may not write the
 * spool): it records the last sequence number it processed in its cursor file, and the
 * daemon deletes the entries at or below it.  The cursor file belongs to another user and
 * is read as untrusted input: bounded, never through a symlink, numbers checked.
 *
 * The spool is capped (hook_spool_max): when full, the oldest unprocessed entries make room,
 * so that the newest events reach the hooks once the runner works again.  Events past the
 * rate limit (hook_rate_limit a minute) are not spooled.  Both are counted, by reason.
 */
#ifndef CPUDRIFT_SPOOL_H
#define CPUDRIFT_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/event.h"

struct errbuf;
struct spool;

#define SPOOL_DIR_NAME "spool"
/* "%020" PRIu64 ".json" */
#define SPOOL_NAME_LEN 25
/* Sequence numbers above this in a cursor file are not believed. */
#define SPOOL_SEQ_MAX (1ull << 62)

/* Why an event never reached the hooks: one table (cpudrift_hook_events_dropped_total). */
#define SPOOL_DROPS(X)                                                    \
	X(RATE, "rate_limit", "past hook_rate_limit")                     \
	X(FULL, "spool_full", "the spool was full: the oldest made room") \
	X(ERROR, "error", "the spool could not be written")

enum spool_drop {
#define X(id, name, desc) SPOOL_DROP_##id,
	SPOOL_DROPS(X)
#undef X
		SPOOL_DROP__COUNT
};

extern const char *const spool_drop_names[SPOOL_DROP__COUNT];

/* --- the runner's cursor file (written by the runner, read by the daemon and status) ---- */

struct spool_cursor {
	uint64_t seq; /* the last spool entry processed (0: none yet) */
	uint64_t events; /* events processed, ever */
	uint64_t hook_runs; /* hooks started */
	uint64_t hook_failures; /* failed, timed out, refused or could not start */
	uint64_t hook_timeouts; /* killed at the timeout (also failures) */
	int64_t time; /* when it was written, seconds since the epoch */
	char last_error[256]; /* the last failure, printable ASCII only */
};

/**
 * Read a cursor file: 0, -ENOENT (no runner has run yet), -EINVAL (not a cursor file: a
 * symlink, not a regular file, too large, no valid "seq" line) or -errno.
 */
int spool_cursor_read(const char *path, struct spool_cursor *c);
/** Write it atomically, mode 0644 (safefile.h).  0 or -errno. */
int spool_cursor_write(const char *path, const struct spool_cursor *c);

/* --- names ------------------------------------------------------------------------------- */

/** The entry name of @seq into @buf (at least SPOOL_NAME_LEN + 1 bytes). */
void spool_entry_name(uint64_t seq, char *buf);
/** The sequence number an entry name carries, or 0 when @name is not an entry. */
uint64_t spool_entry_seq(const char *name);
/**
 * The sequence numbers of the entries in the folder @dirfd above @after, ascending, in a
 * malloc'd array *@seqs.  Their number, or -errno.
 */
int spool_list(int dirfd, uint64_t after, uint64_t **seqs);

/* --- the daemon's side ------------------------------------------------------------------- */

struct spool_opts {
	const char *state_dir; /* the spool is <state_dir>/spool */
	const char *cursor_path; /* the runner's cursor file */
	const char *hooks_dir; /* events are spooled only while this folder exists */
	unsigned max_events; /* 0: 1000 */
	unsigned rate_per_min; /* 0: no limit */
};

struct spool_stats {
	uint64_t spooled; /* since the daemon started */
	uint64_t dropped[SPOOL_DROP__COUNT];
	uint64_t first, next; /* entries [first, next) may exist */
	uint64_t pending; /* entries past the runner's cursor */
	int cursor_err; /* 0, or why the cursor could not be read (-ENOENT: no runner yet) */
	struct spool_cursor cursor; /* as last read */
};

/**
 * Create (mode 0750) or reopen the spool; entries from before a restart stay and keep their
 * numbers.  0 or a negative errno with @err filled.
 */
int spool__new(struct spool **out, const struct spool_opts *o, struct errbuf *err);
void spool__free(struct spool *sp);

/** Options of a reloaded configuration (the state dir stays). */
void spool_set_opts(struct spool *sp, const struct spool_opts *o);

/**
 * Spool @e for the hooks.  1 when spooled, 0 when not (hooks dir absent, rate limit),
 * negative errno when the write failed (counted as a drop for "error").
 */
int spool_add(struct spool *sp, const struct event *e);

/**
 * Read the runner's cursor, delete the entries at or below it, and when entries wait past
 * it since the last call, touch the newest (IN_ATTRIB) so that cpudrift-hooks.path starts
 * the runner again (a path unit does not re-trigger for a change made while its service
 * still ran).  Call it now and then (the daemon: every minute).
 */
void spool_maintain(struct spool *sp);

void spool_get_stats(const struct spool *sp, struct spool_stats *st);
/** The spool folder's path. */
const char *spool_path(const struct spool *sp);

#endif
