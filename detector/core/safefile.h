/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Files written whole or not at all, and never through a link someone else planted.
 *
 * A write goes to a unique temporary name in the target's own folder (openat on the folder's
 * descriptor with O_CREAT|O_EXCL|O_NOFOLLOW), gets its mode with fchmod (whatever the umask),
 * is fsynced, then renamed over the target with renameat.  A symlink planted at the target's
 * name is replaced, never followed; one planted at a temporary name makes O_EXCL fail, and
 * another name is drawn.  A reader sees the old file or the new one, never half of one.
 *
 * Everything cpudrift writes outside its database goes through here: the Prometheus textfile,
 * the hook spool, the hook runner's cursor.
 */
#ifndef CPUDRIFT_SAFEFILE_H
#define CPUDRIFT_SAFEFILE_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

enum safefile_flags {
	/* fsync the folder after the rename: the new name itself survives a power loss */
	SAFEFILE_SYNC_DIR = 1 << 0,
};

/**
 * Write @len bytes of @data as @name in the folder @dirfd, mode @mode.  0 or a negative
 * errno; on failure the target is unchanged and no temporary file is left.
 */
int safefile_write_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
		      unsigned flags);

/** The same for a path: its folder is opened (O_DIRECTORY) and the last component written. */
int safefile_write(const char *path, const void *data, size_t len, mode_t mode, unsigned flags);

/**
 * Read the regular file @name under @dirfd (AT_FDCWD: @name is a path) into @buf, at most
 * @size - 1 bytes, NUL-terminated; never through a symlink (O_NOFOLLOW) and never blocking on
 * a FIFO.  @st (may be NULL) receives its fstat.  The number of bytes read, or -ELOOP (a
 * symlink), -EINVAL (not a regular file), -EFBIG (larger than @size - 1), -errno.
 */
ssize_t safefile_read_at(int dirfd, const char *name, char *buf, size_t size, struct stat *st);

/** Open the folder of @path (O_RDONLY|O_DIRECTORY|O_CLOEXEC); its last component in @base. */
int safefile_open_parent(const char *path, const char **base);

#endif
