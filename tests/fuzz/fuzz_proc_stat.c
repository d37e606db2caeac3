// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * /proc/PID/stat as the process table reads it (capture/procscan.c): the comm between the
 * parentheses is the process's own choice (spaces, parentheses, digits), the rest is the
 * kernel's.  What is parsed must make sense: a start time is never negative.
 */
#include <errno.h>
#include <string.h>

#include "capture/procscan.h"
#include "fuzz.h"

FUZZ_TARGET(proc_stat)
{
	struct proc_stat st = { 0 };
	int ret = procscan_parse_stat((const char *)data, size, &st);

	FUZZ_CHECK(ret == 0 || ret == -EINVAL, "procscan_parse_stat gave %d", ret);
	if (!ret)
		FUZZ_CHECK(st.start_boot_ns >= 0, "a start time of %lld ns",
			   (long long)st.start_boot_ns);
	FUZZ_CHECK(memchr(st.comm, 0, sizeof(st.comm)), "comm is not terminated");
	return 0;
}
