// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The /proc readers: the stat, maps, environ, auxv and cgroup parsers on the kernel's own
 * formats (and on malformed or hostile input), then whole reads of fixture trees laid out
 * like /proc: an absent or unreadable environment is unknown, never "unmasked"; huge maps
 * and environments are read within their bounds; zombies, dead and exiting tasks and
 * kernel threads are not live, a process whose first thread exited is.  Finally this
 * process read through the real /proc.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "capture/procscan.h"
#include "testutil.h"

TestSuite(procscan);

#define PF_EXITING 0x4
#define PF_KTHREAD 0x00200000

static char *stat_line(int pid, const char *comm, char state, unsigned long flags, long threads,
		       unsigned long long start)
{
	static char buf[512];

	snprintf(buf, sizeof(buf),
		 "%d (%s) %c 1 %d %d 0 -1 %lu 100 0 0 0 1 1 0 0 20 0 %ld 0 %llu 1000 100 18446744"
		 "073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n",
		 pid, comm, state, pid, pid, flags, threads, start);
	return buf;
}

Test(procscan, stat_line_fields)
{
	struct proc_stat st;
	const char *l = stat_line(42, "a) (b c) d", 'S', 0x400140, 3, 12345);

	cr_assert_eq(procscan_parse_stat(l, strlen(l), &st), 0);
	cr_expect_eq(st.pid, 42);
	cr_expect_str_eq(st.comm, "a) (b c) d",
			 "the comm is everything between the first ( and "
			 "the last )");
	cr_expect_eq(st.state, 'S');
	cr_expect_eq(st.flags, 0x400140);
	cr_expect_eq(st.threads, 3);
	cr_expect_eq(st.start_ticks, 12345);
}

Test(procscan, malformed_stat_lines_are_einval)
{
	static const char *const bad[] = {
		"",
		"42",
		"42 (x",
		"42 x) S 1",
		"abc (x) S 1 2 3",
		"42 (x) S 1 2 3 4 5 6", /* cut before starttime */
		"42 (x) 7 1 2 3 4 5 6 7 8 9 10 11", /* no state letter */
		"42 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 zz 20",
	};
	struct proc_stat st;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(procscan_parse_stat(bad[i], strlen(bad[i]), &st), -EINVAL,
			     "accepted %s", bad[i]);
}

Test(procscan, maps_highest_hwcaps_level)
{
	const char *maps =
		"55d0-55d1 r-xp 00000000 08:01 11 /usr/bin/python3.11\n"
		"7f00-7f10 r-xp 00000000 08:01 12 /usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/"
		"libz.so.1.2.13\n"
		"7f10-7f20 r-xp 00000000 08:01 13 /opt/x86-64-v4/libfake.so\n"
		"7f20-7f30 r-xp 00000000 08:01 14 /usr/lib/glibc-hwcaps/x86-64-v2/libm.so (deleted)\n"
		"7fff-8000 rw-p 00000000 00:00 0 [stack]\n";

	cr_expect_eq(procscan_parse_maps(maps, strlen(maps)), 3);
	cr_expect_eq(procscan_parse_maps("", 0), 0);
	/* a cut last line is the next read's, and v1 or a missing folder is no level */
	cr_expect_eq(procscan_parse_maps("7f00 r-xp 0 0 1 /l/glibc-hwcaps/x86-64-v4/x", 41), 0);
	maps = "7f00 r-xp 0 0 1 /l/glibc-hwcaps/x86-64-v1/x\n7f01 r-xp 0 0 1 /l/glibc-hwcaps/"
	       "x86-64-v4\n";
	cr_expect_eq(procscan_parse_maps(maps, strlen(maps)), 0);
}

static int environ_of(const char *const *vars)
{
	char buf[8192];
	size_t n = 0;

	for (; *vars; vars++) {
		size_t len = strlen(*vars) + 1;

		memcpy(buf + n, *vars, len);
		n += len;
	}
	return procscan_parse_environ(buf, n);
}

