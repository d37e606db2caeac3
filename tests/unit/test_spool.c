// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The hook spool, the daemon's side, on real files: whole numbered entries with the event's
 * JSON, the cap (the oldest unprocessed make room, counted), the rate limit (counted), the
 * runner's cursor deleting what it is done with, numbers that survive a restart and a wiped
 * spool, and a cursor file that lies (a symlink, garbage, huge numbers, control characters).
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
#include <json-c/json.h>

#include "core/log.h"
#include "sinks/spool.h"
#include "testutil.h"

static char dir[64];
static char hooks[96], cursor[96], spooldir[96];

static void setup(void)
{
	strcpy(dir, "/tmp/cpudrift-spool-XXXXXX");
	cr_assert(mkdtemp(dir));
	snprintf(hooks, sizeof(hooks), "%s/hooks.d", dir);
	snprintf(cursor, sizeof(cursor), "%s/cursor", dir);
	snprintf(spooldir, sizeof(spooldir), "%s/spool", dir);
	mkdir(hooks, 0755);
}

static void teardown(void)
{
	tu_rmtree(dir);
}

TestSuite(spool, .init = setup, .fini = teardown);

static struct spool *open_spool(unsigned max, unsigned rate)
{
	struct spool_opts o = { .state_dir = dir,
				.cursor_path = cursor,
				.hooks_dir = hooks,
				.max_events = max,
				.rate_per_min = rate };
	struct errbuf err = { "" };
	struct spool *sp;

	cr_assert_eq(spool__new(&sp, &o, &err), 0, "%s", err.msg);
	return sp;
}

static struct event *ev(int n)
{
	struct event *e = event__new(EV_FAULT_SIGILL, SEV_CRITICAL);

	cr_assert(e);
	e->pid = 1000 + n;
	snprintf(e->subject, sizeof(e->subject), "app%d", n);
	snprintf(e->summary, sizeof(e->summary), "event %d", n);
	return e;
}

static void add(struct spool *sp, int n, int want)
{
	struct event *e = ev(n);

	cr_expect_eq(spool_add(sp, e), want, "spool_add of event %d", n);
	event__free(e);
}

/* The sequence numbers present, as "1,2,3". */
static char *present(void)
{
	static char buf[512];
	uint64_t *seqs;
	int fd = open(spooldir, O_RDONLY | O_DIRECTORY), n;
	size_t used = 0;

	cr_assert(fd >= 0);
	n = spool_list(fd, 0, &seqs);
	close(fd);
	cr_assert_geq(n, 0);
	buf[0] = 0;
	for (int i = 0; i < n; i++)
		used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%llu", i ? "," : "",
					 (unsigned long long)seqs[i]);
	free(seqs);
	return buf;
}

static void write_cursor(uint64_t seq)
{
	struct spool_cursor c = { .seq = seq, .events = seq, .hook_failures = 2 };

	cr_assert_eq(spool_cursor_write(cursor, &c), 0);
}

Test(spool, entries_are_whole_numbered_events)
{
	struct spool *sp = open_spool(0, 0);
	struct json_object *o;
	struct event *back;
	struct stat st;
	char path[160], *text;

	add(sp, 1, 1);
	add(sp, 2, 1);
	add(sp, 3, 1);
	cr_expect_str_eq(present(), "1,2,3");
	snprintf(path, sizeof(path), "%s/00000000000000000002.json", spooldir);
	text = tu_read_file(path);
	cr_assert(text);
	o = json_tokener_parse(text);
	back = o ? event_from_json(o) : NULL;
	cr_assert(back, "entry 2 is not an event: %s", text);
	cr_expect_str_eq(back->subject, "app2");
	cr_expect_eq(back->pid, 1002);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0640, "entry mode %04o", st.st_mode & 07777);
	cr_assert_eq(stat(spooldir, &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0750, "spool mode %04o", st.st_mode & 07777);
	json_object_put(o);
	event__free(back);
	free(text);
	spool__free(sp);
}

Test(spool, the_cursor_deletes_what_the_runner_is_done_with)
{
	struct spool *sp = open_spool(0, 0);
	struct spool_stats st;

	for (int i = 1; i <= 4; i++)
		add(sp, i, 1);
	spool_maintain(sp);
	spool_get_stats(sp, &st);
	cr_expect_eq(st.cursor_err, -ENOENT, "no runner yet");
	cr_expect_eq(st.pending, 4);
	write_cursor(2);
	spool_maintain(sp);
	cr_expect_str_eq(present(), "3,4");
	spool_get_stats(sp, &st);
	cr_expect_eq(st.cursor_err, 0);
	cr_expect_eq(st.pending, 2);
	cr_expect_eq(st.cursor.hook_failures, 2);
	spool__free(sp);
}

