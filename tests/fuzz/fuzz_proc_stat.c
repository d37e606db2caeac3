// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * /proc/PID/stat as the at-risk scan reads it (capture/atrisk.c): the comm between the
 * parentheses is the process's own choice (spaces, parentheses, digits), the rest is the
 * kernel's.  What is parsed must make sense: a start time is never negative.
 */
#include <errno.h>
#include <string.h>

#include "capture/atrisk.h"
#include "fuzz.h"

FUZZ_TARGET(proc_stat)
{
	char *buf = fuzz_cstr(data, size);
	struct atrisk_proc p = { 0 };
	unsigned long flags;
	int ret = atrisk_parse_stat(buf, &p, &flags);

	FUZZ_CHECK(ret == 0 || ret == -EINVAL, "atrisk_parse_stat gave %d", ret);
	if (!ret)
		FUZZ_CHECK(p.start_boot_ns >= 0, "a start time of %lld ns",
			   (long long)p.start_boot_ns);
	FUZZ_CHECK(memchr(p.comm, 0, sizeof(p.comm)), "comm is not terminated");
	free(buf);
	return 0;
}
