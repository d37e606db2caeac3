/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One hook, checked and run (sinks; used by the hook runner, sink_hooks.h).
 *
 * What may run: the hooks folder and each hook belong to root and are writable by nobody
 * else (neither group- nor world-writable), because whoever could edit a hook would run code
 * as the hook user with every event in hand.  A hook is a regular file, opened with
 * O_NOFOLLOW (a symlink is refused), executable, named the way run-parts wants
 * ([A-Za-z0-9_-]+: editor backups and package leftovers such as 50-webhook.dpkg-dist never
 * run).  It is executed from the very descriptor that was checked (execveat(fd, "",
 * AT_EMPTY_PATH)) and never opened by its path again: a file swapped in after the check does
 * not run.  A script's interpreter reads it through /dev/fd/3, the same open file.
 *
 * One run: the event JSON on stdin (a memfd: a hook that never reads cannot block us),
 * stdout and stderr into one pipe of which the first HOOK_OUTPUT_KEEP bytes are kept and
 * the rest only counted, and a timeout.  When the hook exits, or its time is up, every
 * process it started is killed: its process group, and whatever it left in other sessions
 * (setsid): the caller is a child subreaper (hookexec_init), so those orphans come back to
 * it and are killed until none is left.
 */
#ifndef CPUDRIFT_HOOKEXEC_H
#define CPUDRIFT_HOOKEXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct errbuf;

#define HOOK_OUTPUT_KEEP 4096

struct hook_result {
	int status; /* waitpid() status of the hook itself */
	bool timed_out; /* killed at the timeout */
	unsigned leftovers; /* processes still running once it was over, killed */
	uint64_t out_total; /* bytes written to stdout and stderr */
	size_t out_len; /* bytes kept in @out */
	char out[HOOK_OUTPUT_KEEP + 1]; /* NUL-terminated */
};

/**
 * Once per process, before the first run: become a child subreaper (PR_SET_CHILD_SUBREAPER)
 * and make sure descriptors 0-2 are open.  0 or -errno.
 */
int hookexec_init(void);

/** True for a name run-parts would run: [A-Za-z0-9_-]+. */
bool hookexec_name_ok(const char *name);

/**
 * Open the hooks folder @path and check it (a folder, owned by root, not group- or
 * world-writable).  The descriptor in *@dirfd.  0, or -ENOENT (no such folder), -EPERM
 * (unsafe), -errno, with @err filled.
 */
int hookexec_open_dir(const char *path, int *dirfd, struct errbuf *err);

/** The hook names in the folder @dirfd (hookexec_name_ok), sorted by bytes.  Count or -errno. */
int hookexec_list(int dirfd, char ***names);
void hookexec_list_free(char **names, int n);

/**
 * Open hook @name of the folder @dirfd (O_PATH|O_NOFOLLOW) and check it.  The descriptor in
 * *@fd.  0; -ENOEXEC for a regular file without an execute bit (not a hook: skip it
 * quietly); -ELOOP (a symlink), -EINVAL (not a regular file), -EPERM (not root's, or group-
 * or world-writable) or -errno with @err filled.
 */
int hookexec_open(int dirfd, const char *name, int *fd, struct errbuf *err);

/**
 * Run the hook @fd (from hookexec_open) as @name with environment @env and @in on stdin,
 * for at most @timeout_ms.  Blocks until it and everything it started are gone.  0 with @r
 * filled (whatever the hook's exit status), or -errno when it could not start (@err).
 */
int hookexec_run(int fd, const char *name, char *const env[], const char *in, size_t inlen,
		 unsigned timeout_ms, struct hook_result *r, struct errbuf *err);

#endif
