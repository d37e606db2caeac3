/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Times as people type them on the command line (--since, --until), the forms journalctl
 * takes, plus the ones cpudrift always took:
 *
 *   HH:MM[:SS]                        today, local time
 *   now, today, yesterday, tomorrow   midnight (local) of that day; each may be followed by
 *                                     HH:MM[:SS]: "yesterday 03:00"
 *   YYYY-MM-DD [HH:MM[:SS[.frac]]]    local time (a 'T' may stand for the space)
 *   the same with an offset           ISO 8601: Z, +HH, +HH:MM, +HHMM, or " UTC"
 *   -2h, -30m, +1h, "2h ago"          relative to now; units us, ms, s, m/min, h, d, w and
 *                                     their long names, combined: -1h30m
 *   2h, 30m, 7d                       an age: that long before now (as always)
 *   @EPOCH[.frac], EPOCH              seconds since 1970 (UTC)
 *
 * Pure: "now" is a parameter and the time zone is the process's (TZ), so that tests are
 * exact.  Each bad form gets its own message.
 */
#ifndef CPUDRIFT_TIMEARG_H
#define CPUDRIFT_TIMEARG_H

#include <stdint.h>

struct errbuf;

/**
 * Parse @s against @now_ns (CLOCK_REALTIME nanoseconds).  0 and the time in *out_ns
 * (realtime nanoseconds), or -EINVAL with @err saying what was wrong with @s.
 */
int timearg_parse(const char *s, int64_t now_ns, int64_t *out_ns, struct errbuf *err);

/** The one-line list of accepted forms, for usage texts and error messages. */
extern const char timearg_forms[];

#endif
