// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Logging as systemd sees it.  With JOURNAL_STREAM naming stderr (what systemd sets for a
 * service), every line carries its sd-daemon.h priority prefix, so that an error lands in
 * the journal as an error; anywhere else lines are plain "cpudrift: LEVEL: ..." text.  Shown
 * on the real program's stderr in a file, then through a real systemd-journald's stdout
 * stream, read back with sd-journal.  Control characters in a message never reach the
 * output raw.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <systemd/sd-journal.h>

#include "testutil.h"

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/cpudrift-log-XXXXXX");
	cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
	tu_rmtree(dir);
}

TestSuite(log, .init = setup, .fini = teardown, .timeout = 60);

/* A configuration with a retired key (a warning) and an unknown one (an error). */
static const char *bad_conf(void)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/bad.conf", dir);
	f = fopen(path, "w");
	cr_assert(f);
	fputs("hook_user = nobody\nbogus_key = 1\n", f);
	fclose(f);
	return path;
}

/* `cpudrift run --config bad.conf` with stderr on @errfd and JOURNAL_STREAM=@stream. */
static void run_with_stderr(int errfd, const char *stream)
{
	pid_t pid = fork();
	int status;

	cr_assert_geq(pid, 0);
	if (!pid) {
		dup2(errfd, 2);
		if (stream)
			setenv("JOURNAL_STREAM", stream, 1);
		else
			unsetenv("JOURNAL_STREAM");
		execl(tu_build("cpudrift"), "cpudrift", "run", "--config", bad_conf(),
		      (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 2, "exit status 0x%x", status);
}

static char *stderr_of(const char *stream_fmt_for_file, bool same_file)
{
	char path[128], other[128], stream[64];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/stderr", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert(fd >= 0);
	close(open(other, O_WRONLY | O_CREAT, 0644));
	cr_assert_eq(stat(same_file ? path : other, &st), 0);
	snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	run_with_stderr(fd, stream_fmt_for_file ? stream : NULL);
	close(fd);
	return tu_read_file(path);
}

Test(log, priority_prefixes_only_when_stderr_is_the_journal_stream)
{
	char *plain = stderr_of(NULL, false), *journal = stderr_of("", true),
	     *elsewhere = stderr_of("", false);

	cr_assert(plain && journal && elsewhere);
	cr_expect(strstr(plain, "cpudrift: warning: ") && strstr(plain, "'hook_user'"), "%s",
		  plain);
	cr_expect(strstr(plain, "cpudrift: error: ") && strstr(plain, "unknown key 'bogus_key'"),
		  "%s", plain);
	cr_expect(!strchr(plain, '<'), "a prefix without JOURNAL_STREAM: %s", plain);
	/* systemd's JOURNAL_STREAM names this very stderr: <4> warning, <3> error */
	cr_expect(!strncmp(journal, "<4>", 3) && strstr(journal, "'hook_user'"), "%s", journal);
	cr_expect(strstr(journal, "\n<3>") && strstr(journal, "unknown key 'bogus_key'"), "%s",
		  journal);
	cr_expect(!strstr(journal, "cpudrift: error:"), "%s", journal);
	/* stderr was redirected after systemd set JOURNAL_STREAM: plain again */
	cr_expect_str_eq(elsewhere, plain);
	free(plain);
	free(journal);
	free(elsewhere);
}

Test(log, control_characters_never_reach_the_output_raw)
{
	char path[128], errpath[128], *out;
	FILE *f;
	int fd;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/esc.conf", dir);
	f = fopen(path, "w");
	fputs("interval = \x1b[2J\x1b[31mforged\r\n", f);
	fclose(f);
	snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
	fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	pid = fork();
	if (!pid) {
		dup2(fd, 2);
		unsetenv("JOURNAL_STREAM");
		execl(tu_build("cpudrift"), "cpudrift", "run", "--config", path, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
	close(fd);
	out = tu_read_file(errpath);
	cr_assert(out);
	cr_expect(strstr(out, "\\e[2J\\e[31mforged"), "%s", out);
	cr_expect(!strchr(out, '\x1b') && !strchr(out, '\r'), "a raw control character: %s", out);
	free(out);
}

/* In a child with its own journald: run cpudrift twice on a journal stream, read back. */
static int journald_child(int msgfd)
{
	static const char header[] = "cpudrift-logtest\n\n6\n1\n0\n0\n0\n";
	struct sockaddr_un sa = { .sun_family = AF_UNIX,
				  .sun_path = "/run/systemd/journal/stdout" };
	int prio_err = -1, prio_warn = -1, prio_plain = -1;
	char stream[64];
	sd_journal *j;
	struct stat st;
	pid_t jd;
	int r, s;

	r = tu_private_journald(msgfd, &jd);
	if (r)
		return r;
	for (int round = 0; round < 2; round++) {
		s = socket(AF_UNIX, SOCK_STREAM, 0);
		if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) ||
		    write(s, header, sizeof(header) - 1) != sizeof(header) - 1 || fstat(s, &st)) {
			dprintf(msgfd, "cannot open a journal stream: %s", strerror(errno));
			kill(jd, SIGKILL);
			return 77;
		}
		snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino);
		/* round 0: as systemd starts a service; round 1: no JOURNAL_STREAM */
		run_with_stderr(s, round == 0 ? stream : NULL);
		close(s);
	}
	for (int tries = 0; tries < 60 && (prio_err < 0 || prio_warn < 0 || prio_plain < 0);
	     tries++) {
		usleep(50000);
		if (sd_journal_open_directory(&j, "/run/log/journal", 0) < 0)
			continue;
		sd_journal_add_match(j, "SYSLOG_IDENTIFIER=cpudrift-logtest", 0);
		SD_JOURNAL_FOREACH(j)
		{
			const void *m, *p;
			size_t ml, pl;

			if (sd_journal_get_data(j, "MESSAGE", &m, &ml) < 0 ||
			    sd_journal_get_data(j, "PRIORITY", &p, &pl) < 0)
				continue;
			if (memmem(m, ml, "cpudrift: error:", 16))
				prio_plain = atoi((const char *)p + 9);
			else if (memmem(m, ml, "cpudrift: ", 10))
				continue; /* the plain run's warning */
			else if (memmem(m, ml, "bogus_key", 9))
				prio_err = atoi((const char *)p + 9);
			else if (memmem(m, ml, "hook_user", 9))
				prio_warn = atoi((const char *)p + 9);
		}
		sd_journal_close(j);
	}
	kill(jd, SIGTERM);
	waitpid(jd, NULL, 0);
	dprintf(msgfd, "error at PRIORITY=%d, warning at %d, without JOURNAL_STREAM an error at %d",
		prio_err, prio_warn, prio_plain);
	return prio_err == 3 && prio_warn == 4 && prio_plain == 6 ? 0 : 1;
}

Test(log, errors_reach_a_real_journal_at_their_priority)
{
	char msg[512] = "";
	int fds[2], status;
	ssize_t n;
	pid_t pid;

	if (geteuid() != 0)
		cr_skip_test("not root: cannot start a private systemd-journald");
	if (access(TU_JOURNALD, X_OK))
		cr_skip_test("%s is missing", TU_JOURNALD);
	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		_exit(journald_child(fds[1]));
	}
	close(fds[1]);
	n = read(fds[0], msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = 0;
	close(fds[0]);
	waitpid(pid, &status, 0);
	cr_assert(WIFEXITED(status), "the journald test child crashed");
	if (WEXITSTATUS(status) == 77)
		cr_skip_test("%s", msg);
	cr_expect_eq(WEXITSTATUS(status), 0, "%s", msg);
}
