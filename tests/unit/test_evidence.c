// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Evidence no local user can forge, blind or undercount: the real daemon (build/cpudrift
 * run) in a temporary state dir, real faults, forgeries and tracers from real processes
 * run as the unprivileged user nobody, and what the store, `cpudrift status`, `cpudrift
 * events`, `cpudrift watch --json` and the textfile say afterwards.  Needs root and BTF.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "analysis/attrib.h"
#include "capture/capture.h"
#include "capture/probe.h"
#include "core/features.h"
#include "core/log.h"
#include "core/snapshot.h"
#include "probes/probes.h"
#include "testutil.h"

#define NOBODY 65534

static char dir[256];
static pid_t daemon_pid;

static const char *build(const char *rel)
{
	static char buf[8][512];
	static int k;
	const char *b = getenv("CPUDRIFT_BUILD");

	k = (k + 1) % 8;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", b ? b : CPUDRIFT_SRCDIR "/build", rel);
	return buf[k];
}

static const char *path(const char *rel)
{
	static char buf[8][512];
	static int k;

	k = (k + 1) % 8;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, rel);
	return buf[k];
}

static void setup(void)
{
	char conf[1024];
	FILE *f;

	if (geteuid())
		cr_skip_test("the daemon's fault watcher needs root (BPF)");
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		cr_skip_test("no BTF at /sys/kernel/btf/vmlinux");
	if (access(build("tests/helpers/forge"), X_OK))
		cr_skip_test("helpers not built (run through make test)");
	snprintf(dir, sizeof(dir), "/tmp/cpudrift-evidence-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	chmod(dir, 0755);
	snprintf(conf, sizeof(conf),
		 "state_dir = %s/state\nhooks_dir = off\ntextfile_path = %s/cpudrift.prom\n"
		 "journal = off\ninterval = 60\n",
		 dir, dir);
	f = fopen(path("cpudrift.conf"), "w");
	cr_assert_not_null(f);
	fputs(conf, f);
	fclose(f);
}

static void teardown(void)
{
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGKILL);
		waitpid(daemon_pid, NULL, 0);
		daemon_pid = 0;
	}
	if (dir[0])
		tu_rmtree(dir);
	dir[0] = 0;
}

/* Its exit status; criterion's timeout timer interrupts waitpid. */
static int wait_for(pid_t pid)
{
	int st = 0;

	while (waitpid(pid, &st, 0) < 0)
		cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
	return st;
}

static bool file_has(const char *p, const char *needle)
{
	char *s = tu_read_file(p);
	bool ok = s && strstr(s, needle);

	free(s);
	return ok;
}

static void start_daemon(void)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (!pid) {
		int fd = open(path("daemon.log"), O_WRONLY | O_CREAT | O_APPEND, 0644);

		dup2(fd, 1);
		dup2(fd, 2);
		execl(build("cpudrift"), "cpudrift", "-v", "run", "--config", path("cpudrift.conf"),
		      (char *)NULL);
		_exit(127);
	}
	daemon_pid = pid;
	for (int t = 0; t < 600 && !file_has(path("cpudrift.prom"), "cpudrift_up 1"); t++)
		usleep(100000);
	cr_assert(file_has(path("cpudrift.prom"), "cpudrift_up 1"), "the daemon did not start:\n%s",
		  tu_read_file(path("daemon.log")));
}

static void stop_daemon(void)
{
	int st;

	kill(daemon_pid, SIGTERM);
	st = wait_for(daemon_pid);
	daemon_pid = 0;
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the daemon did not stop cleanly");
}

static char *run_capture(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	size_t cap = 1 << 16, n = 0, r;
	char *buf = malloc(cap);

	cr_assert_not_null(p);
	while ((r = fread(buf + n, 1, cap - n - 1, p)) > 0) {
		n += r;
		if (cap - n < 4096)
			buf = realloc(buf, cap *= 2);
	}
	buf[n] = 0;
	pclose(p);
	return buf;
}

/* Every stored event, parsed: an array the caller puts. */
static struct json_object *events(void)
{
	char cmd[1024], *out, *save = NULL;
	struct json_object *a = json_object_new_array();

