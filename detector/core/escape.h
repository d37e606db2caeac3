/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Escaping strings that came from untrusted processes or files (comm, exe, cgroup paths,
 * CPU brand strings, dump contents) before they reach a terminal, a log line or a text
 * report: nothing they contain may move the cursor, change colours, rewrite the title
 * or reorder text.  Every human printer uses this one function; JSON output is escaped by
 * json-c and HTML by formats/reporthtml.c on top of this.
 */
#ifndef CPUDRIFT_ESCAPE_H
#define CPUDRIFT_ESCAPE_H

#include <stddef.h>

/**
 * Copy @src to @dst (@size bytes, always NUL-terminated when @size > 0) escaping:
 * C0 controls and DEL (\n, \t, \r, \e or \xHH), C1 controls U+0080-U+009F and bytes
 * that are not UTF-8 (\xHH), the bidirectional overrides and isolates U+202A-U+202E,
 * U+2066-U+2069 and the marks U+200E/U+200F (\u202e), and the backslash itself (\\), so
 * that the escaped text is unambiguous.  A cut never splits an escape.  Returns the
 * length the whole escaped text needs (like snprintf).
 */
size_t str_escape(char *dst, size_t size, const char *src);

/**
 * The escaped form of @src (NULL gives "") in one of 16 buffers the module owns, reused in
 * turn: valid until the 16th next call.  For printf arguments in single-threaded printers.
 * Never NULL (an allocation failure gives "?").
 */
const char *str_esc(const char *src);

#endif
