// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * /proc/PID/environ as the at-risk scan reads it (capture/atrisk.c): NUL-separated strings
 * the process chose, cut at any length.
 */
#include <string.h>

#include "capture/atrisk.h"
#include "fuzz.h"

FUZZ_TARGET(proc_environ)
{
	char *buf = malloc(size + 1);

	FUZZ_CHECK(buf, "out of memory");
	memcpy(buf, data, size);
	buf[size] = '\0';
	(void)atrisk_environ_masked(buf, size);
	free(buf);
	return 0;
}