Test(procscan, environ_glibc_mask)
{
	/* cpudrift's own unit's value (glibc 2.36 names) */
	cr_expect_eq(environ_of((const char *const[]){ "PATH=/bin",
						       "GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX,-AVX2,"
						       "-FMA",
						       NULL }),
		     1);
	cr_expect_eq(environ_of((const char *const[]){ "PATH=/bin", "HOME=/", NULL }), 0);
	/* glibc before 2.33 called it AVX2_Usable */
	cr_expect_eq(environ_of((const char *const[]){
			     "GLIBC_TUNABLES=glibc.malloc.check=3:glibc.cpu.hwcaps=-AVX2_Usable",
			     NULL }),
		     1);
	/* enabling is no mask; other AVX names are not AVX2 */
	cr_expect_eq(
		environ_of((const char *const[]){ "GLIBC_TUNABLES=glibc.cpu.hwcaps=AVX2", NULL }),
		0);
	cr_expect_eq(environ_of((const char *const[]){
			     "GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX512F,-AVX2x", NULL }),
		     0);
	/* the last setting wins, across variables; one without hwcaps changes nothing */
	cr_expect_eq(environ_of((const char *const[]){ "GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2",
						       "GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX512F",
						       NULL }),
		     0);
	cr_expect_eq(
		environ_of((const char *const[]){ "GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2",
						  "GLIBC_TUNABLES=glibc.malloc.check=3", NULL }),
		1);
	/* a name that only starts like it is another variable */
	cr_expect_eq(
		environ_of((const char *const[]){ "XGLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2",
						  "GLIBC_TUNABLESX=glibc.cpu.hwcaps=-AVX2", NULL }),
		0);
}

Test(procscan, environ_value_too_long_is_unknown)
{
	size_t n = 8000;
	char *buf = malloc(n);

	strcpy(buf, "GLIBC_TUNABLES=glibc.malloc.check=3:x=");
	memset(buf + strlen(buf), 'a', n - strlen(buf) - 1);
	buf[n - 1] = 0;
	cr_expect_eq(procscan_parse_environ(buf, n), -1);
	free(buf);
}

Test(procscan, auxv_at_secure)
{
	uint64_t v[] = { 6, 4096, 23, 1, 0, 0 }, w[] = { 6, 4096, 23, 0, 0, 0 };

	cr_expect_eq(procscan_parse_auxv((const char *)v, sizeof(v)), 1);
	cr_expect_eq(procscan_parse_auxv((const char *)w, sizeof(w)), 0);
	cr_expect_eq(procscan_parse_auxv("", 0), 0);
}

Test(procscan, cgroup_line_choice_and_forged_lines)
{
	const char *v2 = "0::/system.slice/nginx.service\n";
	const char *hybrid = "12:pids:/system.slice/docker.service\n"
			     "1:name=systemd:/docker/abc\n"
			     "0::/system.slice/containerd.service\n";
	const char *v1 =
		"2:cpu,cpuacct:/\n1:name=systemd:/user.slice/user-0.slice/session-1.scope\n";
	/* a folder name with a newline in it fakes a second 0:: line */
	const char *forged = "0::/user.slice/x\n0::/system.slice/sshd.service\n";
	char out[PROCSCAN_CGROUP_MAX];

	cr_expect_eq(procscan_parse_cgroup(v2, strlen(v2), 1, out, sizeof(out)), 0);
	cr_expect_str_eq(out, "/system.slice/nginx.service");
	cr_expect_eq(procscan_parse_cgroup(hybrid, strlen(hybrid), 3, out, sizeof(out)), 0);
	cr_expect_str_eq(out, "/docker/abc", "hybrid: name=systemd, which cgroupfs runtimes write");
	cr_expect_eq(procscan_parse_cgroup(v1, strlen(v1), 2, out, sizeof(out)), 0);
	cr_expect_str_eq(out, "/user.slice/user-0.slice/session-1.scope");
	cr_expect_eq(procscan_parse_cgroup(forged, strlen(forged), 1, out, sizeof(out)), -EINVAL);
	cr_expect_str_eq(out, "");
	cr_expect_eq(procscan_parse_cgroup("2:cpu:/\n", 8, 1, out, sizeof(out)), -EINVAL);
	cr_expect_eq(procscan_parse_cgroup(v2, strlen(v2), 1, out, 8), -EINVAL, "too long");
}

/* --- fixture trees ---------------------------------------------------------------------- */

static char root[64];

static void mkroot(void)
{
	snprintf(root, sizeof(root), "/tmp/cpudrift-procscan-XXXXXX");
	cr_assert_not_null(mkdtemp(root));
}

static void rmroot(void)
{
	if (root[0])
		tu_rmtree(root);
	root[0] = 0;
}

static void put(int pid, const char *name, const char *data, size_t len)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%d", root, pid);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%d/%s", root, pid, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void put_str(int pid, const char *name, const char *text)
{
	put(pid, name, text, strlen(text));
}