	snprintf(cmd, sizeof(cmd), "%s events --json --state-dir %s/state 2>/dev/null",
		 build("cpudrift"), dir);
	out = run_capture(cmd);
	for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		struct json_object *o = json_tokener_parse(l);

		if (o)
			json_object_array_add(a, o);
	}
	free(out);
	return a;
}

static struct json_object *status(void)
{
	char cmd[1024], *out;
	struct json_object *o;

	snprintf(cmd, sizeof(cmd), "%s status --json --state-dir %s/state 2>/dev/null",
		 build("cpudrift"), dir);
	out = run_capture(cmd);
	o = json_tokener_parse(out);
	free(out);
	cr_assert_not_null(o, "status --json is not JSON");
	return o;
}

static struct json_object *get(struct json_object *o, const char *path_)
{
	char key[64];
	const char *dot;

	while (o && (dot = strchr(path_, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path_), path_);
		o = json_object_object_get(o, key);
		path_ = dot + 1;
	}
	return o ? json_object_object_get(o, path_) : NULL;
}

static int64_t watcher_counter(const char *name)
{
	struct json_object *s = status();
	char key[64];
	int64_t v;

	snprintf(key, sizeof(key), "watcher.%s", name);
	v = json_object_get_int64(get(s, key));
	json_object_put(s);
	return v;
}

static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v = get(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

/* The stored events of @kind about @pid (any pid when 0); a new array. */
static struct json_object *events_of(const char *kind, int pid)
{
	struct json_object *all = events(), *out = json_object_new_array();

	for (size_t i = 0; i < json_object_array_length(all); i++) {
		struct json_object *e = json_object_array_get_idx(all, i);

		if (!strcmp(str(e, "kind"), kind) &&
		    (!pid || json_object_get_int(get(e, "pid")) == pid))
			json_object_array_add(out, json_object_get(e));
	}
	json_object_put(all);
	return out;
}

/* Wait until @kind has an event about @pid; the events (maybe empty). */
static struct json_object *wait_events(const char *kind, int pid, int seconds)
{
	struct json_object *a = NULL;

	for (int t = 0; t < seconds * 4; t++) {
		json_object_put(a);
		a = events_of(kind, pid);
		if (json_object_array_length(a))
			break;
		usleep(250000);
	}
	return a;
}

/*
 * Run a helper as @uid (0: as root), wait for it; its exit status.  *first (may be NULL)
 * gets the first number it printed (forge and tracer print a pid), *pidp its own pid.
 */
static int run_as(const char *const *args, uid_t uid, long *first, pid_t *pidp)
{
	int out[2];
	char line[128] = "";
	FILE *f;
	pid_t pid;

	cr_assert_eq(pipe(out), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (!pid) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(out[1], 1);
		close(out[0]);
		if (uid && (setgroups(0, NULL) || setgid(uid) || setuid(uid)))
			_exit(126);
		execv(args[0], (char *const *)args);
		_exit(127);
	}
	close(out[1]);
	if (pidp)
		*pidp = pid;
	f = fdopen(out[0], "r");
	if (fgets(line, sizeof(line), f) && first)
		*first = strtol(line, NULL, 0);
	while (fgets(line, sizeof(line), f))
		;
	fclose(f);
	return wait_for(pid);
}

static bool no_feature_anywhere(struct json_object *o)
{
	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v)
		{
			if (!strcmp(k, "feature") || !strcmp(k, "features") ||
			    !no_feature_anywhere(v))
				return false;
		}
	} else if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			if (!no_feature_anywhere(json_object_array_get_idx(o, i)))
				return false;
	}
	return true;
}

static int64_t store_count(const char *cls, const char *feature, int64_t *total);

TestSuite(evidence, .init = setup, .fini = teardown, .timeout = 240);

/*
 * One daemon, every way a local user may try to fake, hide or confuse the evidence: none
 * of it is a fault, a verdict or a hidden fault; real faults keep their exe and mapping.
 */
