// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The process table and the at-risk list it gives.  On fixture trees laid out like /proc:
 * glibc-hwcaps mappings above the level come first, kernel threads, zombies and exiting
 * tasks are left out, a PID that now names a process started after the change is not
 * blamed, an unreadable environment ranks between unmasked and masked, the caps mark a
 * list incomplete.  Live, with real children: started before the change is listed and
 * after is not; a zombie child, an exiting child and a reused PID are not listed; a
 * process whose first thread exited is; a child started with the GLIBC_TUNABLES AVX2 mask
 * ranks below an unmasked one; cpudrift (its PID and its executable) is never listed; a
 * child in a .service cgroup the test creates is grouped under that unit with its remedy.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "capture/procscan.h"
#include "capture/proctable.h"
#include "core/clock.h"
#include "testutil.h"

TestSuite(proctable);

#define S NSEC_PER_SEC
#define ALL_LISTED (&(struct atrisk_json_opts){ .listed_max = 100000 })

/* --- children the teardown always stops -------------------------------------------------- */

static pid_t kids[16];
static int nkids;

static void stop_kids(void)
{
	for (int i = 0; i < nkids; i++)
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
		}
	nkids = 0;
}

static pid_t track(pid_t pid)
{
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid > 0 && nkids < 16)
		kids[nkids++] = pid;
	return pid;
}