/* An ordinary process: stat, status, maps, auxv, cgroup; environ as given (NULL: none). */
static void put_proc(int pid, const char *env, size_t envlen)
{
	uint64_t auxv[] = { 6, 4096, 23, 0, 0, 0 };

	put_str(pid, "stat", stat_line(pid, "app", 'S', 0x400100, 1, 500));
	put_str(pid, "status",
		"Name:\tapp\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t1000\t1000\t"
		"1000\t1000\n");
	put_str(pid, "maps", "7f00-7f10 r-xp 0 08:01 1 /usr/lib/libc.so.6\n");
	put(pid, "auxv", (const char *)auxv, sizeof(auxv));
	put_str(pid, "cgroup", "0::/system.slice/app.service\n");
	if (env)
		put(pid, "environ", env, envlen);
}

Test(procscan, unreadable_or_absent_environ_is_unknown, .init = mkroot, .fini = rmroot)
{
	static const char plain[] = "PATH=/bin\0HOME=/\0";
	static const char masked[] = "GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2\0";
	struct procscan *s;
	struct proc_facts f;
	char path[512];

	put_proc(100, plain, sizeof(plain) - 1);
	put_proc(101, NULL, 0); /* absent */
	put_proc(102, NULL, 0);
	snprintf(path, sizeof(path), "%s/102/environ", root);
	cr_assert_eq(mkdir(path, 0), 0); /* unreadable for root too: a folder */
	put_proc(103, masked, sizeof(masked) - 1);
	put_proc(104, "", 0); /* empty: what a process whose memory is gone shows */

	cr_assert_eq(procscan__new(root, NULL, &s), 0);
	cr_assert_eq(procscan_read(s, 100, PROCSCAN_ALL, &f), 0);
	cr_expect_eq(f.glibc_masked, 0);
	cr_expect_eq(f.uid, 1000);
	cr_expect_eq(f.hwcaps_level, 0);
	cr_expect_str_eq(f.cgroup, "/system.slice/app.service");
	cr_expect_str_eq(f.st.comm, "app");
	cr_assert_eq(procscan_read(s, 101, PROCSCAN_ALL, &f), 0);
	cr_expect_eq(f.glibc_masked, -1, "an absent environment is unknown, not unmasked");
	cr_assert_eq(procscan_read(s, 102, PROCSCAN_ALL, &f), 0);
	cr_expect_eq(f.glibc_masked, -1, "an unreadable environment is unknown, not unmasked");
	cr_assert_eq(procscan_read(s, 103, PROCSCAN_ALL, &f), 0);
	cr_expect_eq(f.glibc_masked, 1);
	cr_assert_eq(procscan_read(s, 104, PROCSCAN_ALL, &f), 0);
	cr_expect_eq(f.glibc_masked, -1);
	/* gone */
	cr_expect_eq(procscan_read(s, 999, PROCSCAN_ALL, &f), -ENOENT);
	procscan__free(s);
}

Test(procscan, setuid_programs_ignore_the_mask, .init = mkroot, .fini = rmroot)
{
	static const char masked[] = "GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2\0";
	uint64_t secure[] = { 6, 4096, 23, 1, 0, 0 };
	struct procscan *s;
	struct proc_facts f;

	put_proc(100, masked, sizeof(masked) - 1);
	put(100, "auxv", (const char *)secure, sizeof(secure));
	cr_assert_eq(procscan__new(root, NULL, &s), 0);
	cr_assert_eq(procscan_read(s, 100, PROCSCAN_ENV, &f), 0);
	cr_expect_eq(f.glibc_masked, 0, "glibc erases glibc.cpu.hwcaps for AT_SECURE programs");
	procscan__free(s);
}

