/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fleet export: the latest snapshot as JSON at a fixed place in the state folder,
 * <state_dir>/export/snapshot.json, for configuration management to collect and feed to
 * `cpudrift fleet`.  Written whole or not at all (a unique temporary file in the same
 * folder, O_CREAT|O_EXCL|O_NOFOLLOW, fsync, rename), mode 0644 in a 0755 folder; a symlink
 * planted at the folder's or the file's name is refused or replaced, never followed.
 */
#ifndef CPUDRIFT_SNAPEXPORT_H
#define CPUDRIFT_SNAPEXPORT_H

#include "core/snapshot.h"

#define SNAPEXPORT_DIR "export"
#define SNAPEXPORT_FILE "snapshot.json"

/** Write @s as <state_dir>/export/snapshot.json.  0 or a negative errno. */
int snapexport_write(const char *state_dir, const struct snapshot *s);

#endif