Test(evidence, forged_traced_named_and_probe_faults)
{
	const char *sigqueue[] = { build("tests/helpers/forge"), "sigqueue", NULL };
	const char *tgkill[] = { build("tests/helpers/forge"), "tgkill", NULL };
	const char *tracer[] = { build("tests/helpers/tracer"), "inject", NULL };
	const char *named[] = { build("tests/helpers/sigill_child"), "named", "cpudrift-probe",
				NULL };
	const char *ud2[] = { build("tests/helpers/sigill_child"), "ud2", NULL };
	const char *probe[] = { build("cpudrift"), "probe", NULL };
	char copy[600], cmd[1400];
	const char *probe_copy[] = { copy, "probe", NULL };
	struct json_object *e, *a, *senders;
	long forger = 0, forger2 = 0, traced = 0;
	pid_t victim = 0;
	struct stat self;
	bool named_sender = false;
	int st;

	start_daemon();

	/* 1. Forgeries, as nobody: a self-sent ILL_ILLOPN with AVX2 bytes, and tgkill. */
	st = run_as(sigqueue, NOBODY, &forger, NULL);
	cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGILL, "forge sigqueue: %#x", st);
	st = run_as(tgkill, NOBODY, &forger2, NULL);
	cr_expect(WIFEXITED(st) && !WEXITSTATUS(st), "forge tgkill: %#x", st);
	/* 2. A tracer's injection, as nobody. */
	st = run_as(tracer, NOBODY, &traced, NULL);
	cr_expect(WIFEXITED(st) && !WEXITSTATUS(st), "tracer: %#x", st);
	/* 3. A program that calls itself cpudrift-probe dies of SIGILL; a plain ud2 too. */
	run_as(named, 0, NULL, &victim);
	run_as(ud2, 0, NULL, NULL);
	/* 4. cpudrift's own probes, run by nobody from the daemon's binary, and from a copy. */
	cr_assert_eq(stat(build("cpudrift"), &self), 0);
	snprintf(copy, sizeof(copy), "%s/cpudrift-copy", dir);
	snprintf(cmd, sizeof(cmd), "cp %s %s && chmod 755 %s", build("cpudrift"), copy, copy);
	cr_assert_eq(system(cmd), 0);
	run_as(probe, NOBODY, NULL, NULL);
	run_as(probe_copy, NOBODY, NULL, NULL);

	/* The forged counter moved, and a watcher.forged event names nobody's forger. */
	for (int t = 0; t < 40 && watcher_counter("forged") < 2; t++)
		usleep(250000);
	cr_expect_geq(watcher_counter("forged"), 2);
	a = wait_events("watcher.forged", 0, 15);
	cr_assert_gt(json_object_array_length(a), 0, "no watcher.forged event");
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		e = json_object_array_get_idx(a, i);
		cr_expect(no_feature_anywhere(e), "watcher.forged names a feature: %s",
			  json_object_to_json_string(e));
		senders = get(e, "body.senders");
		for (size_t j = 0; j < json_object_array_length(senders); j++) {
			struct json_object *s = json_object_array_get_idx(senders, j);

			named_sender |= json_object_get_int(get(s, "pid")) == forger &&
					json_object_get_int(get(s, "uid")) == NOBODY &&
					!strcmp(str(s, "comm"), "forge");
		}
	}
	cr_expect(named_sender, "no watcher.forged names uid %d pid %ld (forge)", NOBODY, forger);
	json_object_put(a);

	/* The named program and the ud2 are reported, with what identifies their code. */
	a = wait_events("fault.sigill", (int)victim, 10);
	cr_assert_gt(json_object_array_length(a), 0, "the program named cpudrift-probe was hidden");
	e = json_object_array_get_idx(a, 0);
	cr_expect_str_eq(str(e, "body.class"), "not-feature-related");
	cr_expect(strstr(str(e, "body.exe"), "/sigill_child"), "exe: %s", str(e, "body.exe"));
	cr_expect(strstr(str(e, "body.mapping.path"), "/sigill_child"), "mapping: %s",
		  json_object_to_json_string(get(e, "body.mapping")));
	cr_expect_gt(json_object_get_int64(get(e, "body.mapping.ino")), 0);
	cr_expect(json_object_get_boolean(get(e, "body.fatal")));
	json_object_put(a);

	/* Let the last records and flushes in before judging what is absent. */
	sleep(3);
	a = events_of("fault.sigill", 0);
	{
		int copies = 0, traced_seen = 0;

		for (size_t i = 0; i < json_object_array_length(a); i++) {
			int pid;

			e = json_object_array_get_idx(a, i);
			pid = json_object_get_int(get(e, "pid"));
			cr_expect(pid != forger && pid != forger2,
				  "a forged SIGILL became a fault: %s",
				  json_object_to_json_string(e));
			if (pid == traced) {
				/* Kept and marked; never an alarm. */
				cr_expect_str_eq(str(e, "body.origin"), "traced");
				cr_expect_str_neq(str(e, "severity"), "critical");
				traced_seen++;
			}
			/* No fault of the daemon's own binary's probes is evidence. */
			cr_expect((uint64_t)json_object_get_int64(get(e, "body.exe_file.ino")) !=
					  (uint64_t)self.st_ino,
				  "a probe fault of cpudrift was stored: %s",
				  json_object_to_json_string(e));
			copies += !strcmp(str(e, "body.exe"), copy);
		}
		cr_expect_gt(copies, 0, "the copy's probe faults were hidden as cpudrift's own");
		cr_expect_gt(traced_seen, 0, "the tracer's injection was not kept");
	}
	/* Counted apart: no alert on a migration class can fire for a traced process. */
	{
		int64_t total;

		cr_expect_gt(store_count("traced", "avx2", &total), 0);
		cr_expect_eq(store_count("advertised-but-faulting", "avx2", &total), 0);
	}
	json_object_put(a);
	/* Nothing here is a migration: no verdict. */
	a = events_of("migration.suspected", 0);
	cr_expect_eq(json_object_array_length(a), 0, "a verdict was raised: %s",
		     json_object_to_json_string(a));
	json_object_put(a);
	stop_daemon();
}