Test(procscan, huge_maps_and_environ_are_read_within_bounds, .init = mkroot, .fini = rmroot)
{
	/* 100,000 mappings (~7 MB, under the 8 MiB bound) with the hwcaps library last */
	size_t cap = 8u << 20, n = 0;
	char *maps = malloc(cap), *env;
	struct procscan *s;
	struct proc_facts f;

	for (int i = 0; i < 100000; i++)
		n += (size_t)snprintf(maps + n, cap - n,
				      "7f%010x-7f%010x rw-p 00000000 00:00 0 [anon:%d]\n", i, i + 1,
				      i);
	n += (size_t)snprintf(maps + n, cap - n,
			      "7fff0000-7fff1000 r-xp 0 08:01 1 /usr/lib/glibc-hwcaps/x86-64-v4/"
			      "libx.so\n");
	put_proc(100, "A=1", 4);
	put(100, "maps", maps, n);
	/* an environment past the 1 MiB bound, the mask at its end: not judged, unknown */
	env = malloc(2u << 20);
	memset(env, 'a', 2u << 20);
	memcpy(env, "BIG=", 4);
	env[(2u << 20) - 65] = 0;
	strcpy(env + (2u << 20) - 64, "GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2");
	put(100, "environ", env, (2u << 20) - 64 + 38);
	cr_assert_eq(procscan__new(root, NULL, &s), 0);
	cr_assert_eq(procscan_read(s, 100, PROCSCAN_ALL, &f), 0);
	cr_expect_eq(f.hwcaps_level, 4, "the last line of a 7 MB maps file is read");
	cr_expect_eq(f.glibc_masked, -1, "what lies past the bound may set the mask");
	procscan__free(s);

	/* maps past the bound: the end is not read (bounded), and that is no error */
	free(maps);
	cap = 9u << 20;
	maps = malloc(cap);
	n = 0;
	for (int i = 0; n < (8u << 20) + (256u << 10); i++)
		n += (size_t)snprintf(maps + n, cap - n,
				      "7f%010x-7f%010x rw-p 00000000 00:00 0 [anon:%d]\n", i, i + 1,
				      i);
	n += (size_t)snprintf(maps + n, cap - n,
			      "7fff0000-7fff1000 r-xp 0 08:01 1 /usr/lib/glibc-hwcaps/x86-64-v4/"
			      "libx.so\n");
	put(100, "maps", maps, n);
	cr_assert_eq(procscan__new(root, NULL, &s), 0);
	cr_assert_eq(procscan_read(s, 100, PROCSCAN_HWCAPS, &f), 0);
	cr_expect_eq(f.hwcaps_level, 0);
	procscan__free(s);
	free(maps);
	free(env);
}

Test(procscan, who_is_live, .init = mkroot, .fini = rmroot)
{
	static const struct {
		char state;
		unsigned long flags;
		long threads;
		bool live;
		const char *what;
	} cases[] = {
		{ 'S', 0x400100, 1, true, "a sleeping process" },
		{ 'R', 0x400000, 4, true, "a running one" },
		{ 'Z', 0x400104, 1, false, "a zombie" },
		{ 'X', 0x400104, 1, false, "a dead task" },
		{ 'R', 0x400104, 1, false, "an exiting task (PF_EXITING)" },
		{ 'D', 0x400104, 1, false, "an exiting task in D state" },
		{ 'I', PF_KTHREAD | 0x8040, 1, false, "a kernel thread" },
		{ 'Z', 0x400104, 3, true, "first thread exited, two others still run" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *l =
			stat_line(7, "x", cases[i].state, cases[i].flags, cases[i].threads, 1);
		struct proc_stat st;

		cr_assert_eq(procscan_parse_stat(l, strlen(l), &st), 0);
		cr_expect_eq(procscan_live(&st), cases[i].live, "%s", cases[i].what);
	}
}

Test(procscan, listing_skips_what_is_no_pid, .init = mkroot, .fini = rmroot)
{
	struct procscan_iter it;
	struct procscan *s;
	char path[512];
	int seen = 0, pid;

	put_proc(5, NULL, 0);
	put_proc(77, NULL, 0);
	snprintf(path, sizeof(path), "%s/self", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/12ab", root);
	mkdir(path, 0755);
	cr_assert_eq(procscan__new(root, NULL, &s), 0);
	cr_assert_eq(procscan_iter_open(s, &it), 0);
	while ((pid = procscan_iter_next(&it)))
		seen += pid == 5 ? 1 : pid == 77 ? 10 : 100;
	procscan_iter_close(&it);
	cr_expect_eq(seen, 11);
	procscan__free(s);
}

Test(procscan, this_process_through_the_real_proc)
{
	struct procscan *s;
	struct proc_facts f;
	char exe[PROCSCAN_EXE_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	cr_assert_gt(n, 0);
	exe[n] = 0;
	cr_assert_eq(procscan__new("/proc", NULL, &s), 0);
	cr_assert_eq(procscan_read(s, getpid(), PROCSCAN_ALL, &f), 0);
	cr_expect(procscan_live(&f.st));
	cr_expect_str_eq(f.exe, exe);
	cr_expect(f.self_exe);
	cr_expect_eq(f.uid, (long)getuid());
	cr_expect_neq(f.glibc_masked, -1, "our own environment is readable");
	cr_expect_neq(f.hwcaps_level, -1, "our own maps are readable");
	cr_expect_eq(f.cgroup[0], '/', "cgroup '%s'", f.cgroup);
	procscan__free(s);
}
