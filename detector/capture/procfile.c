// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdbool.h>

#include "capture/procfile.h"

ssize_t procfile_line(FILE *f, char *buf, size_t size)
{
	size_t n = 0;
	bool any = false;
	int c;

	/* The stream is the caller's alone: no locking per byte. */
	while ((c = getc_unlocked(f)) != EOF) {
		any = true;
		if (c == '\n')
			break;
		if (n + 1 < size)
			buf[n++] = (char)c;
	}
	if (size)
		buf[n] = '\0';
	return any ? (ssize_t)n : -1;
}
