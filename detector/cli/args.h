/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Strict parsing of option values, shared by every subcommand: the whole text must be a
 * number in range, or the option fails with "failed to parse --limit: 'abc' is not a
 * whole number" and the command exits 2 with its usage.  Never atoi: "abc" is not 0.
 */
#ifndef CPUDRIFT_ARGS_H
#define CPUDRIFT_ARGS_H

#include <stdint.h>

/** A decimal integer in [@min, @max].  0, or -EINVAL after logging what was wrong. */
int args_int(const char *opt, const char *arg, int64_t min, int64_t max, int64_t *out);
/** The same into an int (@min and @max within int). */
int args_int32(const char *opt, const char *arg, int min, int max, int *out);

/**
 * A duration: a decimal number (fractions allowed) with an optional unit ms, s, m, h or d
 * (default @unit_ns per unit: NSEC_PER_SEC for "seconds", 1000 for "microseconds"), in
 * [@min_ns, @max_ns].  Nanoseconds in *out.  0 or -EINVAL after logging.
 */
int args_duration(const char *opt, const char *arg, int64_t unit_ns, int64_t min_ns, int64_t max_ns,
		  int64_t *out);

/** A size in bytes: a whole number with an optional K, M, G (KiB, MiB, GiB).  As above. */
int args_size(const char *opt, const char *arg, int64_t min, int64_t max, int64_t *out);

/**
 * A time as people type it (formats/timearg.h: 03:00, yesterday 22:00, 2026-11-27 03:12,
 * -2h, @EPOCH...) against the clock now: realtime nanoseconds.  0 or -EINVAL after logging.
 */
int args_time(const char *opt, const char *arg, int64_t *out_ns);

/* The longest incident ID (analysis/incident.h: boot id digits, a millisecond, a suffix). */
#define ARGS_INCIDENT_MAX 47

/**
 * An incident ID as analysis/incident.h makes them: letters, digits and '-', at most
 * ARGS_INCIDENT_MAX.  *@out = @arg.  0, or -EINVAL after logging.
 */
int args_incident(const char *arg, const char **out);

/** Print "cpudrift VERSION" to stdout; returns 0 (the exit status). */
int args_version(void);

/* getopt_long's value for --version in every subcommand (no short form). */
#define ARGS_OPT_VERSION 0x1000
#define ARGS_VERSION_OPTION                                    \
	{                                                      \
		"version", no_argument, NULL, ARGS_OPT_VERSION \
	}

#endif
