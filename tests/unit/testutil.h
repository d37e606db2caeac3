/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small helpers the test suites share: temporary folders, whole-file reads, commands. */
#ifndef CPUDRIFT_TESTUTIL_H
#define CPUDRIFT_TESTUTIL_H

#include <stdbool.h>
#include <sys/types.h>

#define TU_JOURNALD "/lib/systemd/systemd-journald"

/** The whole file, NUL-terminated ("" when empty), or NULL when it cannot be opened. */
char *tu_read_file(const char *path);
/** Remove @dir and everything below it; logs (does not fail) when it cannot. */
void tu_rmtree(const char *dir);

/** @rel under the build folder ($CPUDRIFT_BUILD, else the source tree's build/). */
const char *tu_build(const char *rel);
/** The standard output of the shell command @cmd (at most 1 MiB), malloc'd. */
char *tu_run(const char *cmd);
/** True once @path exists (and holds @needle, when not NULL), polled for up to @ms. */
bool tu_wait_for(const char *path, const char *needle, int ms);

/**
 * In a child process of its own (it unshares the mount namespace): tmpfs over /run/systemd,
 * /run/log and /var/log/journal and a systemd-journald of our own, so that the machine's
 * real journal is never touched (PID 1 is not systemd on the project machines).  0 with its
 * pid in *@jd, or 77 (skip) with the reason written to @msgfd.
 */
int tu_private_journald(int msgfd, pid_t *jd);

#endif