/* The child dies with the test, whatever happens to the test. */
static void child_setup(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* `sleep 60`, with GLIBC_TUNABLES set to @tunables when not NULL. */
static pid_t start_sleep(const char *tunables)
{
	pid_t pid = track(fork());

	if (!pid) {
		child_setup();
		if (tunables)
			setenv("GLIBC_TUNABLES", tunables, 1);
		execlp("sleep", "sleep", "60", (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Wait until @pid has exec'd @name, so /proc shows it rather than the forked test. */
static void wait_exec(pid_t pid, const char *name)
{
	char path[64], buf[512] = "";

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	for (int i = 0; i < 400 && !strstr(buf, name); i++) {
		ssize_t n = readlink(path, buf, sizeof(buf) - 1);

		buf[n > 0 ? n : 0] = 0;
		if (!strstr(buf, name))
			usleep(5000);
	}
	cr_assert(strstr(buf, name), "pid %d never ran %s", pid, name);
}

/* /proc/PID/stat's start times have clock-tick resolution: keep times apart. */
static void tick(void)
{
	usleep(30000);
}

static struct proctable *table(const char *root, int self_pid)
{
	struct proctable *t;

	/*
	 * cpudrift is the program to leave out, not this test (whose forked children run it);
	 * every process is listed however slow the machine: the tests ask what, not how fast.
	 */
	cr_assert_eq(proctable__new(&(struct proctable_opts){ .root = root,
							      .self_pid = self_pid,
							      .self_exe = tu_build("cpudrift"),
							      .list_ns = 60 * S },
				    &t),
		     0);
	cr_assert_eq(proctable_refresh(t, 0), 0);
	return t;
}

static struct json_object *get(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	cr_assert(json_object_object_get_ex(o, k, &v), "no '%s' in %s", k,
		  json_object_to_json_string(o));
	return v;
}

/* The listed entry of @pid, NULL when not listed. */
static struct json_object *listed(struct json_object *ar, int pid)
{
	struct json_object *procs = get(ar, "processes");

	for (size_t i = 0; i < json_object_array_length(procs); i++) {
		struct json_object *p = json_object_array_get_idx(procs, i);

		if (json_object_get_int(get(p, "pid")) == pid)
			return p;
	}
	return NULL;
}

static int rank_of(struct json_object *ar, int pid)
{
	struct json_object *procs = get(ar, "processes");

	for (size_t i = 0; i < json_object_array_length(procs); i++)
		if (json_object_get_int(get(json_object_array_get_idx(procs, i), "pid")) == pid)
			return (int)i;
	return -1;
}

/* In any group's pids. */
static bool grouped(struct json_object *ar, int pid)
{
	struct json_object *groups = get(ar, "groups");

	for (size_t i = 0; i < json_object_array_length(groups); i++) {
		struct json_object *pids = get(json_object_array_get_idx(groups, i), "pids");

		for (size_t k = 0; k < json_object_array_length(pids); k++)
			if (json_object_get_int(json_object_array_get_idx(pids, k)) == pid)
				return true;
	}
	return false;
}

static struct json_object *at_risk(struct proctable *t, int64_t change, int level)
{
	struct atrisk_query q = { .change_boot_ns = change, .level = level };
	struct json_object *ar;

	featset_add(&q.lost, feature_lookup("avx2"));
	ar = proctable_at_risk(t, &q, ALL_LISTED);
	cr_assert_not_null(ar);
	return ar;
}

/* --- fixture trees ------------------------------------------------------------------------ */

static char root[64];

static void mkroot(void)
{
	snprintf(root, sizeof(root), "/tmp/cpudrift-proctable-XXXXXX");
	cr_assert_not_null(mkdtemp(root));
}

static void rmroot(void)
{
	if (root[0])
		tu_rmtree(root);
	root[0] = 0;
}

static void put(int pid, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%d", root, pid);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%d/%s", root, pid, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

/* A process: comm, state, flags, start in seconds, maps, environment (NULL: none). */
static void proc(int pid, const char *comm, char state, unsigned long flags, long start_s,
		 const char *maps, const char *env)
{
	char buf[512];
	long hz = sysconf(_SC_CLK_TCK);

	snprintf(buf, sizeof(buf),
		 "%d (%s) %c 1 %d %d 0 -1 %lu 100 0 0 0 1 1 0 0 20 0 1 0 %ld 1000 100\n", pid, comm,
		 state, pid, pid, flags, start_s * hz);
	put(pid, "stat", buf);
	put(pid, "maps", maps ? maps : "7f00-7f10 r-xp 0 08:01 1 /usr/lib/libc.so.6\n");
	put(pid, "cgroup", "0::/system.slice/app.service\n");
	if (env) {
		snprintf(buf, sizeof(buf), "%s", env);
		put(pid, "environ", buf); /* one variable: its NUL is written by hand below */
		snprintf(buf, sizeof(buf), "%s/%d/environ", root, pid);
		FILE *f = fopen(buf, "a");

		fputc(0, f);
		fclose(f);
	}
}

Test(proctable, hwcaps_above_the_level_first_kernel_threads_and_late_starters_out, .init = mkroot,
     .fini = rmroot)
{
	struct proctable *t;
	struct json_object *ar, *p;

	proc(100, "java (x) y", 'S', 0x400100, 5,
	     "7f00-7f10 r-xp 0 08:01 1 /usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libz.so\n"
	     "7f10-7f20 r-xp 0 08:01 2 /usr/lib/glibc-hwcaps/x86-64-v4/libfoo.so.1\n",
	     "A=1");
	proc(101, "bash", 'S', 0x400100, 4, NULL, "A=1");
	proc(2, "kthreadd", 'S', 0x00208040, 0, "", NULL);
	proc(102, "late", 'S', 0x400100, 50, NULL, "A=1");
	t = table(root, -1);
	ar = at_risk(t, 10 * S, 3);
	cr_expect_eq(json_object_get_int(get(ar, "total")), 2,
		     "java and bash, not the kernel thread or the late starter");
	cr_expect_eq(rank_of(ar, 100), 0, "processes above the level come first");
	p = listed(ar, 100);
	cr_assert_not_null(p);
	cr_expect_str_eq(json_object_get_string(get(p, "comm")), "java (x) y");
	cr_expect_eq(json_object_get_int(get(p, "hwcaps_level")), 4);
	cr_expect(json_object_get_boolean(get(p, "above_level")));
	cr_expect_str_eq(json_object_get_string(get(p, "unit")), "app.service");
	cr_expect_eq(json_object_get_int(get(ar, "above_level")), 1);
	cr_expect(json_object_get_boolean(get(ar, "complete")));
	json_object_put(ar);
	/* on a level-4 VM the same mappings are no risk */
	ar = at_risk(t, 10 * S, 4);
	cr_expect_eq(json_object_get_int(get(ar, "above_level")), 0);
	json_object_put(ar);
	proctable__free(t);
}

Test(proctable, zombies_dead_and_exiting_tasks_are_not_listed, .init = mkroot, .fini = rmroot)
{
	struct proctable *t;
	struct json_object *ar;

	proc(100, "alive", 'S', 0x400100, 1, NULL, "A=1");
	proc(101, "zombie", 'Z', 0x400104, 1, "", "");
	proc(102, "dead", 'X', 0x400104, 1, "", "");
	proc(103, "exiting", 'R', 0x400104, 1, NULL, "A=1");
	t = table(root, -1);
	ar = at_risk(t, 10 * S, 3);
	cr_expect_eq(json_object_get_int(get(ar, "total")), 1);
	cr_expect_not_null(listed(ar, 100));
	for (int pid = 101; pid <= 103; pid++) {
		cr_expect_null(listed(ar, pid), "pid %d listed", pid);
		cr_expect_not(grouped(ar, pid), "pid %d grouped", pid);
	}
	json_object_put(ar);
	/* one that was alive at the last pass and is a zombie now: the list reads it again */
	proc(100, "alive", 'Z', 0x400104, 1, "", "");
	ar = at_risk(t, 10 * S, 3);
	cr_expect_eq(json_object_get_int(get(ar, "total")), 0);
	json_object_put(ar);
	proctable__free(t);
}

Test(proctable, a_reused_pid_is_not_blamed, .init = mkroot, .fini = rmroot)
{
	struct proctable *t;
	struct json_object *ar;

	proc(100, "old", 'S', 0x400100, 5, NULL, "A=1");
	t = table(root, -1);
	ar = at_risk(t, 10 * S, 3);
	cr_expect_not_null(listed(ar, 100));
	json_object_put(ar);
	/* PID 100 exits; a new process started after the change gets the PID */
	proc(100, "new", 'S', 0x400100, 50, NULL, "A=1");
	ar = at_risk(t, 10 * S, 3);
	cr_expect_null(listed(ar, 100), "the new process is blamed for the old one");
	cr_expect_eq(json_object_get_int(get(ar, "total")), 0);
	json_object_put(ar);
	cr_assert_eq(proctable_refresh(t, 0), 0);
	ar = at_risk(t, 10 * S, 3);
	cr_expect_eq(json_object_get_int(get(ar, "total")), 0);
	json_object_put(ar);
	proctable__free(t);
}

Test(proctable, unknown_environment_ranks_between_unmasked_and_masked, .init = mkroot,
     .fini = rmroot)
{
	struct proctable *t;
	struct json_object *ar, *p;

	/* oldest first would give the reverse order: only the mask can order them so */
	proc(100, "masked", 'S', 0x400100, 1, NULL, "GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2");
	proc(101, "unknown", 'S', 0x400100, 2, NULL, NULL);
	proc(102, "plain", 'S', 0x400100, 3, NULL, "PATH=/bin");
	t = table(root, -1);
	ar = at_risk(t, 10 * S, 3);
	cr_expect_eq(rank_of(ar, 102), 0);
	cr_expect_eq(rank_of(ar, 101), 1);
	cr_expect_eq(rank_of(ar, 100), 2);
	p = listed(ar, 101);
	cr_assert_not_null(p);
	cr_expect(json_object_is_type(get(p, "glibc_masked"), json_type_null),
		  "an unreadable environment is unknown (null), not unmasked");
	cr_expect_eq(json_object_get_int(get(ar, "mask_unknown")), 1);
	json_object_put(ar);
	proctable__free(t);
}

Test(proctable, caps_mark_the_list_incomplete, .init = mkroot, .fini = rmroot)
{
	struct proctable *t;
	struct proctable_stats st;
	struct json_object *ar;

	for (int pid = 100; pid < 105; pid++)
		proc(pid, "p", 'S', 0x400100, 1, NULL, "A=1");
	cr_assert_eq(
		proctable__new(
			&(struct proctable_opts){ .root = root, .self_pid = -1, .max_entries = 3 },
			&t),
		0);
	cr_assert_eq(proctable_refresh(t, 0), 0);
	proctable_get_stats(t, &st);
	cr_expect_eq(st.entries, 3);
	cr_expect_eq(st.unexamined, 2);
	cr_expect_not(st.complete);
	ar = at_risk(t, 10 * S, 3);
	cr_expect_eq(json_object_get_int(get(ar, "total")), 3);
	cr_expect_not(json_object_get_boolean(get(ar, "complete")));
	json_object_put(ar);
	proctable__free(t);
}

Test(proctable, passes_repeat_at_their_period_and_steps_stay_in_budget, .init = mkroot,
     .fini = rmroot)
{
	struct proctable *t;
	struct proctable_stats st;
	int64_t now;

	for (int pid = 100; pid < 400; pid++)
		proc(pid, "p", 'S', 0x400100, 1, NULL, "A=1");
	cr_assert_eq(
		proctable__new(
			&(struct proctable_opts){ .root = root, .self_pid = -1, .step_ns = 100000 },
			&t),
		0);
	now = clock_mono_ns();
	cr_expect_leq(proctable_due(t), now, "the first pass is due at once");
	/* a pass of 300 new processes takes several 0.1 ms steps, each due after a gap */
	cr_expect_eq(proctable_step(t, now), 0);
	cr_expect_gt(proctable_due(t), now);
	while (!proctable_step(t, clock_mono_ns()))
		;
	proctable_get_stats(t, &st);
	cr_expect_eq(st.entries, 300);
	cr_expect(st.complete);
	cr_expect_geq(st.next_period_ns, 15 * S);
	now = proctable_due(t);
	cr_expect_geq(now, clock_mono_ns() + 14 * S, "the next pass waits");
	/* an at-risk list brings it forward */
	json_object_put(at_risk(t, 10 * S, 3));
	cr_expect_lt(proctable_due(t), now);
	proctable__free(t);
}

/* Run one whole pass, as if its time had come; the stats after it. */
static void whole_pass(struct proctable *t, struct proctable_stats *st)
{
	int64_t now = proctable_due(t);

	while (!proctable_step(t, now))
		now = proctable_due(t);
	proctable_get_stats(t, st);
}

Test(proctable, a_burst_of_starts_is_followed_up_once, .init = mkroot, .fini = rmroot)
{
	struct proctable *t;
	struct proctable_stats st;

	for (int pid = 100; pid < 400; pid++)
		proc(pid, "p", 'S', 0x400100, 1, NULL, "A=1");
	/* a share so small that the usual period is the longest one */
	cr_assert_eq(proctable__new(&(struct proctable_opts){ .root = root,
							      .self_pid = -1,
							      .cpu_share = 1e-12,
							      .period_min_ns = 1 * S,
							      .period_max_ns = 600 * S },
				    &t),
		     0);
	whole_pass(t, &st);
	cr_expect_eq(st.entries, 300);
	cr_expect_eq(st.next_period_ns, 1 * S, "300 new of 300: the next pass comes soon");
	whole_pass(t, &st);
	cr_expect_eq(st.next_period_ns, 600 * S, "nothing new: the usual period");
	/* 200 more: 40% of the table is new */
	for (int pid = 400; pid < 600; pid++)
		proc(pid, "q", 'S', 0x400100, 1, NULL, "A=1");
	whole_pass(t, &st);
	cr_expect_eq(st.entries, 500);
	cr_expect_eq(st.next_period_ns, 1 * S, "a burst again: followed up");
	/* the follow-up finds a burst too (a machine that keeps churning): no second one */
	for (int pid = 600; pid < 800; pid++)
		proc(pid, "r", 'S', 0x400100, 1, NULL, "A=1");
	whole_pass(t, &st);
	cr_expect_eq(st.next_period_ns, 600 * S,
		     "followed up twice in a row (pass %llu, %zu entries)",
		     (unsigned long long)st.passes, st.entries);
	/* 10 new of 710: no burst */
	for (int pid = 800; pid < 810; pid++)
		proc(pid, "s", 'S', 0x400100, 1, NULL, "A=1");
	whole_pass(t, &st);
	cr_expect_eq(st.next_period_ns, 600 * S);
	proctable__free(t);
}

/* --- live --------------------------------------------------------------------------------- */

Test(proctable, started_before_the_change_is_listed_after_is_not, .fini = stop_kids)
{
	pid_t before, after;
	struct proctable *t;
	struct json_object *ar, *p;
	int64_t change;

	before = start_sleep(NULL);
	wait_exec(before, "sleep");
	t = table("/proc", 0);
	tick();
	change = clock_boot_ns();
	tick();
	/* started after the last pass: the list itself finds it, and leaves it out */
	after = start_sleep(NULL);
	wait_exec(after, "sleep");
	ar = at_risk(t, change, 0);
	p = listed(ar, before);
	cr_assert_not_null(p, "pid %d started before the change is missing", before);
	cr_expect_str_eq(json_object_get_string(get(p, "comm")), "sleep");
	cr_expect(strstr(json_object_get_string(get(p, "exe")), "sleep"));
	cr_expect_lt(json_object_get_int64(get(p, "start_boottime_ns")), change);
	cr_expect_not(json_object_get_boolean(get(p, "above_level")), "level 0 flags nothing");
	cr_expect_null(listed(ar, after), "pid %d started after the change is listed", after);
	cr_expect_null(listed(ar, getpid()), "the scanning process lists itself");
	json_object_put(ar);
	/* a list made after both started, with a later change, has both */
	tick();
	ar = at_risk(t, clock_boot_ns(), 0);
	cr_expect_not_null(listed(ar, after), "a process started since the last pass is missed");
	json_object_put(ar);
	proctable__free(t);
}

static char state_of(pid_t pid, unsigned long *flags)
{
	char path[64], buf[1024];
	struct proc_stat st;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n <= 0 || procscan_parse_stat(buf, (size_t)n, &st))
		return 0;
	if (flags)
		*flags = st.flags;
	return st.state;
}

Test(proctable, a_zombie_child_is_not_listed, .fini = stop_kids)
{
	pid_t z = start_sleep(NULL);
	struct proctable *t;
	struct json_object *ar;
	int64_t change;

	wait_exec(z, "sleep");
	t = table("/proc", 0);
	tick();
	change = clock_boot_ns();
	ar = at_risk(t, change, 0);
	cr_assert_not_null(listed(ar, z), "the child, alive, is not listed");
	json_object_put(ar);
	/* it dies and nobody reaps it */
	kill(z, SIGKILL);
	for (int i = 0; i < 200 && state_of(z, NULL) != 'Z'; i++)
		usleep(5000);
	cr_assert_eq(state_of(z, NULL), 'Z');
	/* the table knew it alive: the list reads it again */
	ar = at_risk(t, change, 0);
	cr_expect_null(listed(ar, z), "a zombie is listed");
	cr_expect_not(grouped(ar, z), "a zombie is grouped");
	json_object_put(ar);
	proctable__free(t);
	/* a table that meets it as a zombie never keeps it */
	t = table("/proc", 0);
	ar = at_risk(t, change, 0);
	cr_expect_null(listed(ar, z), "a zombie is listed");
	json_object_put(ar);
	proctable__free(t);
}

Test(proctable, an_exiting_process_is_not_listed, .fini = stop_kids, .timeout = 60)
{
	/*
	 * A child holding a lot of memory spends a while in exit (freeing it) with PF_EXITING
	 * set before it becomes a zombie (about 0.2 s a GB here): the list must be made inside
	 * that window, which the test checks on both sides.
	 */
	for (int attempt = 0; attempt < 5; attempt++) {
		size_t size = (size_t)(1 + attempt) << 30;
		int pipefd[2];
		pid_t c;
		char go;
		struct proctable *t;
		struct json_object *ar;
		unsigned long before = 0, after = 0;
		char sb, sa;
		int64_t change;

		cr_assert_eq(pipe(pipefd), 0);
		c = track(fork());
		if (!c) {
			void *m;

			child_setup();
			m = mmap(NULL, size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
			if (m == MAP_FAILED)
				_exit(1);
			if (write(pipefd[1], "x", 1) != 1)
				_exit(1);
			pause();
			_exit(0);
		}
		close(pipefd[1]);
		if (read(pipefd[0], &go, 1) != 1)
			cr_skip_test("could not hold %zu MB in a child", size >> 20);
		close(pipefd[0]);
		t = table("/proc", 0);
		tick();
		change = clock_boot_ns();
		ar = at_risk(t, change, 0);
		cr_assert_not_null(listed(ar, c), "the child, alive, is not listed");
		json_object_put(ar);

		kill(c, SIGKILL);
		do
			sb = state_of(c, &before);
		while (sb && sb != 'Z' && !(before & 4));
		ar = at_risk(t, change, 0);
		sa = state_of(c, &after);
		if (sb && sb != 'Z' && (before & 4) && sa && sa != 'Z' && (after & 4)) {
			cr_expect_null(listed(ar, c), "an exiting process (PF_EXITING) is listed");
			cr_expect_not(grouped(ar, c), "an exiting process is grouped");
			json_object_put(ar);
			proctable__free(t);
			return;
		}
		json_object_put(ar);
		proctable__free(t);
		stop_kids();
	}
	cr_skip_test("never caught a child exiting around a list in 5 attempts");
}

static void *sleeper_thread(void *arg)
{
	(void)arg;
	sleep(60);
	return NULL;
}

Test(proctable, a_process_whose_first_thread_exited_is_listed, .fini = stop_kids)
{
	pid_t c = track(fork());
	struct proctable *t;
	struct json_object *ar;
	char state = 0;

	if (!c) {
		pthread_t th;

		child_setup();
		if (pthread_create(&th, NULL, sleeper_thread, NULL))
			_exit(1);
		pthread_exit(NULL);
	}
	for (int i = 0; i < 200 && (state = state_of(c, NULL)) != 'Z'; i++)
		usleep(5000);
	cr_assert_eq(state, 'Z', "the first thread did not exit");
	t = table("/proc", 0);
	tick();
	ar = at_risk(t, clock_boot_ns(), 0);
	cr_expect_not_null(listed(ar, c), "a process still running a thread is not listed");
	json_object_put(ar);
	proctable__free(t);
}

Test(proctable, a_masked_child_ranks_below_an_unmasked_one, .fini = stop_kids)
{
	pid_t plain, masked;
	struct proctable *t;
	struct json_object *ar, *p;

	/* The masked one starts first: only the mask can put it after the other. */
	masked = start_sleep("glibc.cpu.hwcaps=-AVX,-AVX2,-AVX512F");
	wait_exec(masked, "sleep");
	tick();
	plain = start_sleep(NULL);
	wait_exec(plain, "sleep");
	tick();
	t = table("/proc", 0);
	ar = at_risk(t, clock_boot_ns(), 4);
	cr_assert_not_null(listed(ar, plain));
	p = listed(ar, masked);
	cr_assert_not_null(p, "a masked process is still listed: its own code may use AVX2");
	cr_expect(json_object_get_boolean(get(p, "glibc_masked")));
	cr_expect_not(json_object_get_boolean(get(listed(ar, plain), "glibc_masked")));
	cr_expect_gt(rank_of(ar, masked), rank_of(ar, plain),
		     "the masked process should come after the unmasked one");
	json_object_put(ar);
	proctable__free(t);
}

Test(proctable, cpudrift_is_never_listed, .fini = stop_kids)
{
	const char *prog = tu_build("cpudrift");
	int in[2];
	pid_t cd, plain;
	struct proctable *t;
	struct json_object *ar;

	if (access(prog, X_OK))
		cr_skip_test("%s is not built (run through make test)", prog);
	/* `cpudrift diff - live` waits for its input: a cpudrift process that stays */
	cr_assert_eq(pipe(in), 0);
	cd = track(fork());
	if (!cd) {
		int null = open("/dev/null", O_WRONLY);

		child_setup();
		dup2(in[0], 0);
		dup2(null, 1);
		dup2(null, 2);
		close(in[1]);
		execl(prog, "cpudrift", "diff", "-", "live", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	wait_exec(cd, "cpudrift");
	plain = start_sleep(NULL);
	wait_exec(plain, "sleep");
	tick();
	cr_assert_eq(
		proctable__new(&(struct proctable_opts){ .self_exe = prog, .list_ns = 60 * S }, &t),
		0);
	cr_assert_eq(proctable_refresh(t, 0), 0);
	ar = at_risk(t, clock_boot_ns(), 0);
	cr_expect_not_null(listed(ar, plain));
	cr_expect_null(listed(ar, cd), "a cpudrift process is listed");
	cr_expect_not(grouped(ar, cd));
	cr_expect_null(listed(ar, getpid()), "the scanning process is listed");
	cr_expect_not(grouped(ar, getpid()));
	json_object_put(ar);
	proctable__free(t);
	close(in[1]);
}

Test(proctable, a_reused_pid_is_not_blamed_live, .fini = stop_kids)
{
	struct clone_args ca = { .exit_signal = SIGCHLD };
	struct proctable *t;
	struct json_object *ar;
	pid_t old, reuse;
	int64_t change;

	if (geteuid())
		cr_skip_test("giving a child a chosen PID (clone3 set_tid) needs root");
	old = start_sleep(NULL);
	wait_exec(old, "sleep");
	t = table("/proc", 0);
	kill(old, SIGKILL);
	waitpid(old, NULL, 0);
	kids[--nkids] = 0;
	tick();
	change = clock_boot_ns();
	tick();
	/* a new process, started after the change, under the old one's PID */
	ca.set_tid = (uint64_t)(uintptr_t)&old;
	ca.set_tid_size = 1;
	reuse = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	if (reuse < 0)
		cr_skip_test("clone3 set_tid: %s", strerror(errno));
	if (!reuse) {
		child_setup();
		execlp("sleep", "sleep", "60", (char *)NULL);
		_exit(127);
	}
	track(reuse);
	cr_assert_eq(reuse, old);
	wait_exec(reuse, "sleep");
	ar = at_risk(t, change, 0);
	cr_expect_null(listed(ar, reuse), "pid %d, reused after the change, is blamed", reuse);
	cr_expect_not(grouped(ar, reuse));
	json_object_put(ar);
	proctable__free(t);
}

/* --- a .service cgroup of the test's own ------------------------------------------------- */

static char cg_dirs[2][512];

static void rm_cgroups(void)
{
	stop_kids();
	for (int i = 0; i < 2; i++)
		if (cg_dirs[i][0]) {
			/* empty once its process is gone; rmdir may need a moment */
			for (int k = 0; k < 100 && rmdir(cg_dirs[i]) && errno == EBUSY; k++)
				usleep(10000);
			cg_dirs[i][0] = 0;
		}
}

/*
 * Where cgroup folders are made: the unified hierarchy and, when mounted (a hybrid
 * system), name=systemd, which is where procscan reads a hybrid system's path, as systemd
 * would put a service in both.  Only mounts under /sys/fs/cgroup.
 */
static int cgroup_mounts(char mnt[2][256])
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[1024];
	int n = 0;

	if (!f)
		return 0;
	while (n < 2 && fgets(line, sizeof(line), f)) {
		char point[256], fstype[64], opts[512];

		/* ID PARENT MAJ:MIN ROOT POINT OPTS [TAGS...] - FSTYPE SOURCE SUPEROPTS */
		if (sscanf(line, "%*d %*d %*s %*s %255s %*s", point) != 1 ||
		    strncmp(point, "/sys/fs/cgroup", 14))
			continue;
		char *dash = strstr(line, " - ");

		if (!dash || sscanf(dash, " - %63s %*s %511s", fstype, opts) != 2)
			continue;
		if (!strcmp(fstype, "cgroup2") ||
		    (!strcmp(fstype, "cgroup") && strstr(opts, "name=systemd")))
			snprintf(mnt[n++], 256, "%s", point);
	}
	fclose(f);
	return n;
}

Test(proctable, a_child_in_a_service_cgroup_is_grouped_under_it, .fini = rm_cgroups)
{
	char mnt[2][256], unit[64], path[600], want[128];
	struct proctable *t;
	struct json_object *ar, *p, *groups, *g = NULL;
	int n;
	pid_t c;

	if (geteuid())
		cr_skip_test("creating a cgroup needs root");
	n = cgroup_mounts(mnt);
	if (!n)
		cr_skip_test("no cgroup2 or name=systemd hierarchy under /sys/fs/cgroup");
	snprintf(unit, sizeof(unit), "cpudrift-test-%d.service", getpid());
	c = start_sleep(NULL);
	wait_exec(c, "sleep");
	for (int i = 0; i < n; i++) {
		FILE *f;

		snprintf(cg_dirs[i], sizeof(cg_dirs[i]), "%s/%s", mnt[i], unit);
		if (mkdir(cg_dirs[i], 0755)) {
			int err = errno;

			cg_dirs[i][0] = 0;
			cr_skip_test("cannot create %s/%s: %s", mnt[i], unit, strerror(err));
		}
		snprintf(path, sizeof(path), "%s/cgroup.procs", cg_dirs[i]);
		f = fopen(path, "w");
		cr_assert_not_null(f, "%s: %s", path, strerror(errno));
		fprintf(f, "%d\n", c);
		cr_assert_eq(fclose(f), 0, "moving %d into %s: %s", c, cg_dirs[i], strerror(errno));
	}
	tick();
	t = table("/proc", 0);
	ar = at_risk(t, clock_boot_ns(), 0);
	p = listed(ar, c);
	cr_assert_not_null(p);
	cr_expect_str_eq(json_object_get_string(get(p, "unit")), unit);
	cr_expect_str_eq(json_object_get_string(get(p, "group")), unit);
	groups = get(ar, "groups");
	for (size_t i = 0; i < json_object_array_length(groups); i++)
		if (!strcmp(json_object_get_string(
				    get(json_object_array_get_idx(groups, i), "name")),
			    unit))
			g = json_object_array_get_idx(groups, i);
	cr_assert_not_null(g, "no group %s", unit);
	cr_expect_str_eq(json_object_get_string(get(g, "kind")), "service");
	snprintf(want, sizeof(want), "systemctl restart %s", unit);
	cr_expect_str_eq(json_object_get_string(get(g, "remedy")), want);
	cr_expect_eq(json_object_get_int(get(g, "count")), 1);
	cr_expect_eq(json_object_get_int(json_object_array_get_idx(get(g, "pids"), 0)), c);
	json_object_put(ar);
	proctable__free(t);
}

/* --- a glibc-hwcaps library, as ld.so maps one ----------------------------------------------- */

static char lib_dir[512];

static void rm_lib(void)
{
	stop_kids();
	if (lib_dir[0])
		tu_rmtree(lib_dir);
	lib_dir[0] = 0;
}

Test(proctable, a_child_mapping_hwcaps_above_the_level_comes_first, .fini = rm_lib)
{
	char lib[600];
	int p[2], fd;
	pid_t c;
	char go;
	struct proctable *t;
	struct json_object *ar, *e;

	/* in the build folder: /tmp may be mounted noexec */
	snprintf(lib_dir, sizeof(lib_dir), "%s", tu_build("tests/hwcaps-XXXXXX"));
	cr_assert_not_null(mkdtemp(lib_dir));
	snprintf(lib, sizeof(lib), "%s/glibc-hwcaps", lib_dir);
	mkdir(lib, 0755);
	snprintf(lib, sizeof(lib), "%s/glibc-hwcaps/x86-64-v3", lib_dir);
	mkdir(lib, 0755);
	snprintf(lib, sizeof(lib), "%s/glibc-hwcaps/x86-64-v3/libfake.so.1", lib_dir);
	fd = open(lib, O_WRONLY | O_CREAT, 0755);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 4096), 0);
	close(fd);
	cr_assert_eq(pipe(p), 0);
	c = track(fork());
	if (!c) {
		long page = sysconf(_SC_PAGESIZE);
		char *m;

		child_setup();
		/* 20,000 anonymous mappings first: the library is not near the start of maps */
		m = mmap(NULL, 20000 * page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		for (long i = 0; m != MAP_FAILED && i < 20000; i += 2)
			mprotect(m + i * page, page, PROT_READ | PROT_WRITE);
		fd = open(lib, O_RDONLY);
		if (fd < 0 ||
		    mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0) == MAP_FAILED)
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &go, 1), 1, "the child could not map %s", lib);
	close(p[0]);
	tick();
	t = table("/proc", 0);
	ar = at_risk(t, clock_boot_ns(), 2);
	e = listed(ar, c);
	cr_assert_not_null(e);
	cr_expect_eq(json_object_get_int(get(e, "hwcaps_level")), 3);
	cr_expect(json_object_get_boolean(get(e, "above_level")));
	cr_expect_eq(rank_of(ar, c), 0, "the process above the level is not first");
	cr_expect(strstr(json_object_get_string(get(e, "reason")), "x86-64-v3 above v2"));
	json_object_put(ar);
	/* on a v3 VM the same library is no risk */
	ar = at_risk(t, clock_boot_ns(), 3);
	cr_expect_not(json_object_get_boolean(get(listed(ar, c), "above_level")));
	json_object_put(ar);
	proctable__free(t);
}
