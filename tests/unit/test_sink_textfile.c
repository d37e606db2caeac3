// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The Prometheus textfile: its content, its atomic write, `promtool check metrics` on it
 * (Debian package prometheus) and a scrape through a real node_exporter (Debian package
 * prometheus-node-exporter) started on loopback with only the textfile collector.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "core/features.h"
#include "sinks/sink_textfile.h"
#include "testutil.h"

#define NODE_EXPORTER "/usr/bin/prometheus-node-exporter"
#define PROMTOOL "/usr/bin/promtool"

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/cpudrift-prom-XXXXXX");
	cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
	tu_rmtree(dir);
}

TestSuite(sink_textfile, .init = setup, .fini = teardown);

/* A busy VM: lost features, many event kinds, more fault series than the cap. */
static void busy_state(struct textfile_state *t)
{
	int avx2 = feature_lookup("avx2"), avx512f = feature_lookup("avx512f");
	char feat[16];

	memset(t, 0, sizeof(*t));
	t->degraded = true;
	t->start_time = 1700000000;
	t->nvcpus = 2;
	t->features_advertised = 120;
	t->x86_64_level = 2;
	t->shadow_features = 3;
	cr_assert(avx2 >= 0 && avx512f >= 0);
	featset_add(&t->lost, avx2);
	featset_add(&t->lost, avx512f);
	t->baseline_time = 1700000000.5;
	t->last_snapshot_time = 1700000300;
	t->last_migration_time = 1700000200;
	for (int k = 0; k < EV__COUNT; k++)
		t->events[k][k % (SEV_CRITICAL + 1)] = k + 1;
	for (int i = 0; i < 15; i++) {
		snprintf(feat, sizeof(feat), "feat\"%d", i); /* needs escaping */
		textfile_add_fault(t, "migration_mismatch", feat, 10);
	}
	textfile_add_fault(t, "migration_mismatch", "feat\"0", 5);
}

static char *render(const struct textfile_state *t)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_eq(textfile_render(t, f), 0);
	fclose(f);
	return buf;
}

static int count_series(const char *text)
{
	int n = 0;

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		n += *l != '#' && *l != '\n';
	return n;
}

Test(sink_textfile, content)
{
	struct textfile_state t;
	char *text;

	busy_state(&t);
	text = render(&t);
	cr_expect(strstr(text, "\ncpudrift_up 1\n") || !strncmp(text, "# HELP cpudrift_up", 18));
	cr_expect(strstr(text, "cpudrift_degraded 1\n"), "%s", text);
	cr_expect(strstr(text, "cpudrift_features_lost{feature=\"avx2\"} 1\n"), "%s", text);
	cr_expect(strstr(text, "cpudrift_features_lost{feature=\"avx512f\"} 1\n"), "%s", text);
	cr_expect(strstr(text, "cpudrift_x86_64_level 2\n"));
	cr_expect(strstr(text, "cpudrift_last_migration_suspected_timestamp_seconds 1700000200\n"));
	cr_expect(strstr(text, "cpudrift_baseline_timestamp_seconds 1700000000.5\n"));
	cr_expect(strstr(text,
			 "cpudrift_events_total{kind=\"fault.sigill\",severity=\"notice\"} 6\n"),
		  "%s", text);
	/* Escaped label values; the first fault series summed; the overflow folded. */
	cr_expect(strstr(text, "cpudrift_faults_total{class=\"migration_mismatch\","
			       "feature=\"feat\\\"0\"} 15\n"),
		  "%s", text);
	cr_expect(strstr(text, "cpudrift_faults_total{class=\"other\",feature=\"other\"} 50\n"),
		  "%s", text);
	/* Every metric is documented. */
	for (const char *p = text; (p = strstr(p, "\ncpudrift_")); p++) {
		char name[96], help[128];

		sscanf(p + 1, "%95[a-z0-9_]", name);
		snprintf(help, sizeof(help), "# HELP %s ", name);
		cr_expect(strstr(text, help), "%s has no HELP", name);
		snprintf(help, sizeof(help), "# TYPE %s ", name);
		cr_expect(strstr(text, help), "%s has no TYPE", name);
	}
	free(text);
}