/* One process faults at 20,000 addresses and stays alive: another's ud2 is still reported. */
Test(evidence, faults_at_20000_addresses_blind_no_one)
{
	const char *ud2[] = { build("tests/helpers/sigill_child"), "ud2", NULL };
	int in[2], out[2];
	char line[64];
	long victim = 0;
	struct json_object *a, *e;
	pid_t spray;
	FILE *f;

	start_daemon();
	cr_assert_eq(pipe(in), 0);
	cr_assert_eq(pipe(out), 0);
	spray = fork();
	if (!spray) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl(build("tests/helpers/sigill_child"), "sigill_child", "spray", "20000",
		      (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	f = fdopen(out[0], "r");
	cr_assert_not_null(fgets(line, sizeof(line), f));
	cr_assert_eq(write(in[1], "g", 1), 1);
	cr_assert_not_null(fgets(line, sizeof(line), f));
	cr_assert_str_eq(line, "done\n");

	/* The victim, after the spray, while it lives. */
	{
		int fds[2];
		pid_t v;

		cr_assert_eq(pipe(fds), 0);
		v = fork();
		if (!v) {
			int null = open("/dev/null", O_RDWR);

			dup2(null, 1);
			dup2(fds[0], 0);
			close(fds[1]);
			execv(ud2[0], (char *const *)ud2);
			_exit(127);
		}
		close(fds[0]);
		victim = v;
		cr_assert_eq(write(fds[1], "g", 1), 1);
		close(fds[1]);
		wait_for(v);
	}
	a = wait_events("fault.sigill", (int)victim, 15);
	cr_assert_gt(json_object_array_length(a), 0, "the victim's ud2 was not stored");
	e = json_object_array_get_idx(a, 0);
	cr_expect(strstr(str(e, "body.exe"), "/sigill_child"), "exe: %s", str(e, "body.exe"));
	json_object_put(a);

	/* The loss is visible: status, the textfile and a watcher.loss event naming the spray. */
	for (int t = 0; t < 40 && watcher_counter("untracked") < 20000 - 64; t++)
		usleep(250000);
	cr_expect_geq(watcher_counter("untracked"), 20000 - 64);
	cr_expect(file_has(path("cpudrift.prom"), "cpudrift_watcher_untracked_faults_total "),
		  "no untracked counter in the textfile");
	a = wait_events("watcher.loss", 0, 15);
	cr_assert_gt(json_object_array_length(a), 0, "no watcher.loss event");
	e = json_object_array_get_idx(a, 0);
	cr_expect_gt(json_object_get_int64(get(e, "body.untracked")), 0);
	cr_expect_eq(json_object_get_int(get(e, "pid")), spray, "the loss names pid %d",
		     json_object_get_int(get(e, "pid")));
	json_object_put(a);
	close(in[1]);
	fclose(f);
	wait_for(spray);
	stop_daemon();
}

/* An instruction this CPU lacks, which no cpudrift probe executes: only our storms use it. */
static bool distinctive(char *hex, size_t size, char *feature, size_t fsize)
{
	static const char *const candidates[] = { "0f01d7" /* enclu */, "f30faee0" /* ptwrite */,
						  "f30f38dc07" /* aesenc128kl */ };
	struct capture_opts co = { .only_cpu = -1, .skip_extra = true };
	struct errbuf err = { "" };
	struct snapshot *s = NULL;
	bool found = false;

	cr_assert_eq(capture_snapshot(&s, &co, &err), 0, "%s", err.msg);
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]) && !found; i++) {
		uint8_t b[16];
		size_t n = strlen(candidates[i]) / 2;
		struct attribution a;
		int id;

		for (size_t j = 0; j < n; j++)
			sscanf(candidates[i] + 2 * j, "%2hhx", &b[j]);
		if (attrib_decode(b, n, &a) || !a.decoded || !featset_count(&a.features))
			continue;
		found = true;
		featset_for_each (id, &a.features) {
			for (size_t p = 0; p < probe_table_len; p++)
				if (probe_table[p].fn &&
				    !strcmp(probe_table[p].feature, feature_table[id].name))
					found = false;
			if (featset_has(&s->features, id))
				found = false;
		}
		if (!found)
			continue;
		snprintf(hex, size, "%s", candidates[i]);
		featset_for_each (id, &a.features) {
			snprintf(feature, fsize, "%s", feature_table[id].name);
			break;
		}
	}
	snapshot__free(s);
	return found;
}

