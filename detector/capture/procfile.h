/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reading /proc text files line by line with a bounded buffer.  Lines there hold names a
 * process chose (mapped paths, cgroup names), and d_path() does not stop at PATH_MAX: a
 * line can be longer than any buffer.  Its tail must never pass for a line of its own.
 */
#ifndef CPUDRIFT_PROCFILE_H
#define CPUDRIFT_PROCFILE_H

#include <stdio.h>
#include <sys/types.h>

/**
 * The next line of @f into @buf, without its newline and NUL-terminated: at most @size - 1
 * bytes, the rest of a longer line skipped.  The bytes stored (NUL bytes in the line
 * included), or -1 at the end of the file.
 */
ssize_t procfile_line(FILE *f, char *buf, size_t size);

#endif
