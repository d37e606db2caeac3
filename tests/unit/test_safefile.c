// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Safe file writing, on real files: a symlink planted at the target's name is replaced and
 * never followed, the mode is the one asked for whatever the umask, a failed write leaves
 * the old file and no temporary file, and the bounded reader refuses links, FIFOs and files
 * larger than its buffer.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "core/safefile.h"
#include "testutil.h"

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/cpudrift-safefile-XXXXXX");
	cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
	tu_rmtree(dir);
}

TestSuite(safefile, .init = setup, .fini = teardown);

static const char *at(const char *name)
{
	static char buf[4][256];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
	return buf[k];
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert(f, "cannot write %s", path);
	fputs(text, f);
	fclose(f);
}

/* Files whose name starts with a dot: safefile's temporary files. */
static int dot_files(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	cr_assert(d);
	while ((de = readdir(d)))
		n += de->d_name[0] == '.' && strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

Test(safefile, a_planted_symlink_is_replaced_not_followed)
{
	struct stat st;
	char *victim, *got;

	put(at("victim"), "precious\n");
	cr_assert_eq(symlink(at("victim"), at("out.prom")), 0);
	cr_assert_eq(safefile_write(at("out.prom"), "new\n", 4, 0644, 0), 0);
	victim = tu_read_file(at("victim"));
	cr_expect_str_eq(victim, "precious\n", "the write went through the symlink");
	cr_assert_eq(lstat(at("out.prom"), &st), 0);
	cr_expect(S_ISREG(st.st_mode), "the target is still a link");
	got = tu_read_file(at("out.prom"));
	cr_expect_str_eq(got, "new\n");
	cr_expect_eq(dot_files(), 0, "a temporary file was left");
	free(victim);
	free(got);
}

Test(safefile, mode_is_the_one_asked_whatever_the_umask)
{
	mode_t old = umask(077);
	struct stat st;

	cr_assert_eq(safefile_write(at("a"), "x", 1, 0644, SAFEFILE_SYNC_DIR), 0);
	cr_assert_eq(stat(at("a"), &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0644, "mode %04o", st.st_mode & 07777);
	umask(0);
	cr_assert_eq(safefile_write(at("a"), "y", 1, 0640, 0), 0);
	cr_assert_eq(stat(at("a"), &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0640, "mode %04o", st.st_mode & 07777);
	umask(old);
}

Test(safefile, a_failed_write_keeps_the_old_file_and_leaves_no_temporary)
{
	char *got;

	put(at("keep"), "old\n");
	/* A non-empty folder at the name: the rename fails after the temporary was written. */
	cr_assert_eq(mkdir(at("busy"), 0755), 0);
	put(at("busy/x"), "");
	cr_expect_lt(safefile_write(at("busy"), "new\n", 4, 0644, 0), 0);
	cr_expect_eq(dot_files(), 0, "a temporary file was left");
	cr_expect_eq(safefile_write(at("nodir/file"), "x", 1, 0644, 0), -ENOENT);
	cr_expect_eq(safefile_write(at("keep"), "x", 1, 0644, 0), 0);
	got = tu_read_file(at("keep"));
	cr_expect_str_eq(got, "x");
	free(got);
	{
		int dfd = open(dir, O_RDONLY | O_DIRECTORY);

		cr_expect_eq(safefile_write_at(dfd, "", "x", 1, 0644, 0), -EINVAL);
		cr_expect_eq(safefile_write_at(dfd, "a/b", "x", 1, 0644, 0), -EINVAL);
		close(dfd);
	}
}

Test(safefile, reader_refuses_links_fifos_and_large_files)
{
	char buf[16];
	struct stat st;

	put(at("small"), "12345");
	cr_expect_eq(safefile_read_at(AT_FDCWD, at("small"), buf, sizeof(buf), &st), 5);
	cr_expect_str_eq(buf, "12345");
	cr_expect_eq(st.st_size, 5);
	put(at("exact"), "123456789012345"); /* 15 bytes: fits a 16-byte buffer */
	cr_expect_eq(safefile_read_at(AT_FDCWD, at("exact"), buf, sizeof(buf), NULL), 15);
	put(at("large"), "1234567890123456");
	cr_expect_eq(safefile_read_at(AT_FDCWD, at("large"), buf, sizeof(buf), NULL), -EFBIG);
	cr_assert_eq(symlink(at("small"), at("link")), 0);
	cr_expect_eq(safefile_read_at(AT_FDCWD, at("link"), buf, sizeof(buf), NULL), -ELOOP);
	/* A FIFO with no writer would block a plain open for ever. */
	cr_assert_eq(mkfifo(at("fifo"), 0644), 0);
	cr_expect_eq(safefile_read_at(AT_FDCWD, at("fifo"), buf, sizeof(buf), NULL), -EINVAL);
	cr_expect_eq(safefile_read_at(AT_FDCWD, at("none"), buf, sizeof(buf), NULL), -ENOENT);
}
