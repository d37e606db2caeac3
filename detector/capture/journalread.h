/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The journal lines an evidence bundle keeps (sd-journal): cpudrift's own entries, and the
 * kernel's "traps:", clocksource and watchdog lines, within a time window.  Only the
 * message and a few named fields are read, never a process's environment or command line.
 */
#ifndef CPUDRIFT_JOURNALREAD_H
#define CPUDRIFT_JOURNALREAD_H

#include <stddef.h>
#include <stdint.h>

struct errbuf;

/**
 * Append one JSON line per entry in [@since_ns, @until_ns] to *@out (malloc'd, grown), at
 * most @max_entries entries and @max_bytes bytes.  0 and the count in *@n; -ENOENT when
 * this machine has no journal (nothing to read, not an error for the caller); -errno.
 */
int journalread_window(int64_t since_ns, int64_t until_ns, size_t max_entries, size_t max_bytes,
		       char **out, size_t *len, size_t *n, struct errbuf *err);

#endif
