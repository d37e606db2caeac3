// SPDX-License-Identifier: GPL-2.0-or-later
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

char *tu_read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	if (getdelim(&buf, &len, 0, f) < 0) {
		free(buf);
		buf = strdup("");
	}
	fclose(f);
	return buf;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void tu_rmtree(const char *dir)
{
	if (dir && dir[0] && nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS))
		cr_log_warn("could not remove %s", dir);
}

int tu_corpus_read(const char *path, struct tu_corpus_line **out)
{
	FILE *f = fopen(path, "r");
	struct tu_corpus_line *v = NULL;
	char line[300];
	int n = 0;

	cr_assert_not_null(f, "cannot open %s", path);
	while (fgets(line, sizeof(line), f)) {
		char *bar = strstr(line, " | ");

		if (line[0] == '#' || !bar)
			continue;
		v = realloc(v, (n + 1) * sizeof(*v));
		cr_assert_not_null(v);
		*bar = '\0';
		bar[3 + strcspn(bar + 3, "\n")] = '\0';
		snprintf(v[n].insn, sizeof(v[n].insn), "%s", line);
		snprintf(v[n].expect, sizeof(v[n].expect), "%s", bar + 3);
		n++;
	}
	fclose(f);
	*out = v;
	return n;
}

int tu_corpus_assemble(const struct tu_corpus_line *v, int n, const char *dir, uint8_t **bin,
		       long *len)
{
	char path[512], cmd[1600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/corpus.s", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	/* One instruction per 16-byte slot (none is longer than 15), padded with int3. */
	fprintf(f, ".intel_syntax noprefix\n.text\n");
	for (int i = 0; i < n; i++)
		fprintf(f, ".p2align 4, 0xcc\n%s\n", v[i].insn);
	fprintf(f, ".p2align 4, 0xcc\n");
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "as --64 -o %s/corpus.o %s/corpus.s && objcopy -O binary -j .text %s/corpus.o "
		 "%s/corpus.bin",
		 dir, dir, dir, dir);
	if (system(cmd))
		return -1;
	snprintf(path, sizeof(path), "%s/corpus.bin", dir);
	f = fopen(path, "rb");
	cr_assert_not_null(f);
	fseek(f, 0, SEEK_END);
	*len = ftell(f);
	rewind(f);
	*bin = malloc(*len);
	cr_assert_not_null(*bin);
	cr_assert_eq(fread(*bin, 1, *len, f), (size_t)*len);
	fclose(f);
	return 0;
}

char *tu_run(const char *cmd, int *rc)
{
	FILE *p = popen(cmd, "r");
	char *buf = NULL;
	size_t len = 0;
	int st;

	cr_assert(p, "cannot run %s", cmd);
	if (getdelim(&buf, &len, 0, p) < 0) {
		free(buf);
		buf = strdup("");
	}
	st = pclose(p);
	if (rc)
		*rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return buf;
}

const char *tu_build(const char *rel)
{
	static char buf[8][512];
	static int k;
	const char *b = getenv("CPUDRIFT_BUILD");

	k = (k + 1) % 8;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", b ? b : CPUDRIFT_SRCDIR "/build", rel);
	return buf[k];
}

bool tu_wait_for(const char *path, const char *needle, int ms)
{
	for (int t = 0; t < ms; t += 50) {
		char *s = tu_read_file(path);
		bool ok = s && (!needle || strstr(s, needle));

		free(s);
		if (ok)
			return true;
		usleep(50000);
	}
	return false;
}

int tu_private_journald(int msgfd, pid_t *jd)
{
	const char *tmpfs_on[] = { "/run/systemd", "/run/log", "/var/log/journal" };

	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		dprintf(msgfd, "cannot make a private mount namespace: %s", strerror(errno));
		return 77;
	}
	for (size_t i = 0; i < sizeof(tmpfs_on) / sizeof(tmpfs_on[0]); i++) {
		if (i == 2 && access(tmpfs_on[i], F_OK))
			continue; /* no persistent journal: journald will not use it */
		mkdir(tmpfs_on[i], 0755);
		if (mount("tmpfs", tmpfs_on[i], "tmpfs", 0, "mode=0755")) {
			dprintf(msgfd, "cannot mount tmpfs on %s: %s", tmpfs_on[i],
				strerror(errno));
			return 77;
		}
	}
	mkdir("/run/systemd/journal", 0755);
	*jd = fork();
	if (*jd == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 1);
		dup2(null, 2);
		execl(TU_JOURNALD, TU_JOURNALD, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100 && access("/run/systemd/journal/socket", F_OK); i++)
		usleep(20000);
	if (access("/run/systemd/journal/socket", F_OK)) {
		dprintf(msgfd, "systemd-journald did not create its socket");
		kill(*jd, SIGKILL);
		return 77;
	}
	return 0;
}

/* One notification and when the kernel received it (realtime ns); 0 when none came. */
static int64_t recv_note(int fd, char *buf, size_t len, int timeout_ms)
{
	char ctl[256];
	struct iovec iov = { buf, len - 1 };
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)
	};
	struct pollfd p = { fd, POLLIN, 0 };
	ssize_t n;

	if (poll(&p, 1, timeout_ms) <= 0)
		return 0;
	n = recvmsg(fd, &m, 0);
	if (n < 0)
		return 0;
	buf[n] = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		}
	return 1;
}

static void *read_notes(void *arg)
{
	struct tu_notes *n = arg;
	char buf[4096];

	while (!n->stop) {
		int64_t t = recv_note(n->fd, buf, sizeof(buf), 100);

		if (!t)
			continue;
		if (strstr(buf, "READY=1") && !n->ready)
			n->ready = n->last = t;
		if (strstr(buf, "WATCHDOG=1") && n->ready) {
			n->pings++;
			if (t - n->last > n->max_gap)
				n->max_gap = t - n->last;
			n->last = t;
		}
	}
	return NULL;
}

void tu_notes_start(struct tu_notes *n, const char *sock_path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int on = 1, size = 1 << 20;

	memset(n, 0, sizeof(*n));
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(n->fd, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
	cr_assert_eq(bind(n->fd, (struct sockaddr *)&a, sizeof(a)), 0, "bind %s: %s", sock_path,
		     strerror(errno));
	setsockopt(n->fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
	setsockopt(n->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	cr_assert_eq(pthread_create(&n->reader, NULL, read_notes, n), 0);
}

void tu_notes_stop(struct tu_notes *n)
{
	if (n->fd < 0)
		return;
	n->stop = true;
	pthread_join(n->reader, NULL);
	close(n->fd);
	n->fd = -1;
}

pid_t tu_start_watched_daemon(const char *conf, const char *log, const char *notify_path,
			      long watchdog_usec)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (!pid) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		char wd[32];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 1);
		dup2(fd, 2);
		snprintf(wd, sizeof(wd), "%ld", watchdog_usec);
		setenv("NOTIFY_SOCKET", notify_path, 1);
		setenv("WATCHDOG_USEC", wd, 1);
		execl(tu_build("cpudrift"), "cpudrift", "-v", "-v", "run", "--config", conf,
		      (char *)NULL);
		_exit(127);
	}
	return pid;
}

long tu_rss_kb(pid_t pid)
{
	char p[64], *s, *v;
	long kb = -1;

	snprintf(p, sizeof(p), "/proc/%d/status", pid);
	s = tu_read_file(p);
	if (s && (v = strstr(s, "VmRSS:")))
		kb = strtol(v + 6, NULL, 10);
	free(s);
	return kb;
}