/*
 * cpudrift_faults_total of (@cls, @feature), -1 when the series is not in the file (it
 * keeps 10 series; faults of other processes on this machine may have taken them); *total
 * gets the sum of every series.
 */
static int64_t textfile_count(const char *cls, const char *feature, int64_t *total)
{
	static const char metric[] = "\ncpudrift_faults_total{";
	char needle[200], *text = tu_read_file(path("cpudrift.prom")), *p;
	int64_t v = -1;

	snprintf(needle, sizeof(needle), "class=\"%s\",feature=\"%s\"} ", cls, feature);
	*total = 0;
	for (p = text ? strstr(text, metric) : NULL; p; p = strstr(p + 1, metric)) {
		char *end = strchr(p + 1, '\n'), *val = end ? memrchr(p, ' ', end - p) : NULL;

		if (!val)
			break;
		*total += strtoll(val + 1, NULL, 10);
		if (!strncmp(p + sizeof(metric) - 1, needle, strlen(needle)))
			v = strtoll(val + 1, NULL, 10);
	}
	free(text);
	return v;
}

/* The store's counter of (@cls, @feature); *total gets the sum of all of them. */
static int64_t store_count(const char *cls, const char *feature, int64_t *total)
{
	struct json_object *s = status(), *faults = get(s, "faults");
	int64_t v = 0;

	*total = 0;
	for (size_t i = 0; i < json_object_array_length(faults); i++) {
		struct json_object *f = json_object_array_get_idx(faults, i);
		int64_t n = json_object_get_int64(get(f, "count"));

		*total += n;
		if (!strcmp(str(f, "class"), cls) && !strcmp(str(f, "feature"), feature))
			v = n;
	}
	json_object_put(s);
	return v;
}

/*
 * The storm's @n faults on the store's counter and on cpudrift_faults_total: its own series
 * when the textfile has room for it, else the file's total against the store's (both see
 * the same faults, this machine's other processes' included).  Waits for the flushes.
 */
