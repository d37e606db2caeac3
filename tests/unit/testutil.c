// SPDX-License-Identifier: GPL-2.0-or-later
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/mount.h>
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
