// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The atomic write here is the minimal form of what core/safefile (another branch) will
 * give every file cpudrift writes; when that lands, write_at() becomes a call to it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "formats/snapexport.h"
#include "formats/snapjson.h"

/* Write @s as @name in @dirfd: unique temporary name, never through a link, then rename. */
static int write_at(int dirfd, const char *name, const struct snapshot *s)
{
	char tmp[64];
	FILE *f = NULL;
	int fd = -1, r = 0;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	for (unsigned tries = 0; fd < 0 && tries < 16; tries++) {
		/* Unique enough with O_EXCL: a name someone planted is skipped, not used. */
		snprintf(tmp, sizeof(tmp), ".%s.%d.%lx.%u", name, (int)getpid(),
			 (unsigned long)ts.tv_nsec, tries);
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			return -errno;
	}
	if (fd < 0)
		return -EEXIST;
	/* Collectors read it as another user: 0644 whatever the umask. */
	if (fchmod(fd, 0644))
		r = -errno;
	f = r ? NULL : fdopen(fd, "w");
	if (!r && !f)
		r = -errno;
	if (!r)
		r = snapshot_write_json(s, f);
	if (f) {
		if (fflush(f) || fsync(fileno(f)))
			r = r ?: -errno;
		if (fclose(f))
			r = r ?: -errno;
	} else {
		close(fd);
	}
	if (!r && renameat(dirfd, tmp, dirfd, name))
		r = -errno;
	if (r)
		unlinkat(dirfd, tmp, 0);
	return r;
}

int snapexport_write(const char *state_dir, const struct snapshot *s)
{
	int state, dir, r;

	state = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (state < 0)
		return -errno;
	if (mkdirat(state, SNAPEXPORT_DIR, 0755) && errno != EEXIST) {
		r = -errno;
		close(state);
		return r;
	}
	/* O_NOFOLLOW: a symlink at export/ is refused, so nothing lands outside the state dir. */
	dir = openat(state, SNAPEXPORT_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	r = dir < 0 ? -errno : 0;
	close(state);
	if (r)
		return r;
	r = write_at(dir, SNAPEXPORT_FILE, s);
	close(dir);
	return r;
}
