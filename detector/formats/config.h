/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The configuration file: `key = value` lines, `#` comments.  Every key has a built-in
 * default; an unknown key or a bad value is fatal and the message names the file, the line
 * and the key ("FILE:LINE: unknown key 'x'").  The keys are a table (CONFIG_KEYS) so that
 * parsing, defaults and documentation checks cannot drift apart.  Keys of older versions
 * (CONFIG_RETIRED_KEYS) are ignored with a warning that names the file and line, so that an
 * upgrade never fails on a configuration the operator edited.
 */
#ifndef CPUDRIFT_CONFIG_H
#define CPUDRIFT_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_DEFAULT_PATH "/etc/cpudrift/cpudrift.conf"

struct errbuf;

/*
 * X(name, type, field, default, min, max)
 * Types: UINT (plain number), DUR (seconds; suffix s/m/h/d allowed), SIZE (bytes; suffix
 * K/M/G), STR, PATH (absolute), OPTPATH (absolute, or "off": stored as ""), BOOL (on/off),
 * SIGNALS (comma-separated SIGILL,SIGSEGV,...), LEVEL (error/warning/info/debug).
 */
#define CONFIG_KEYS(X)                                                             \
	X(interval, DUR, interval_s, "300", 10, 86400)                             \
	X(quick_check, DUR, quick_check_s, "5", 0, 3600)                           \
	X(state_dir, PATH, state_dir, "/var/lib/cpudrift", 0, 0)                   \
	X(hooks_dir, OPTPATH, hooks_dir, "/etc/cpudrift/hooks.d", 0, 0)            \
	X(hook_timeout, DUR, hook_timeout_s, "10", 1, 3600)                        \
	X(hook_rate_limit, UINT, hook_rate_limit, "30", 0, 100000)                 \
	X(hook_spool_max, UINT, hook_spool_max, "1000", 1, 1000000)                \
	X(hook_cursor, PATH, hook_cursor, "/var/lib/cpudrift-hooks/cursor", 0, 0)  \
	X(textfile_path, OPTPATH, textfile_path,                                   \
	  "/var/lib/prometheus/node-exporter/cpudrift.prom", 0, 0)                 \
	X(journal, BOOL, journal, "on", 0, 0)                                      \
	X(export, BOOL, export_snapshot, "off", 0, 0)                              \
	X(fault_signals, SIGNALS, fault_signals, "SIGILL", 0, 0)                   \
	X(fault_ring_size, SIZE, fault_ring_size, "512K", 4096, 268435456)         \
	X(stall_threshold_us, UINT, stall_threshold_us, "50000", 1000, 600000000)  \
	X(stall_group_us, UINT, stall_group_us, "50000", 1000, 600000000)          \
	X(clock_step_ms, UINT, clock_step_ms, "100", 1, 86400000)                  \
	X(hostclock_step_ms, UINT, hostclock_step_ms, "100", 1, 86400000)          \
	X(tsc_rate_ppm, UINT, tsc_rate_ppm, "1000", 1, 1000000)                    \
	X(tsc_window, UINT, tsc_window, "3", 1, 15)                                \
	X(steal_permille, UINT, steal_permille, "100", 1, 1000)                    \
	X(steal_factor, UINT, steal_factor, "4", 1, 1000)                          \
	X(cpuid_latency_pct, UINT, cpuid_latency_pct, "40", 1, 10000)              \
	X(cpuid_latency_min_ns, UINT, cpuid_latency_min_ns, "1000", 1, 1000000000) \
	X(retention_rows, UINT, retention_rows, "100000", 100, 100000000)          \
	X(retention_days, UINT, retention_days, "90", 1, 36500)                    \
	X(retention_bytes, SIZE, retention_bytes, "64M", 1048576, 1099511627776)   \
	X(log_level, LEVEL, log_level, "warning", 0, 0)

/* X(name, "why it is gone") */
#define CONFIG_RETIRED_KEYS(X) \
	X(hook_user, "hooks run in cpudrift-hooks.service, whose User= decides")

