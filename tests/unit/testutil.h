/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small helpers the test suites share: temporary folders and whole-file reads. */
#ifndef CPUDRIFT_TESTUTIL_H
#define CPUDRIFT_TESTUTIL_H

/** The whole file, NUL-terminated ("" when empty), or NULL when it cannot be opened. */
char *tu_read_file(const char *path);
/** Remove @dir and everything below it; logs (does not fail) when it cannot. */
void tu_rmtree(const char *dir);
/** @rel under the build folder ($CPUDRIFT_BUILD, else build/ of the source tree). */
const char *tu_build(const char *rel);

#endif
