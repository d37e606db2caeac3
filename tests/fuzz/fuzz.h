/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz targets: one file a target here, each `FUZZ_TARGET(name) { ... }` over one input.
 *
 * Built with -DFUZZ_LIBFUZZER (`make fuzz`), the body is libFuzzer's LLVMFuzzerTestOneInput.
 * Built plainly, it registers itself under @name instead, and the unit suite
 * (tests/unit/test_fuzz_regressions.c) replays every input committed under
 * tests/fixtures/fuzz/<name>/ through the very same function.
 *
 * A target returns 0.  What it checks beyond "no crash" (a rejected input has a message, a
 * round trip gives back what went in) fails with FUZZ_CHECK, which aborts: libFuzzer keeps
 * the input as a crash, and the replaying test fails.
 */
#ifndef CPUDRIFT_FUZZ_H
#define CPUDRIFT_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct snapshot;
struct errbuf;

typedef int (*fuzz_fn)(const uint8_t *data, size_t size);

#ifdef FUZZ_LIBFUZZER
#define FUZZ_TARGET(name)                                             \
	int LLVMFuzzerInitialize(int *argc, char ***argv);            \
	int LLVMFuzzerInitialize(int *argc, char ***argv)             \
	{                                                             \
		(void)argc;                                           \
		(void)argv;                                           \
		fuzz_init();                                          \
		return 0;                                             \
	}                                                             \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
#else
#define FUZZ_TARGET(name)                                                   \
	static int fuzz_one_##name(const uint8_t *data, size_t size);       \
	__attribute__((constructor)) static void fuzz_register_##name(void) \
	{                                                                   \
		fuzz_register(#name, fuzz_one_##name);                      \
	}                                                                   \
	static int fuzz_one_##name(const uint8_t *data, size_t size)
#endif

#define FUZZ_CHECK(cond, ...)                                                              \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "%s:%d: fuzz check failed: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
			abort();                                                           \
		}                                                                          \
	} while (0)

/** Logs down to errors only: the parsers warn about every bad line they skip. */
void fuzz_init(void);

/** Record a target for the replaying suite (FUZZ_TARGET does it). */
void fuzz_register(const char *name, fuzz_fn fn);
/** The registered target called @name, or NULL. */
fuzz_fn fuzz_lookup(const char *name);
/** Registered targets, by index from 0; NULL past the end. */
const char *fuzz_name(int i);

/** @data as a C string: a copy up to its first NUL or its end.  Aborts when out of memory. */
char *fuzz_cstr(const uint8_t *data, size_t size);

/**
 * A path that opens @data as a file (a memfd, "/proc/self/fd/N"), for readers that take a
 * path.  The file is reused from call to call.  Aborts when it cannot be made.
 */
const char *fuzz_file(const uint8_t *data, size_t size);

/**
 * The same as a regular file of its own under $TMPDIR (else /tmp), for readers that refuse
 * links (O_NOFOLLOW) or anything but a regular file.  Removed at exit.
 */
const char *fuzz_plain_file(const uint8_t *data, size_t size);

/** An empty sink for printers (/dev/null). */
FILE *fuzz_devnull(void);

/** Whether two snapshots hold the same raw facts and decode alike. */
bool fuzz_snapshot_equal(const struct snapshot *a, const struct snapshot *b, char *why, size_t len);

/**
 * What every imported snapshot must allow: its JSON form reads back to the same snapshot,
 * the libcpuid raw export reads back with the same vCPUs and the leaves that format holds,
 * and the table prints.
 */
void fuzz_check_snapshot(const struct snapshot *s);

/**
 * Import @data as a dump of @format (enum dump_format; -1: detect it, as `import` does), then
 * fuzz_check_snapshot() what it gives and fuzz_check_error() what it refuses.
 */
void fuzz_dump(const uint8_t *data, size_t size, int format);

/** A rejected input's message: non-empty and starting with @prefix (NULL: any). */
void fuzz_check_error(int ret, const struct errbuf *err, const char *prefix);

#endif
