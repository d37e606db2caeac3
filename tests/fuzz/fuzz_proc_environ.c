// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * /proc/PID/environ as the process table reads it (capture/procscan.c): NUL-separated
 * strings the process chose.  The answer is yes, no or unknown, never anything else,
 * whatever the bytes.
 */
#include "capture/procscan.h"
#include "fuzz.h"

FUZZ_TARGET(proc_environ)
{
	int masked = procscan_parse_environ((const char *)data, size);

	FUZZ_CHECK(masked >= -1 && masked <= 1, "procscan_parse_environ gave %d", masked);
	return 0;
}