/* A fleet scrapes this: a VM in steady state (nothing lost, a few event kinds) stays small. */
Test(sink_textfile, steady_state_is_under_50_series)
{
	struct textfile_state t;
	char *text;

	memset(&t, 0, sizeof(t));
	t.x86_64_level = 4;
	t.events[EV_TIMING_STALL][SEV_NOTICE] = 3;
	t.events[EV_TIMING_STEAL][SEV_INFO] = 1;
	textfile_add_fault(&t, "not_feature_related", "", 2);
	text = render(&t);
	cr_expect_lt(count_series(text), 50, "%d series", count_series(text));
	free(text);
	busy_state(&t);
	text = render(&t);
	cr_expect_lt(count_series(text), 60, "even a busy VM: %d series", count_series(text));
	free(text);
}

Test(sink_textfile, atomic_write)
{
	struct textfile_state t;
	char path[128], tmp[140], *want, *got = NULL;
	size_t len = 0;
	FILE *f;

	busy_state(&t);
	snprintf(path, sizeof(path), "%s/cpudrift.prom", dir);
	cr_assert_eq(textfile_write(&t, path), 0);
	t.x86_64_level = 1;
	cr_assert_eq(textfile_write(&t, path), 0);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	cr_expect(access(tmp, F_OK), "%s left behind", tmp);
	f = fopen(path, "r");
	cr_assert(f);
	cr_assert_gt(getdelim(&got, &len, 0, f), 0);
	fclose(f);
	want = render(&t);
	cr_expect_str_eq(got, want);
	free(got);
	free(want);
	cr_expect_eq(textfile_write(&t, "/nonexistent-dir/x.prom"), -ENOENT);
}

/*
 * The folder node_exporter reads may be writable by others (its package's user, an ACL):
 * a symlink planted there, at the file's name or at the name older versions wrote to
 * first, must not send the write anywhere else, such as the daemon's own database.
 */