struct config {
	uint64_t interval_s;
	uint64_t quick_check_s; /* feature leaves of one vCPU this often; 0: off */
	char state_dir[PATH_MAX];
	char hooks_dir[PATH_MAX]; /* "" when hooks are off */
	uint64_t hook_timeout_s;
	uint64_t hook_rate_limit; /* events spooled for hooks per minute, 0 = unlimited */
	uint64_t hook_spool_max; /* events the spool holds; the oldest make room */
	char hook_cursor[PATH_MAX]; /* the hook runner's cursor file (the daemon reads it) */
	char textfile_path[PATH_MAX]; /* "" when the textfile is off */
	bool journal;
	bool export_snapshot; /* <state_dir>/export/snapshot.json after every capture */
	uint64_t fault_signals; /* bit n set: signal n is watched */
	uint64_t fault_ring_size; /* the fault watcher's ring buffer; a restart applies it */
	/* timing thresholds: see detector/timing.h (struct timing_thresholds) */
	uint64_t stall_threshold_us;
	uint64_t stall_group_us;
	uint64_t clock_step_ms;
	uint64_t hostclock_step_ms;
	uint64_t tsc_rate_ppm;
	uint64_t tsc_window;
	uint64_t steal_permille;
	uint64_t steal_factor;
	uint64_t cpuid_latency_pct;
	uint64_t cpuid_latency_min_ns;
	uint64_t retention_rows;
	uint64_t retention_days;
	uint64_t retention_bytes;
	int log_level; /* enum log_level */

	char path[PATH_MAX]; /* the file it was read from, "" for built-in defaults */
};

/** Fill @c with the built-in defaults. */
void config_defaults(struct config *c);

/**
 * Read @path over the current contents of @c.  A missing file is an error unless
 * @missing_ok (the default path may be absent: then the defaults stand).  0, or -EINVAL
 * (bad content) / -errno (unreadable) with @err naming file, line and key.
 */
int config_load(struct config *c, const char *path, bool missing_ok, struct errbuf *err);

/** Set one key from text (command line overrides); @where prefixes the error message. */
int config_set(struct config *c, const char *key, const char *value, const char *where,
	       struct errbuf *err);

/** Number of keys and their names (for documentation checks and `status`). */
int config_nkeys(void);
const char *config_key_name(int i);

/* The environment variable that names the state dir when no --state-dir is given. */
#define CONFIG_STATE_DIR_ENV "CPUDRIFT_STATE_DIR"

/**
 * The state dir given outside the configuration: @state_dir (--state-dir) when not NULL,
 * else $CPUDRIFT_STATE_DIR when set and not empty, else NULL (the configuration's).
 */
const char *config_state_dir_given(const char *state_dir);

/**
 * The state dir a command uses, found the way the daemon finds it: @state_dir
 * (--state-dir), then $CPUDRIFT_STATE_DIR, then the configuration's state_dir
 * (@config_path, or the default file when present), then /var/lib/cpudrift.  A
 * configuration with a bad line elsewhere is warned about, not fatal: readers need only its
 * state_dir.  0 or -errno.
 */
int config_state_dir(const char *state_dir, const char *config_path, char *out, size_t size,
		     struct errbuf *err);

struct timing_thresholds;
/** The timing thresholds the configuration sets, in timing.h's units. */
void config_timing(const struct config *c, struct timing_thresholds *t);

/**
 * The keys whose values differ between @a and @b, comma-separated in table order, into @buf
 * ("" when none).  Returns how many differ.
 */
int config_diff(const struct config *a, const struct config *b, char *buf, size_t size);

/**
 * The state dir @path names, read leniently: every line but a valid `state_dir` is skipped,
 * so that `cpudrift reload` finds the daemon even when the file it asks it to load is bad.
 * The default when the file or the key is missing.  0 or -errno (unreadable file).
 */
int config_peek_state_dir(const char *path, char *out, size_t size);

/** Write every key as `key = value`, in table order. */
void config_write(const struct config *c, FILE *f);

#endif
