// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The newest ISA extensions, live: a real SIGILL from an instruction Zydis 4.0 cannot decode
 * (AVX-VNNI-INT8, CMPccXADD, SHA512, ...), watched by the real fault watcher through
 * `cpudrift watch --json`, is attributed by the XED fallback to its feature and classified
 * never-advertised.  The encoding is chosen at run time from the attribution corpus: one
 * whose feature this CPU's CPUID lacks and whose execution faults here.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "analysis/attrib.h"
#include "capture/capture.h"
#include "core/log.h"
#include "testutil.h"

#define CORPUS CPUDRIFT_SRCDIR "/tests/fixtures/attrib_corpus.txt"

static const char *build(const char *rel)
{
	static char buf[4][512];
	static int k;
	const char *b = getenv("CPUDRIFT_BUILD");

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", b ? b : CPUDRIFT_SRCDIR "/build", rel);
	return buf[k];
}

struct proc {
	pid_t pid;
	int in; /* its stdin, when the test holds it */
	FILE *out; /* its stdout */
};

/* Start @argv; pinned to @cpu when it is not -1. */
static void spawn(struct proc *p, char *const argv[], bool hold_stdin, const char *err_path,
		  int cpu)
{
	int in[2], out[2];

	cr_assert_eq(pipe(in), 0);
	cr_assert_eq(pipe(out), 0);
	p->pid = fork();
	cr_assert_geq(p->pid, 0);
	if (!p->pid) {
		int e = open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (cpu >= 0) {
			cpu_set_t one;

			CPU_ZERO(&one);
			CPU_SET(cpu, &one);
			if (sched_setaffinity(0, sizeof(one), &one))
				_exit(126);
		}
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(e, 2);
		close(in[1]);
		close(out[0]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	p->in = in[1];
	if (!hold_stdin) {
		close(p->in);
		p->in = -1;
	}
	p->out = fdopen(out[0], "r");
}

/* Wait until @path holds @needle; false after @ms. */
static bool wait_text(const char *path, const char *needle, int ms)
{
	for (int t = 0; t < ms; t += 50) {
		char *s = tu_read_file(path);
		bool ok = s && strstr(s, needle);

		free(s);
		if (ok)
			return true;
		usleep(50000);
	}
	return false;
}

/*
 * Run @hex on vCPU @cpu (-1: anywhere) under the watcher; once the watcher has attached, it
 * is moved into the cgroup @tasks (a cgroup's tasks file) when that is not NULL.  Returns
 * the fault JSON the watcher printed for it, or NULL when the instruction did not die of
 * SIGILL here (*@sigill false).
 */
static struct json_object *watch_bytes(const char *hex, int cpu, const char *tasks, bool *sigill)
{
	char pid_s[16], err_path[] = "/tmp/cpudrift-newisa-XXXXXX", line[8192];
	char *child_argv[] = { (char *)build("tests/helpers/sigill_child"), "bytes", (char *)hex,
			       NULL };
	struct json_object *found = NULL;
	struct proc child, watch;
	int st, fd = mkstemp(err_path);

	cr_assert_geq(fd, 0);
	close(fd);
	spawn(&child, child_argv, true, NULL, cpu);
	cr_assert_not_null(fgets(line, sizeof(line), child.out), "the fault helper did not start");
	snprintf(pid_s, sizeof(pid_s), "%d", child.pid);
	{
		char *watch_argv[] = { (char *)build("cpudrift"),
				       "-v",
				       "watch",
				       "--json",
				       "--no-probe",
				       "--pid",
				       pid_s,
				       "--duration",
				       "20",
				       NULL };

		spawn(&watch, watch_argv, false, err_path, -1);
	}
	cr_assert(wait_text(err_path, "watching faults", 15000), "the watcher did not attach: %s",
		  tu_read_file(err_path));
	if (tasks) {
		FILE *t = fopen(tasks, "w");

		cr_assert_not_null(t, "cannot open %s", tasks);
		fprintf(t, "%d\n", watch.pid);
		cr_assert_eq(fclose(t), 0, "cannot move the watcher into %s", tasks);
	}
	cr_assert_eq(write(child.in, "g", 1), 1);
	close(child.in);
	fclose(child.out);
	waitpid(child.pid, &st, 0);
	*sigill = WIFSIGNALED(st) && WTERMSIG(st) == SIGILL;
	if (*sigill) {
		/* The event is printed as soon as it is read: one line, then stop the watcher. */
		while (fgets(line, sizeof(line), watch.out)) {
			struct json_object *j = json_tokener_parse(line), *k;

			if (j && json_object_object_get_ex(j, "kind", &k) &&
			    !strcmp(json_object_get_string(k), "fault.sigill")) {
				found = j;
				break;
			}
			json_object_put(j);
		}
	}
	kill(watch.pid, SIGTERM);
	fclose(watch.out);
	waitpid(watch.pid, &st, 0);
	unlink(err_path);
	return found;
}

static const char *str(struct json_object *j, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(j, key, &v) ? json_object_get_string(v) : "";
}

static const char *first_feature(const struct featset *s)
{
	int id;

	featset_for_each (id, s)
		return feature_table[id].name;
	return "";
}

static void need_live(void)
{
	if (geteuid())
		cr_skip_test("the fault watcher needs root (BPF)");
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		cr_skip_test("no BTF at /sys/kernel/btf/vmlinux");
	if (system("command -v as >/dev/null && command -v objcopy >/dev/null"))
		cr_skip_test("GNU as and objcopy (binutils) are not installed");
}

/*
 * The first encoding of the corpus that only the XED fallback decodes, whose features this
 * CPU's CPUID lacks entirely and which dies of SIGILL here: its hex, attribution and the
 * watcher's JSON for it.  False (and the number tried) when there is none.
 */
static bool find_faulting(char hex[40], struct attribution *out, struct json_object **fault,
			  int *tried)
{
	struct capture_opts co = { .only_cpu = -1, .skip_extra = true };
	char dir[] = "/tmp/cpudrift-newisa-XXXXXX";
	struct tu_corpus_line *v = NULL;
	struct errbuf err = { "" };
	struct snapshot *s = NULL;
	bool found = false;
	uint8_t *bin;
	long len;
	int n;

	*tried = 0;
	cr_assert_eq(capture_snapshot(&s, &co, &err), 0, "%s", err.msg);
	n = tu_corpus_read(CORPUS, &v);
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(tu_corpus_assemble(v, n, dir, &bin, &len), 0, "GNU as rejected the corpus");
	for (int i = 0; i < n && !found; i++) {
		struct featset lacking;
		struct attribution a;
		bool sigill;

		if (attrib_decode(bin + 16 * i, 16, &a) || !a.decoded ||
		    strcmp(a.decoder, "fallback") || !featset_count(&a.features))
			continue;
		featset_minus(&lacking, &a.features, &s->features);
		if (!featset_equal(&lacking, &a.features))
			continue; /* this CPU advertises (part of) it: not never-advertised */
		for (unsigned k = 0; k < a.len; k++)
			snprintf(hex + 2 * k, 3, "%02x", bin[16 * i + k]);
		(*tried)++;
		*fault = watch_bytes(hex, -1, NULL, &sigill);
		if (!sigill)
			continue; /* runs here after all (PREFETCHIT as a NOP): try another */
		cr_assert_not_null(*fault,
				   "'%s' (%s) died of SIGILL but the watcher reported nothing",
				   v[i].insn, hex);
		cr_log_info("'%s' (%s) faults here", v[i].insn, hex);
		*out = a;
		found = true;
	}
	tu_rmtree(dir);
	free(bin);
	free(v);
	snapshot__free(s);
	return found;
}

Test(newisa, fallback_encoding_faults_live_and_is_never_advertised, .init = need_live,
     .timeout = 240)
{
	struct attribution a;
	struct json_object *f;
	char hex[40];
	int tried;

	if (!find_faulting(hex, &a, &f, &tried))
		cr_skip_test("no fallback encoding whose feature this CPU lacks faults here "
			     "(%d tried)",
			     tried);
	cr_expect_str_eq(str(f, "decoder"), "fallback");
	cr_expect_str_eq(str(f, "class"), "never-advertised", "%s", str(f, "reason"));
	cr_expect_str_eq(str(f, "feature"), first_feature(&a.features));
	cr_expect_str_eq(str(f, "mnemonic"), a.mnemonic);
	json_object_put(f);
}

/* The last online vCPU: faults pinned there are judged there. */
static int last_cpu(void)
{
	int cpus[1024], n = capture_online_cpus(cpus, 1024);

	if (n < 2)
		cr_skip_test("one vCPU: nothing to tell apart");
	return cpus[n - 1];
}

Test(newisa, a_fault_is_judged_on_the_vcpu_it_happened_on, .init = need_live, .timeout = 240)
{
	struct attribution a;
	struct json_object *f;
	char hex[40], want[32];
	int tried, cpu = last_cpu();
	bool sigill;

	if (!find_faulting(hex, &a, &f, &tried))
		cr_skip_test("no fallback encoding faults here (%d tried)", tried);
	json_object_put(f);
	f = watch_bytes(hex, cpu, NULL, &sigill);
	cr_assert(sigill && f, "no fault reported on vCPU %d", cpu);
	cr_expect_eq(json_object_get_int(json_object_object_get(f, "cpu")), cpu);
	snprintf(want, sizeof(want), "vcpu%d", cpu);
	cr_expect_str_eq(str(f, "lost_now_from"), want, "judged on %s", str(f, "lost_now_from"));
	json_object_put(f);
}

/* A cpuset without @cpu, for the watcher: its tasks file into @tasks, its folder into @dir. */
static bool cpuset_without(int cpu, char *dir, size_t dlen, char *tasks, size_t tlen)
{
	static const char *const roots[] = { "/sys/fs/cgroup/cpuset", "/sys/fs/cgroup" };
	char path[512];

	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/cpuset.cpus.effective", roots[i]);
		snprintf(dir, dlen, "%s/cpuset.cpus", roots[i]);
		if (access(path, R_OK) && access(dir, R_OK))
			continue;
		snprintf(dir, dlen, "%s/cpudrift-newisa-%d", roots[i], getpid());
		if (mkdir(dir, 0755) && errno != EEXIST)
			continue;
		snprintf(path, sizeof(path), "%s/cpuset.cpus", dir);
		f = fopen(path, "w");
		if (!f || fprintf(f, "%d\n", cpu ? 0 : 1) < 0 || fclose(f)) {
			rmdir(dir);
			continue;
		}
		snprintf(path, sizeof(path), "%s/cpuset.mems", dir);
		f = fopen(path, "w");
		if (f) {
			fprintf(f, "0\n");
			fclose(f);
		}
		/* cgroup v1 has "tasks"; v2 has "cgroup.procs". */
		snprintf(tasks, tlen, "%s/tasks", dir);
		if (access(tasks, W_OK))
			snprintf(tasks, tlen, "%s/cgroup.procs", dir);
		return true;
	}
	return false;
}

Test(newisa, outside_its_cpuset_the_vcpus_newest_capture_judges_and_says_so, .init = need_live,
     .timeout = 240)
{
	char hex[40], dir[300], tasks[320], want[64];
	struct attribution a;
	struct json_object *f;
	int tried, cpu = last_cpu();
	bool sigill;

	if (!find_faulting(hex, &a, &f, &tried))
		cr_skip_test("no fallback encoding faults here (%d tried)", tried);
	json_object_put(f);
	if (!cpuset_without(cpu, dir, sizeof(dir), tasks, sizeof(tasks)))
		cr_skip_test("no cpuset controller to keep the watcher off vCPU %d", cpu);
	f = watch_bytes(hex, cpu, tasks, &sigill);
	rmdir(dir);
	cr_assert(sigill && f, "no fault reported on vCPU %d", cpu);
	snprintf(want, sizeof(want), "vcpu%d newest capture", cpu);
	cr_expect(!strncmp(str(f, "lost_now_from"), want, strlen(want)), "judged on '%s'",
		  str(f, "lost_now_from"));
	json_object_put(f);
}