Test(spool, a_full_spool_drops_the_oldest_unprocessed_and_counts_them)
{
	struct spool *sp = open_spool(5, 0);
	struct spool_stats st;

	for (int i = 1; i <= 8; i++)
		add(sp, i, 1);
	cr_expect_str_eq(present(), "4,5,6,7,8");
	spool_get_stats(sp, &st);
	cr_expect_eq(st.dropped[SPOOL_DROP_FULL], 3);
	cr_expect_eq(st.spooled, 8);
	/* Entries the runner is done with make room first, and are no drops. */
	write_cursor(6);
	add(sp, 9, 1);
	add(sp, 10, 1);
	cr_expect_str_eq(present(), "7,8,9,10");
	spool_get_stats(sp, &st);
	cr_expect_eq(st.dropped[SPOOL_DROP_FULL], 3);
	spool__free(sp);
}

Test(spool, the_rate_limit_drops_and_counts)
{
	struct spool *sp = open_spool(0, 2);
	struct spool_stats st;

	add(sp, 1, 1);
	add(sp, 2, 1);
	add(sp, 3, 0);
	add(sp, 4, 0);
	spool_get_stats(sp, &st);
	cr_expect_eq(st.dropped[SPOOL_DROP_RATE], 2);
	cr_expect_str_eq(present(), "1,2");
	spool__free(sp);
}

Test(spool, nothing_is_spooled_without_a_hooks_folder)
{
	struct spool *sp = open_spool(0, 0);

	cr_assert_eq(rmdir(hooks), 0);
	add(sp, 1, 0);
	cr_expect_str_eq(present(), "");
	spool__free(sp);
}

Test(spool, numbers_survive_a_restart_and_a_wiped_spool)
{
	struct spool *sp = open_spool(0, 0);
	char leftover[160];

	add(sp, 1, 1);
	add(sp, 2, 1);
	spool__free(sp);
	/* A write that a kill -9 interrupted leaves a temporary file. */
	snprintf(leftover, sizeof(leftover), "%s/.00000000000000000003.json.0123456789abcdef",
		 spooldir);
	close(open(leftover, O_CREAT | O_WRONLY, 0600));
	sp = open_spool(0, 0);
	cr_expect(access(leftover, F_OK), "the leftover temporary file was kept");
	add(sp, 3, 1);
	cr_expect_str_eq(present(), "1,2,3");
	spool__free(sp);

	/* Spool wiped, the runner's cursor kept at 3: new numbers must be past it, or the runner
	 * would take the new events for done. */
	write_cursor(3);
	tu_rmtree(spooldir);
	sp = open_spool(0, 0);
	add(sp, 4, 1);
	cr_expect_str_eq(present(), "4");
	spool__free(sp);
}

Test(spool, a_lying_cursor_file_is_not_believed)
{
	struct spool_cursor c;
	char target[160], big[8192];
	FILE *f;

	/* a symlink */
	snprintf(target, sizeof(target), "%s/real", dir);
	f = fopen(target, "w");
	fputs("seq 5\n", f);
	fclose(f);
	cr_assert_eq(symlink(target, cursor), 0);
	cr_expect_eq(spool_cursor_read(cursor, &c), -EINVAL);
	unlink(cursor);
	/* garbage, signs, blanks, numbers past SPOOL_SEQ_MAX */
	static const char *const bad[] = { "seq -1\n",	 "seq 12abc\n",
					   "seq  7\n",	 "seq 99999999999999999999\n",
					   "events 3\n", "\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f = fopen(cursor, "w");
		fputs(bad[i], f);
		fclose(f);
		cr_expect_eq(spool_cursor_read(cursor, &c), -EINVAL, "accepted '%s'", bad[i]);
	}
	/* huge */
	memset(big, '#', sizeof(big));
	f = fopen(cursor, "w");
	fputs("seq 1\n", f);
	fwrite(big, 1, sizeof(big), f);
	fclose(f);
	cr_expect_eq(spool_cursor_read(cursor, &c), -EINVAL);
	/* control characters in the text that `status` prints */
	f = fopen(cursor, "w");
	fputs("seq 4\nhook_failures 2\nlast_error bad\x1b[31m red\r\n", f);
	fclose(f);
	cr_assert_eq(spool_cursor_read(cursor, &c), 0);
	cr_expect_eq(c.seq, 4);
	cr_expect_eq(c.hook_failures, 2);
	cr_expect_str_eq(c.last_error, "bad?[31m red?");
}

Test(spool, waiting_entries_are_touched_so_the_path_unit_starts_the_runner_again)
{
	struct spool *sp = open_spool(0, 0);
	char path[160];
	struct stat a, b;

	add(sp, 1, 1);
	snprintf(path, sizeof(path), "%s/00000000000000000001.json", spooldir);
	spool_maintain(sp); /* first sight of the waiting entry: no touch yet */
	cr_assert_eq(stat(path, &a), 0);
	usleep(20000);
	spool_maintain(sp); /* still waiting, the runner did not move */
	cr_assert_eq(stat(path, &b), 0);
	cr_expect(b.st_ctim.tv_sec != a.st_ctim.tv_sec || b.st_ctim.tv_nsec != a.st_ctim.tv_nsec,
		  "the waiting entry was not touched");
	spool__free(sp);
}
