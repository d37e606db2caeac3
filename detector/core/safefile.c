// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/safefile.h"

/* Names are drawn at random; a clash (or a planted link) costs one more draw. */
#define TMP_TRIES 16

static uint64_t draw(void)
{
	static uint64_t counter;
	struct timespec ts;
	uint64_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == sizeof(r))
		return r;
	/* Early at boot the pool may not be ready: unique is enough, secret is not needed. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)getpid() << 40) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
	       ++counter;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int safefile_write_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
		      unsigned flags)
{
	char tmp[NAME_MAX + 1];
	int fd = -1, r;

	if (!*name || strchr(name, '/') || strlen(name) > NAME_MAX - 20)
		return -EINVAL;
	for (int i = 0; i < TMP_TRIES && fd < 0; i++) {
		/* A dot name: readers that skip hidden files (node_exporter reads *.prom only,
		 * the hook runner skips dot files) never see a half-written file. */
		snprintf(tmp, sizeof(tmp), ".%s.%016" PRIx64, name, draw());
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			return -errno;
	}
	if (fd < 0)
		return -EEXIST;
	r = write_all(fd, data, len);
	if (!r && fchmod(fd, mode))
		r = -errno;
	/* Whole on disk before it gets the name: a crash leaves the old file or the new one. */
	if (!r && fsync(fd))
		r = -errno;
	if (close(fd) && !r)
		r = -errno;
	if (!r && renameat(dirfd, tmp, dirfd, name))
		r = -errno;
	if (r) {
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	if ((flags & SAFEFILE_SYNC_DIR) && fsync(dirfd))
		return -errno;
	return 0;
}

int safefile_open_parent(const char *path, const char **base)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	int fd;

	if (!slash) {
		*base = path;
		snprintf(dir, sizeof(dir), ".");
	} else {
		*base = slash + 1;
		if ((size_t)(slash - path) >= sizeof(dir))
			return -ENAMETOOLONG;
		if (slash == path)
			snprintf(dir, sizeof(dir), "/");
		else
			snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int safefile_write(const char *path, const void *data, size_t len, mode_t mode, unsigned flags)
{
	const char *base;
	int dirfd = safefile_open_parent(path, &base), r;

	if (dirfd < 0)
		return dirfd;
	r = safefile_write_at(dirfd, base, data, len, mode, flags);
	close(dirfd);
	return r;
}

ssize_t safefile_read_at(int dirfd, const char *name, char *buf, size_t size, struct stat *st)
{
	struct stat sb;
	size_t used = 0;
	ssize_t r = 0;
	int fd;

	if (!size)
		return -EINVAL;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb)) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		r = -EINVAL;
		goto out;
	}
	while (used < size - 1) {
		ssize_t n = read(fd, buf + used, size - 1 - used);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (!n)
			break;
		used += (size_t)n;
	}
	/* One byte more than fits says the file is too large: no silent truncation. */
	if (used == size - 1) {
		char extra;

		if (read(fd, &extra, 1) == 1) {
			r = -EFBIG;
			goto out;
		}
	}
	buf[used] = 0;
	r = (ssize_t)used;
	if (st)
		*st = sb;
out:
	close(fd);
	return r;
}
