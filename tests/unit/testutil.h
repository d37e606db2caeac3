/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small helpers the test suites share: temporary folders, whole-file reads, commands. */
#ifndef CPUDRIFT_TESTUTIL_H
#define CPUDRIFT_TESTUTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>

#define TU_JOURNALD "/lib/systemd/systemd-journald"

/** The whole file, NUL-terminated ("" when empty), or NULL when it cannot be opened. */
char *tu_read_file(const char *path);
/** Remove @dir and everything below it; logs (does not fail) when it cannot. */
void tu_rmtree(const char *dir);
/**
 * Run @cmd with sh -c; its standard output (2>&1 is the caller's), malloc'd; *@rc its exit
 * status when @rc is not NULL.
 */
char *tu_run(const char *cmd, int *rc);
/** The path of a built file: $CPUDRIFT_BUILD/@rel (one of 8 rotating buffers). */
const char *tu_build(const char *rel);

/* One line of the attribution corpus (tests/fixtures/attrib_corpus.txt). */
struct tu_corpus_line {
	char insn[300]; /* GNU as, Intel syntax */
	char expect[300]; /* the features it needs, "-" or "trap" */
};

/** Every encoding of the corpus at @path into *@out (malloc'd); returns the count. */
int tu_corpus_read(const char *path, struct tu_corpus_line **out);
/**
 * Assemble @v with GNU as in @dir: encoding i is at 16 * i in *@bin, padded with int3.
 * 0, or -1 when as or objcopy fails.
 */
int tu_corpus_assemble(const struct tu_corpus_line *v, int n, const char *dir, uint8_t **bin,
		       long *len);

/** True once @path exists (and holds @needle, when not NULL), polled for up to @ms. */
bool tu_wait_for(const char *path, const char *needle, int ms);

/**
 * In a child process of its own (it unshares the mount namespace): tmpfs over /run/systemd,
 * /run/log and /var/log/journal and a systemd-journald of our own, so that the machine's
 * real journal is never touched (PID 1 is not systemd on the project machines).  0 with its
 * pid in *@jd, or 77 (skip) with the reason written to @msgfd.
 */
int tu_private_journald(int msgfd, pid_t *jd);

/*
 * What systemd does with a service's notify socket: a datagram socket read all the time
 * (one nobody reads fills after net.unix.max_dgram_qlen datagrams and then blocks the
 * sender's sd_notify()), each notification stamped by the kernel.
 */
struct tu_notes {
	int fd;
	volatile bool stop;
	int64_t ready; /* realtime ns of the first READY=1, 0 before */
	int64_t pings; /* WATCHDOG=1 since READY=1 */
	int64_t max_gap; /* the longest wait for a WATCHDOG=1 since READY=1, ns */
	int64_t last;
	pthread_t reader;
};

/** Bind @sock_path and start reading it in a thread. */
void tu_notes_start(struct tu_notes *n, const char *sock_path);
/** Stop the reader and close the socket (also when never started: fd -1). */
void tu_notes_stop(struct tu_notes *n);

/**
 * Start `cpudrift -v -v run --config @conf` as systemd would with WatchdogSec: NOTIFY_SOCKET
 * @notify_path, WATCHDOG_USEC @watchdog_usec; stdout and stderr appended to @log.  The child
 * dies with the test (PR_SET_PDEATHSIG).  Its pid.
 */
pid_t tu_start_watched_daemon(const char *conf, const char *log, const char *notify_path,
			      long watchdog_usec);

/** VmRSS of @pid in kB, -1 when unknown. */
long tu_rss_kb(pid_t pid);

#endif
