// SPDX-License-Identifier: GPL-2.0-or-later
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "sinks/hookexec.h"

/* The hook's own descriptor in the child: a script's interpreter opens /dev/fd/3. */
#define HOOK_FD 3
/* Rounds of "kill every child" before giving up on a tree that keeps coming back. */
#define KILL_ROUNDS 1000

int hookexec_init(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			return -EBADF;
	return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) ? -errno : 0;
}

bool hookexec_name_ok(const char *name)
{
	if (!*name)
		return false;
	for (; *name; name++)
		if (!((*name >= 'a' && *name <= 'z') || (*name >= 'A' && *name <= 'Z') ||
		      (*name >= '0' && *name <= '9') || *name == '-' || *name == '_'))
			return false;
	return true;
}

/* Owned by root, writable by nobody else. */
static const char *unsafe_why(const struct stat *st)
{
	if (st->st_uid != 0)
		return "not owned by root";
	if (st->st_mode & S_IWGRP)
		return "group-writable";
	if (st->st_mode & S_IWOTH)
		return "world-writable";
	return NULL;
}

int hookexec_open_dir(const char *path, int *dirfd, struct errbuf *err)
{
	const char *why;
	struct stat st;
	int fd, r;

	*dirfd = -1;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		errbuf_set(err, "failed to open the hooks folder %s: %s", path, strerror(errno));
		return r;
	}
	if (fstat(fd, &st)) {
		r = -errno;
		errbuf_set(err, "failed to stat the hooks folder %s: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	why = unsafe_why(&st);
	if (why) {
		errbuf_set(err, "hooks folder %s is %s (uid %u, mode %04o): no hook runs", path,
			   why, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		close(fd);
		return -EPERM;
	}
	*dirfd = fd;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void hookexec_list_free(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int hookexec_list(int dirfd, char ***names)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), n = 0, cap = 0;
	char **v = NULL;
	struct dirent *de;
	DIR *d;

	*names = NULL;
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (!hookexec_name_ok(de->d_name))
			continue;
		if (n == cap) {
			char **nv = realloc(v, (size_t)(cap ? cap * 2 : 16) * sizeof(*v));

			if (!nv)
				goto nomem;
			v = nv;
			cap = cap ? cap * 2 : 16;
		}
		v[n] = strdup(de->d_name);
		if (!v[n])
			goto nomem;
		n++;
	}
	closedir(d);
	/* Bytes, not the locale: the order must not depend on who runs it. */
	if (n > 1)
		qsort(v, (size_t)n, sizeof(*v), cmp_str);
	*names = v;
	return n;
nomem:
	closedir(d);
	hookexec_list_free(v, n);
	return -ENOMEM;
}

int hookexec_open(int dirfd, const char *name, int *fd, struct errbuf *err)
{
	const char *why;
	struct stat st;
	int f, r;

	*fd = -1;
	/* O_PATH: a FIFO planted here cannot block the open; execveat takes the descriptor. */
	f = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (f < 0) {
		r = -errno;
		errbuf_set(err, "failed to open hook %s: %s", name, strerror(errno));
		return r;
	}
	if (fstat(f, &st)) {
		r = -errno;
		errbuf_set(err, "failed to stat hook %s: %s", name, strerror(errno));
		goto fail;
	}
	if (S_ISLNK(st.st_mode)) {
		r = -ELOOP;
		errbuf_set(err, "hook %s is a symlink: not run", name);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		errbuf_set(err, "hook %s is not a regular file: not run", name);
		goto fail;
	}
	if (!(st.st_mode & 0111)) {
		r = -ENOEXEC;
		goto fail;
	}
	why = unsafe_why(&st);
	if (why) {
		r = -EPERM;
		errbuf_set(err, "hook %s is %s (uid %u, mode %04o): not run", name, why,
			   (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	*fd = f;
	return 0;
fail:
	close(f);
	return r;
}

static int memfd_with(const char *data, size_t len)
{
	int fd = memfd_create("cpudrift-hook-stdin", MFD_CLOEXEC);
	size_t off = 0;

	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0) {
			close(fd);
			return -errno;
		}
		off += (size_t)w;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* Say why on the hook's own output (the runner logs it), with async-signal-safe calls. */
static void __attribute__((noreturn)) exec_failed(int e)
{
	static const char msg[] = "cannot execute the hook (errno ";
	char num[16];
	int i = sizeof(num);

	num[--i] = '\n';
	num[--i] = ')';
	do
		num[--i] = (char)('0' + e % 10);
	while ((e /= 10) && i > 0);
	if (write(2, msg, sizeof(msg) - 1) < 0 || write(2, num + i, sizeof(num) - (size_t)i) < 0)
		_exit(127);
	_exit(127);
}

/* In the child: only async-signal-safe calls until exec. */
static void __attribute__((noreturn))
exec_hook(int fd, const char *name, int infd, int outfd, char *const env[])
{
	char *const argv[] = { (char *)name, NULL };
	sigset_t none;

	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	if (dup2(infd, 0) < 0 || dup2(outfd, 1) < 0 || dup2(outfd, 2) < 0)
		_exit(126);
	if ((fd != HOOK_FD && dup2(fd, HOOK_FD) < 0) || fcntl(HOOK_FD, F_SETFD, 0))
		_exit(126);
	close_range(HOOK_FD + 1, ~0U, 0);
	if (chdir("/"))
		_exit(126);
	syscall(SYS_execveat, HOOK_FD, "", argv, env, AT_EMPTY_PATH);
	exec_failed(errno);
}

/* Our children now: the ones we started and the orphans a subreaper inherits. */
static int children(pid_t *pids, int max)
{
	char path[300], buf[4096];
	int fd, n = 0;
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/children", (long)syscall(SYS_gettid));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len >= 0) {
			buf[len] = 0;
			for (char *p = buf, *end; n < max; p = end) {
				long v = strtol(p, &end, 10);

				if (end == p)
					break;
				pids[n++] = (pid_t)v;
			}
			return n;
		}
	}
	/* Kernels without CONFIG_PROC_CHILDREN: the parent of every process in /proc. */
	{
		DIR *d = opendir("/proc");
		struct dirent *de;
		pid_t me = getpid();

		if (!d)
			return -errno;
		while (n < max && (de = readdir(d))) {
			char stat[512], *rp;
			int ppid = 0;

			if (de->d_name[0] < '0' || de->d_name[0] > '9')
				continue;
			snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			len = read(fd, stat, sizeof(stat) - 1);
			close(fd);
			if (len <= 0)
				continue;
			stat[len] = 0;
			rp = strrchr(stat, ')');
			if (rp && sscanf(rp, ") %*c %d", &ppid) == 1 && ppid == me)
				pids[n++] = atoi(de->d_name);
		}
		closedir(d);
	}
	return n;
}

/*
 * Kill the hook's group, then every child we have, until none is left: each killed process
 * hands its own children to us (subreaper), and a process that got SIGKILL forks no more.
 */
static unsigned kill_tree(pid_t pgid)
{
	unsigned killed = 0;
	pid_t pids[256];

	kill(-pgid, SIGKILL);
	for (int round = 0; round < KILL_ROUNDS; round++) {
		int n = children(pids, 256);

		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			kill(-pids[i], SIGKILL);
			kill(pids[i], SIGKILL);
		}
		for (int i = 0; i < n; i++)
			if (waitpid(pids[i], NULL, 0) == pids[i])
				killed++;
	}
	return killed;
}

static int pidfd_of(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static void take_output(struct hook_result *r, int *fd)
{
	char buf[8192];
	ssize_t n = read(*fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(*fd);
		*fd = -1;
		return;
	}
	r->out_total += (uint64_t)n;
	if (r->out_len < HOOK_OUTPUT_KEEP) {
		size_t k = (size_t)n < HOOK_OUTPUT_KEEP - r->out_len ?
				   (size_t)n :
				   HOOK_OUTPUT_KEEP - r->out_len;

		memcpy(r->out + r->out_len, buf, k);
		r->out_len += k;
		r->out[r->out_len] = 0;
	}
}

int hookexec_run(int fd, const char *name, char *const env[], const char *in, size_t inlen,
		 unsigned timeout_ms, struct hook_result *r, struct errbuf *err)
{
	int64_t deadline = clock_mono_ns() / NSEC_PER_MSEC + timeout_ms;
	int infd, p[2], pidfd;
	bool exited = false;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	infd = memfd_with(in, inlen);
	if (infd < 0) {
		errbuf_set(err, "failed to start hook %s: %s", name, strerror(-infd));
		return infd;
	}
	if (pipe2(p, O_CLOEXEC)) {
		int e = errno;

		close(infd);
		errbuf_set(err, "failed to start hook %s: %s", name, strerror(e));
		return -e;
	}
	pid = fork();
	if (pid == 0)
		exec_hook(fd, name, infd, p[1], env);
	close(infd);
	close(p[1]);
	if (pid < 0) {
		int e = errno;

		close(p[0]);
		errbuf_set(err, "failed to start hook %s: %s", name, strerror(e));
		return -e;
	}
	/* Also from here, so that a kill of the group cannot race the child's own setpgid. */
	setpgid(pid, pid);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	pidfd = pidfd_of(pid);

	while (!exited || p[0] >= 0) {
		int64_t left = deadline - clock_mono_ns() / NSEC_PER_MSEC;
		struct pollfd pf[2] = { { .fd = p[0], .events = POLLIN },
					{ .fd = exited ? -1 : pidfd, .events = POLLIN } };

		if (!exited && left <= 0) {
			r->timed_out = true;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &r->status, 0);
			exited = true;
			r->leftovers = kill_tree(pid);
			continue;
		}
		/* Over, and its output still open: someone outside its tree holds the pipe. */
		if (exited && left < -1000)
			break;
		/* Without a pidfd (kernels before 5.3), look at the child every 50 ms. */
		if (poll(pf, 2, exited ? 1000 : (int)(pidfd < 0 && left > 50 ? 50 : left)) < 0 &&
		    errno != EINTR)
			break;
		if (p[0] >= 0 && pf[0].revents)
			take_output(r, &p[0]);
		if (!exited && waitpid(pid, &r->status, WNOHANG) == pid) {
			exited = true;
			/* The hook is over: what it left running goes too (and the pipe closes). */
			r->leftovers = kill_tree(pid);
		}
	}
	if (p[0] >= 0)
		close(p[0]);
	if (pidfd >= 0)
		close(pidfd);
	return 0;
}
