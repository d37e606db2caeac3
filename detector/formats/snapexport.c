// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/safefile.h"
#include "formats/snapexport.h"
#include "formats/snapjson.h"

/* Write @s as @name in @dirfd, whole or not at all, never through a link (core/safefile). */
static int write_at(int dirfd, const char *name, const struct snapshot *s)
{
	struct json_object *j = snapshot_to_json(s);
	const char *text;
	int r;

	if (!j)
		return -ENOMEM;
	text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
	/* Collectors read it as another user: 0644 whatever the umask. */
	r = safefile_write_at(dirfd, name, text, strlen(text), 0644, 0);
	json_object_put(j);
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
