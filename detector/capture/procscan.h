/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Facts about one process from /proc (or from a tree laid out like it, for tests): its
 * stat line (comm, state, flags, threads, start time), and, read through one descriptor
 * of its /proc/PID folder so that they all belong to the same process, its uid,
 * executable, the highest glibc-hwcaps/x86-64-vN library it maps, whether its environment
 * masks glibc's hwcaps, and its cgroup path.  The stat line is read again afterwards: a
 * process that vanished or changed its start time meanwhile is reported gone, so a reused
 * PID is never blamed for its predecessor.  Every read is bounded.  Gathers facts only.
 */
#ifndef CPUDRIFT_PROCSCAN_H
#define CPUDRIFT_PROCSCAN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PROCSCAN_COMM_MAX 64 /* TASK_COMM_LEN is 16; longer names are cut */
#define PROCSCAN_EXE_MAX 512
#define PROCSCAN_CGROUP_MAX 4096
/* Reading stops here: a process with 65,530 mappings writes ~6 MB of maps. */
#define PROCSCAN_MAPS_MAX (8u << 20)
/* The kernel lets an environment grow to a quarter of the stack limit. */
#define PROCSCAN_ENVIRON_MAX (1u << 20)

/* /proc/PID/stat */
struct proc_stat {
	int pid;
	char comm[PROCSCAN_COMM_MAX];
	char state; /* R S D T t Z X I P ... */
	unsigned long flags; /* PF_* */
	long threads;
	uint64_t start_ticks; /* clock ticks after boot (CLOCK_BOOTTIME) */
	int64_t start_boot_ns;
};

/* What procscan_read() reads besides the stat line. */
enum {
	PROCSCAN_UID = 1 << 0,
	PROCSCAN_EXE = 1 << 1,
	PROCSCAN_HWCAPS = 1 << 2,
	PROCSCAN_ENV = 1 << 3,
	PROCSCAN_CGROUP = 1 << 4,
	PROCSCAN_ALL = 0x1f,
};

struct proc_facts {
	struct proc_stat st;
	long uid; /* real uid; -1 unknown */
	char exe[PROCSCAN_EXE_MAX]; /* "" unknown (gone, a kernel thread, no permission) */
	bool self_exe; /* runs the same executable file as the caller (cpudrift itself) */
	int hwcaps_level; /* highest glibc-hwcaps/x86-64-vN mapped; 0 none; -1 unknown */
	int glibc_masked; /* GLIBC_TUNABLES masks AVX2 and glibc honours it: 1, 0, -1 unknown */
	char cgroup[PROCSCAN_CGROUP_MAX]; /* "" unknown */
};

struct procscan;

/**
 * A reader of @root ("/proc", or a fixture tree).  @self_exe: the executable that is
 * cpudrift (proc_facts.self_exe); NULL: /proc/self/exe.  0 or a negative errno.
 *
 * A cgroup file has one line per hierarchy, the same number for every process.  A cgroup
 * folder name may hold a newline (any user may create one under delegation) and so fake a
 * line: a file with another count than ROOT/self/cgroup (read again at every listing) is
 * not trusted.
 */
int procscan__new(const char *root, const char *self_exe, struct procscan **out);
void procscan__free(struct procscan *s);

/*
 * A listing of the PIDs of the root.  Listings may be read a piece at a time: /proc lists
 * in PID order from where the last read stopped, so processes that start or exit meanwhile
 * do not disturb it.
 */
struct procscan_iter {
	void *dir;
};

/** 0 or a negative errno. */
int procscan_iter_open(struct procscan *s, struct procscan_iter *it);
/** The next PID, or 0 at the end (or on error). */
int procscan_iter_next(struct procscan_iter *it);
void procscan_iter_close(struct procscan_iter *it);

/** The stat line of @pid.  0, -ENOENT (gone), -EINVAL (malformed) or another errno. */
int procscan_stat(struct procscan *s, int pid, struct proc_stat *out);

/*
 * A process that runs user code: not a kernel thread, not a zombie or dead (unless only
 * its first thread exited and others still run), not exiting.
 */
bool procscan_live(const struct proc_stat *st);

/**
 * The stat line of @pid and the facts @what asks for (PROCSCAN_*).  0; -ENOENT when the
 * process is gone or changed its start time meanwhile; -EINVAL for a malformed stat line.
 * Facts that cannot be read are "unknown" and not an error.
 */
int procscan_read(struct procscan *s, int pid, unsigned what, struct proc_facts *out);

/*
 * The pure parsers behind procscan_read(), for the fuzz targets and the tests.  Each takes
 * the file's bytes (not NUL-terminated).
 */
int procscan_parse_stat(const char *buf, size_t len, struct proc_stat *out);
/** Highest x86-64-vN in glibc-hwcaps paths of complete maps lines; 0 none. */
int procscan_parse_maps(const char *buf, size_t len);
/** 1 when the last glibc.cpu.hwcaps setting in the environment's GLIBC_TUNABLES masks AVX2. */
int procscan_parse_environ(const char *buf, size_t len);
/** 1 when the auxiliary vector holds AT_SECURE != 0 (glibc then ignores the tunable). */
int procscan_parse_auxv(const char *buf, size_t len);
/**
 * The cgroup path: the v2 "0::" line, or on a hybrid system (both present) the
 * name=systemd line, which cgroupfs-driven runtimes also write.  -EINVAL when the file does
 * not have @lines lines (0: any), or has neither line.
 */
int procscan_parse_cgroup(const char *buf, size_t len, int lines, char *out, size_t outlen);

#endif
