/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Processes at risk after a change of CPU: running processes that started before it
 * (they chose their code paths and glibc-hwcaps libraries for the old CPU), with their
 * executable and whether they map a glibc-hwcaps/x86-64-vN library above the level the
 * VM has now (those die with SIGILL as soon as they use it).  Reads /proc; decides
 * nothing beyond that comparison.
 */
#ifndef CPUDRIFT_ATRISK_H
#define CPUDRIFT_ATRISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

/* A verdict or drift lists at most this many processes at risk. */
#define ATRISK_MAX 50

struct event;

struct atrisk_proc {
	int pid;
	char comm[32];
	char exe[256]; /* "" when unreadable */
	int64_t start_boot_ns; /* CLOCK_BOOTTIME at start, clock-tick resolution */
	int hwcaps_level; /* highest glibc-hwcaps/x86-64-vN it maps; 0: none */
	bool above_level; /* hwcaps_level above the VM's level now */
	bool glibc_masked; /* started with GLIBC_TUNABLES masking AVX2: glibc stays on v2 */
};

struct atrisk_list {
	size_t n, cap;
	struct atrisk_proc *v; /* above the level first, glibc-masked last, then by start */
};

/**
 * User processes under @proc (normally "/proc") started before @change_boot_ns and still
 * running.  @level_now is struct snapshot.level (0: unknown, nothing is "above").
 * Processes that vanish during the scan are skipped.  0 or a negative errno.
 */
int atrisk_scan(const char *proc, int64_t change_boot_ns, int level_now, struct atrisk_list *out);
void atrisk_list_free(struct atrisk_list *l);

/*
 * The readers behind atrisk_scan(), on text already read, so that hostile /proc contents
 * can be tested and fuzzed without a process to produce them.
 */
/** /proc/PID/stat text (NUL-terminated, modified): comm, flags, start.  0 or -EINVAL. */
int atrisk_parse_stat(char *buf, struct atrisk_proc *p, unsigned long *flags);
/** The highest glibc-hwcaps/x86-64-vN level a /proc/PID/maps stream maps; 0: none. */
int atrisk_maps_level(FILE *maps);
/** Whether /proc/PID/environ text (@n bytes, then a NUL) masks AVX2 in GLIBC_TUNABLES. */
bool atrisk_environ_masked(const char *buf, size_t n);

/** {"change_boot_ns", "level", "total", "above_level", "processes": [first @max]} */
struct json_object *atrisk_to_json(const struct atrisk_list *l, int64_t change_boot_ns,
				   int level_now, size_t max);

/**
 * Scan and add "at_risk" to @e's body; the change time is the body's "change_mono_ns"
 * when present (verdicts), else the event's own time.  0 or a negative errno.
 */
int atrisk_attach(struct event *e, int level_now, size_t max);

#endif