Test(sink_textfile, a_symlink_in_the_folder_redirects_nothing)
{
	struct textfile_state t;
	char path[128], tmp[140], victim[128], *v;
	mode_t old = umask(027); /* the unit's UMask= */
	struct stat st;

	busy_state(&t);
	snprintf(victim, sizeof(victim), "%s/cpudrift.db", dir);
	snprintf(path, sizeof(path), "%s/cpudrift.prom", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	{
		FILE *f = fopen(victim, "w");

		fputs("SQLite format 3", f);
		fclose(f);
	}
	cr_assert_eq(symlink(victim, path), 0);
	cr_assert_eq(symlink(victim, tmp), 0);
	cr_expect_eq(textfile_write(&t, path), 0);
	umask(old);
	v = tu_read_file(victim);
	cr_expect_str_eq(v, "SQLite format 3", "the write went through a planted symlink");
	free(v);
	cr_assert_eq(lstat(path, &st), 0);
	cr_expect(S_ISREG(st.st_mode), "%s is still a symlink", path);
	/* node_exporter runs as its own user: readable whatever the daemon's umask. */
	cr_expect_eq(st.st_mode & 07777, 0644, "mode %04o", st.st_mode & 07777);
	v = tu_read_file(path);
	cr_expect(v && strstr(v, "cpudrift_up 1"), "%s", v);
	free(v);
}

Test(sink_textfile, last_update_timestamp_and_hook_counters)
{
	struct textfile_state t;
	char *text;

	memset(&t, 0, sizeof(t));
	t.last_update_time = 1700000123;
	t.hook_failures = 4;
	t.spool_pending = 7;
	t.hook_drops[SPOOL_DROP_FULL] = 9;
	text = render(&t);
	cr_expect(strstr(text, "\ncpudrift_last_update_timestamp_seconds 1700000123\n"), "%s",
		  text);
	cr_expect(strstr(text, "\ncpudrift_hook_failures_total 4\n"), "%s", text);
	cr_expect(strstr(text, "\ncpudrift_hook_spool_events 7\n"), "%s", text);
	cr_expect(strstr(text, "cpudrift_hook_events_dropped_total{reason=\"spool_full\"} 9\n"),
		  "%s", text);
	cr_expect(strstr(text, "cpudrift_hook_events_dropped_total{reason=\"rate_limit\"} 0\n"),
		  "%s", text);
	free(text);
}

static int run_capture(char *const argv[], const char *stdin_path, char *out, size_t size)
{
	int fds[2], status;
	ssize_t n, used = 0;
	pid_t pid;

	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (stdin_path && !freopen(stdin_path, "r", stdin))
			_exit(126);
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	while ((n = read(fds[0], out + used, size - 1 - used)) > 0)
		used += n;
	out[used] = 0;
	close(fds[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Test(sink_textfile, promtool_check_metrics)
{
	char path[128], out[8192];
	char *argv[] = { PROMTOOL, "check", "metrics", NULL };
	struct textfile_state t;
	int rc;

	if (access(PROMTOOL, X_OK))
		cr_skip_test("promtool is missing (Debian package prometheus)");
	busy_state(&t);
	snprintf(path, sizeof(path), "%s/cpudrift.prom", dir);
	cr_assert_eq(textfile_write(&t, path), 0);
	rc = run_capture(argv, path, out, sizeof(out));
	cr_expect_eq(rc, 0, "promtool check metrics failed:\n%s", out);
	cr_expect_str_eq(out, "", "promtool complained:\n%s", out);
}

/* GET /metrics with a minimal HTTP/1.0 client; returns the body or NULL. */
static char *http_get(int port, const char *path)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	static char buf[1 << 20];
	char req[128];
	size_t used = 0;
	ssize_t n;
	int fd;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return NULL;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return NULL;
	}
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		return NULL;
	}
	while (used < sizeof(buf) - 1 && (n = read(fd, buf + used, sizeof(buf) - 1 - used)) > 0)
		used += n;
	buf[used] = 0;
	close(fd);
	return strstr(buf, "\r\n\r\n") ? strstr(buf, "\r\n\r\n") + 4 : NULL;
}

Test(sink_textfile, scraped_through_node_exporter)
{
	char path[128], listen[64], coll[160], *body = NULL;
	struct textfile_state t;
	int port = 20000 + getpid() % 20000, status;
	pid_t pid;

	if (access(NODE_EXPORTER, X_OK))
		cr_skip_test("prometheus-node-exporter is missing (Debian package)");
	busy_state(&t);
	snprintf(path, sizeof(path), "%s/cpudrift.prom", dir);
	cr_assert_eq(textfile_write(&t, path), 0);
	snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%d", port);
	snprintf(coll, sizeof(coll), "--collector.textfile.directory=%s", dir);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char *argv[] = { NODE_EXPORTER,
				 "--collector.disable-defaults",
				 "--collector.textfile",
				 coll,
				 listen,
				 NULL };
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	for (int i = 0; i < 100 && !body; i++) {
		usleep(50000);
		if (waitpid(pid, &status, WNOHANG) == pid)
			cr_assert_fail("node_exporter exited early (port %d in use?)", port);
		body = http_get(port, "/metrics");
	}
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	cr_assert(body, "no answer from node_exporter on port %d", port);
	cr_expect(strstr(body, "\ncpudrift_up 1\n"), "cpudrift_up not exported");
	cr_expect(strstr(body, "cpudrift_features_lost{feature=\"avx512f\"} 1\n"));
	cr_expect(strstr(body, "cpudrift_faults_total{class=\"other\",feature=\"other\"} 50\n"));
	cr_expect(strstr(body, "node_textfile_scrape_error 0\n"),
		  "node_exporter could not parse it");
}
