// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/procstat.h"

int procstat_read(const char *proc, int pid, char *state, int64_t *start_boot_ns)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	long tick = sysconf(_SC_CLK_TCK);
	ssize_t n;
	int fd;

	if (pid <= 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/%d/stat", proc, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = 0;
	/* comm may hold anything, ')' included: the fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -EIO;
	*state = p[2];
	p += 3;
	/* Field 22 (starttime) is the 20th after the state. */
	for (int f = 0; f < 19 && p; f++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p || sscanf(p, "%llu", &start) != 1)
		return -EIO;
	*start_boot_ns =
		(int64_t)(start * (1000000000ull / (unsigned long long)(tick > 0 ? tick : 100)));
	return 0;
}

bool procstat_alive(const char *proc, int pid, int64_t start_boot_ns)
{
	long tick = sysconf(_SC_CLK_TCK);
	int64_t start, slack = 1000000000 / (tick > 0 ? tick : 100);
	char state;

	if (procstat_read(proc, pid, &state, &start))
		return false;
	if (state == 'Z' || state == 'X' || state == 'x')
		return false;
	return !start_boot_ns || (start >= start_boot_ns - slack && start <= start_boot_ns + slack);
}
