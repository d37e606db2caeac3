// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fleet export: <state_dir>/export/snapshot.json is the snapshot, whole, readable by
 * `import`, mode 0644; a symlink planted at its name is replaced, not followed, and one
 * planted at export/ is refused, so nothing is written outside the state folder.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "core/log.h"
#include "formats/dumpfmt.h"
#include "formats/snapexport.h"
#include "testutil.h"

static char dir[] = "/tmp/cpudrift-export-XXXXXX";

static void setup(void)
{
	strcpy(dir, "/tmp/cpudrift-export-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	tu_rmtree(dir);
}

static const char *at(const char *rel)
{
	static char buf[4][400];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, rel);
	return buf[k];
}

static void make_dirs(void)
{
	mkdir(at("state"), 0755);
	mkdir(at("elsewhere"), 0755);
}

static struct snapshot *fixture(void)
{
	struct errbuf err = { "" };
	struct snapshot *s = NULL;

	cr_assert_eq(dump_import_file(CPUDRIFT_SRCDIR "/tests/fixtures/dumps/cpuid-r-epyc-kvm.txt",
				      &s, &err),
		     0, "%s", err.msg);
	return s;
}

TestSuite(snapexport, .init = setup, .fini = teardown);

/* Entries in @rel other than "." and "..". */
static int entries(const char *rel)
{
	char cmd[600], out[32] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls -A %s | wc -l", at(rel));
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	cr_assert_not_null(fgets(out, sizeof(out), p));
	pclose(p);
	return atoi(out);
}

Test(snapexport, writes_a_snapshot_import_reads)
{
	struct snapshot *s = fixture(), *back = NULL;
	struct errbuf err = { "" };
	struct stat st;

	make_dirs();
	cr_assert_eq(snapexport_write(at("state"), s), 0);
	cr_assert_eq(stat(at("state/export/snapshot.json"), &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0644);
	cr_assert_eq(dump_import_file(at("state/export/snapshot.json"), &back, &err), 0, "%s",
		     err.msg);
	cr_expect(featset_equal(&back->features, &s->features));
	cr_expect_eq(back->nvcpus, s->nvcpus);
	/* Written again: replaced whole, no temporary file left beside it. */
	cr_assert_eq(snapexport_write(at("state"), s), 0);
	cr_expect_eq(entries("state/export"), 1, "something beside snapshot.json in export/");
	snapshot__free(back);
	snapshot__free(s);
}

Test(snapexport, a_symlink_at_the_file_is_replaced_not_followed)
{
	struct snapshot *s = fixture();
	char *victim;
	struct stat st;
	FILE *f;

	make_dirs();
	mkdir(at("state/export"), 0755);
	f = fopen(at("elsewhere/victim"), "w");
	cr_assert_not_null(f);
	fputs("precious\n", f);
	fclose(f);
	cr_assert_eq(symlink(at("elsewhere/victim"), at("state/export/snapshot.json")), 0);
	cr_assert_eq(snapexport_write(at("state"), s), 0);
	victim = tu_read_file(at("elsewhere/victim"));
	cr_expect_str_eq(victim, "precious\n", "the write went through the link");
	free(victim);
	cr_assert_eq(lstat(at("state/export/snapshot.json"), &st), 0);
	cr_expect(S_ISREG(st.st_mode), "the link is still there");
	snapshot__free(s);
}

Test(snapexport, a_symlink_at_the_folder_is_refused)
{
	struct snapshot *s = fixture();
	struct stat st;
	int r;

	make_dirs();
	cr_assert_eq(symlink(at("elsewhere"), at("state/export")), 0);
	r = snapexport_write(at("state"), s);
	/* Linux says ENOTDIR for O_DIRECTORY|O_NOFOLLOW on a link to a folder, ELOOP else. */
	cr_expect(r == -ENOTDIR || r == -ELOOP, "%d", r);
	cr_expect_eq(entries("elsewhere"), 0, "written outside the state dir");
	cr_expect_neq(stat(at("elsewhere/snapshot.json"), &st), 0);
	snapshot__free(s);
}
