// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Processes at risk: live, a child started before a simulated change is listed and one
 * started after is not; on a fake /proc built here, glibc-hwcaps mappings above the VM's
 * level are flagged and kernel threads are left out.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "capture/atrisk.h"
#include "core/event.h"
#include "testutil.h"

TestSuite(atrisk);

static pid_t start_sleep(void)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (!pid) {
		execlp("sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static int64_t boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const struct atrisk_proc *find(const struct atrisk_list *l, int pid)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].pid == pid)
			return &l->v[i];
	return NULL;
}

/* Wait until the child has exec'd, so /proc shows sleep rather than the forked test. */
static void wait_exec(pid_t pid)
{
	char path[64], buf[64] = "";

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	for (int i = 0; i < 200 && !strstr(buf, "sleep"); i++) {
		ssize_t n = readlink(path, buf, sizeof(buf) - 1);

		buf[n > 0 ? n : 0] = 0;
		usleep(5000);
	}
}

Test(atrisk, started_before_the_change_is_at_risk_after_is_not)
{
	struct atrisk_list l;
	const struct atrisk_proc *p;
	pid_t before, after;
	int64_t change;

	before = start_sleep();
	wait_exec(before);
	/* /proc/PID/stat start times have clock-tick (10 ms) resolution: stay well clear. */
	usleep(100000);
	change = boot_ns();
	usleep(100000);
	after = start_sleep();
	wait_exec(after);

	cr_assert_eq(atrisk_scan("/proc", change, 0, &l), 0);
	p = find(&l, before);
	cr_expect_not_null(p, "pid %d started before the change is missing", before);
	if (p) {
		cr_expect_str_eq(p->comm, "sleep");
		cr_expect(strstr(p->exe, "sleep"), "exe is %s", p->exe);
		cr_expect_lt(p->start_boot_ns, change);
		cr_expect(!p->above_level, "level 0 (unknown) flags nothing");
	}
	cr_expect_null(find(&l, after), "pid %d started after the change is listed", after);
	/* the scanning process is cpudrift itself, which runs masked: never listed */
	cr_expect_null(find(&l, getpid()), "the scanning process lists itself");
	atrisk_list_free(&l);
	stop(before);
	stop(after);
}

Test(atrisk, attach_uses_the_verdict_change_time)
{
	struct event *e = event__new(EV_MIGRATION_SUSPECTED, SEV_WARNING);
	struct timespec ts;
	struct json_object *ar, *procs;
	pid_t child = start_sleep();

	wait_exec(child);
	usleep(100000);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	json_object_object_add(e->body, "change_mono_ns",
			       json_object_new_int64((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec));
	/* the event itself is stamped later; the change time in the body must win */
	e->monotonic_ns += 3600 * 1000000000LL;
	cr_assert_eq(atrisk_attach(e, 3, 10000), 0);
	cr_assert(json_object_object_get_ex(e->body, "at_risk", &ar));
	cr_assert(json_object_object_get_ex(ar, "processes", &procs));
	bool found = false;

	for (size_t i = 0; i < json_object_array_length(procs); i++) {
		struct json_object *pid;

		json_object_object_get_ex(json_object_array_get_idx(procs, i), "pid", &pid);
		found |= json_object_get_int(pid) == child;
	}
	cr_expect(found, "child %d not in at_risk", child);
	event__free(e);
	stop(child);
}

/* --- a fake /proc --------------------------------------------------------------------------- */

static void put(const char *dir, int pid, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%d", dir, pid);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%d/%s", dir, pid, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

/* stat with comm (which may hold spaces and parentheses), flags and starttime in ticks */
static void put_stat(const char *dir, int pid, const char *comm, unsigned long flags,
		     unsigned long long start)
{
	char buf[512];

	snprintf(buf, sizeof(buf),
		 "%d (%s) S 1 %d %d 0 -1 %lu 100 0 0 0 1 1 0 0 20 0 1 0 %llu 1000 100\n", pid, comm,
		 pid, pid, flags, start);
	put(dir, pid, "stat", buf);
}

Test(atrisk, hwcaps_above_the_level_and_kernel_threads)
{
	char dir[] = "/tmp/cpudrift-atrisk-XXXXXX";
	long hz = sysconf(_SC_CLK_TCK);
	struct atrisk_list l;
	const struct atrisk_proc *p;

	cr_assert_not_null(mkdtemp(dir));
	put_stat(dir, 100, "java (x) y", 0x400100, 5 * hz);
	put(dir, 100, "maps",
	    "7f00-7f10 r-xp 0 08:01 1 /usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libz.so\n"
	    "7f10-7f20 r-xp 0 08:01 2 /usr/lib/glibc-hwcaps/x86-64-v4/libfoo.so.1\n");
	put_stat(dir, 101, "bash", 0x400100, 6 * hz);
	put(dir, 101, "maps", "7f00-7f10 r-xp 0 08:01 1 /usr/lib/x86_64-linux-gnu/libc.so.6\n");
	put_stat(dir, 2, "kthreadd", 0x00208040, 0);
	put_stat(dir, 102, "late", 0x400100, 50 * hz);

	cr_assert_eq(atrisk_scan(dir, 10 * 1000000000LL, 3, &l), 0);
	cr_expect_eq(l.n, 2, "java and bash, not the kernel thread or the late starter");
	p = find(&l, 100);
	cr_assert_not_null(p);
	cr_expect_str_eq(p->comm, "java (x) y");
	cr_expect_eq(p->hwcaps_level, 4);
	cr_expect(p->above_level);
	cr_expect_eq(l.v[0].pid, 100, "processes above the level come first");
	p = find(&l, 101);
	cr_assert_not_null(p);
	cr_expect_eq(p->hwcaps_level, 0);
	cr_expect(!p->above_level);
	atrisk_list_free(&l);

	/* on a level-4 VM the same mapping is no risk */
	cr_assert_eq(atrisk_scan(dir, 10 * 1000000000LL, 4, &l), 0);
	cr_expect(!find(&l, 100)->above_level);
	atrisk_list_free(&l);

	tu_rmtree(dir);
}

Test(atrisk, glibc_masked_processes_are_flagged_and_listed_last)
{
	struct atrisk_list l;
	const struct atrisk_proc *plain_p, *masked_p;
	pid_t plain, masked;
	size_t ip = 0, im = 0;

	/* The masked one starts first: only the flag can put it after the other. */
	masked = fork();
	cr_assert_geq(masked, 0);
	if (!masked) {
		setenv("GLIBC_TUNABLES", "glibc.cpu.hwcaps=-AVX,-AVX2,-AVX512F", 1);
		execlp("sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	wait_exec(masked);
	usleep(20000); /* start times have clock-tick (10 ms) resolution */
	plain = start_sleep();
	wait_exec(plain);
	usleep(20000);
	cr_assert_eq(atrisk_scan("/proc", boot_ns(), 4, &l), 0);
	plain_p = find(&l, plain);
	masked_p = find(&l, masked);
	cr_assert_not_null(plain_p);
	cr_assert_not_null(masked_p, "a masked process is still listed: its own code may use AVX2");
	cr_expect_not(plain_p->glibc_masked);
	cr_expect(masked_p->glibc_masked);
	for (size_t i = 0; i < l.n; i++) {
		if (l.v[i].pid == plain)
			ip = i;
		if (l.v[i].pid == masked)
			im = i;
	}
	cr_expect_gt(im, ip, "the masked process should come after the unmasked one");
	atrisk_list_free(&l);
	stop(plain);
	stop(masked);
}