static void expect_counted(const char *feature, int64_t store0, int64_t text0, int64_t n)
{
	int64_t store = 0, text = 0, stotal = 0, ttotal = 0;

	for (int t = 0; t < 80; t++) {
		store = store_count("never-advertised", feature, &stotal) - store0;
		text = textfile_count("never-advertised", feature, &ttotal);
		if (store == n &&
		    (text >= 0 ? text - (text0 > 0 ? text0 : 0) == n : ttotal == stotal))
			break;
		usleep(250000);
	}
	cr_expect_eq(store, n, "the store counted %lld of %lld", (long long)store, (long long)n);
	if (text >= 0)
		cr_expect_eq(text - (text0 > 0 ? text0 : 0), n,
			     "cpudrift_faults_total counted %lld of %lld",
			     (long long)(text - (text0 > 0 ? text0 : 0)), (long long)n);
	else
		cr_expect_eq(ttotal, stotal,
			     "cpudrift_faults_total sums %lld, the store's counters %lld",
			     (long long)ttotal, (long long)stotal);
}

/* The final count `watch --json` gave the site of @pid. */
static int64_t watch_count(const char *out, long pid)
{
	char *copy = strdup(out), *save = NULL;
	int64_t v = -1;

	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		struct json_object *o = json_tokener_parse(l);

		if (o && !strcmp(str(o, "kind"), "watch.site") &&
		    json_object_get_int(get(o, "pid")) == pid)
			v = json_object_get_int64(get(o, "count"));
		json_object_put(o);
	}
	free(copy);
	return v;
}

Test(evidence, storms_are_counted_exactly_on_every_surface)
{
	static const long sizes[] = { 1000, 100000 };
	char hex[32], feature[64];

	if (!distinctive(hex, sizeof(hex), feature, sizeof(feature)))
		cr_skip_test("this CPU has every candidate instruction: no storm only we cause");
	cr_log_info("storming with %s (%s)", hex, feature);
	start_daemon();
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char n[24], *out;
		const char *args[] = { build("tests/helpers/sigill_child"), "bytes-storm", hex, n,
				       NULL };
		int64_t total, store0 = store_count("never-advertised", feature, &total);
		int64_t text0 = textfile_count("never-advertised", feature, &total);
		int64_t max = 0;
		struct json_object *a;
		pid_t pid = 0, watch;
		int st, fds[2];
		FILE *fp;

		snprintf(n, sizeof(n), "%ld", sizes[i]);
		/* watch runs beside the daemon, from before the storm until told to stop. */
		unlink(path("watch.log"));
		cr_assert_eq(pipe(fds), 0);
		watch = fork();
		if (!watch) {
			int log = open(path("watch.log"), O_WRONLY | O_CREAT | O_TRUNC, 0644);

			dup2(fds[1], 1);
			dup2(log, 2);
			close(fds[0]);
			execl(build("cpudrift"), "cpudrift", "-v", "watch", "--json", "--no-probe",
			      (char *)NULL);
			_exit(127);
		}
		close(fds[1]);
		for (int t = 0; t < 100 && !file_has(path("watch.log"), "watching faults"); t++)
			usleep(100000);
		st = run_as(args, NOBODY, NULL, &pid);
		cr_assert(WIFEXITED(st) && !WEXITSTATUS(st), "storm: %#x", st);
		/* Stopping counts everything pending, the storm that has exited included. */
		kill(watch, SIGINT);
		fp = fdopen(fds[0], "r");
		{
			size_t cap = 1 << 20, len = 0, r;

			out = malloc(cap);
			while ((r = fread(out + len, 1, cap - len - 1, fp)) > 0) {
				len += r;
				if (cap - len < 4096)
					out = realloc(out, cap *= 2);
			}
			out[len] = 0;
		}
		fclose(fp);
		wait_for(watch);
		cr_expect_eq(watch_count(out, pid), sizes[i], "watch --json counted %lld of %ld",
			     (long long)watch_count(out, pid), sizes[i]);
		free(out);
		expect_counted(feature, store0, text0, sizes[i]);
		/* cpudrift events: the site's last count is the whole storm. */
		a = events_of("fault.sigill", (int)pid);
		for (size_t j = 0; j < json_object_array_length(a); j++) {
			int64_t c = json_object_get_int64(
				get(json_object_array_get_idx(a, j), "body.count"));

			max = c > max ? c : max;
		}
		cr_expect_eq(max, sizes[i], "the events say %lld of %ld", (long long)max, sizes[i]);
		json_object_put(a);
	}
	stop_daemon();
}
