// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Configuration: defaults for every key, the shipped example documents every key and
 * parses, and every mistake an operator can make is fatal with FILE:LINE and the key.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "formats/config.h"
#include "core/log.h"
#include "analysis/timing.h"
#include "testutil.h"

#define EXAMPLE CPUDRIFT_SRCDIR "/packaging/cpudrift.conf"

TestSuite(config);

static char tmpconf[] = "/tmp/cpudrift-conf-XXXXXX";

/* Write @text to a fresh temp file, load it over the defaults; returns config_load's r. */
static int load_text(const char *text, struct config *c, struct errbuf *err)
{
	int fd;

	strcpy(tmpconf, "/tmp/cpudrift-conf-XXXXXX");
	fd = mkstemp(tmpconf);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	config_defaults(c);
	memset(err, 0, sizeof(*err));
	return config_load(c, tmpconf, false, err);
}

static void expect_error(const char *text, int line, const char *needle)
{
	struct config c;
	struct errbuf err;
	char prefix[128];
	int r = load_text(text, &c, &err);

	cr_expect_neq(r, 0, "'%s' was accepted", text);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", tmpconf, line);
	cr_expect(!strncmp(err.msg, prefix, strlen(prefix)),
		  "message '%s' does not start with '%s'", err.msg, prefix);
	cr_expect(strstr(err.msg, needle), "message '%s' does not name '%s'", err.msg, needle);
	unlink(tmpconf);
}

Test(config, defaults_cover_every_key)
{
	struct config c;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	config_defaults(&c);
	config_write(&c, f);
	fclose(f);
	for (int i = 0; i < config_nkeys(); i++) {
		char key[80];

		snprintf(key, sizeof(key), "%s = ", config_key_name(i));
		cr_expect(strstr(buf, key), "key %s missing from the defaults", config_key_name(i));
	}
	cr_expect_eq(c.interval_s, 300);
	cr_expect_str_eq(c.state_dir, "/var/lib/cpudrift");
	cr_expect(c.journal);
	cr_expect(c.fault_signals & (1ull << SIGILL));
	free(buf);
}

Test(config, timing_defaults_are_timing_modules_defaults)
{
	struct timing_thresholds want, got;
	struct config c;

	config_defaults(&c);
	timing_thresholds_default(&want);
	config_timing(&c, &got);
	cr_expect_eq(memcmp(&want, &got, sizeof(want)), 0,
		     "config.h defaults disagree with timing_thresholds_default()");
}

Test(config, written_config_reads_back_the_same)
{
	struct config a, b;
	struct errbuf err;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int r;

	config_defaults(&a);
	cr_assert_eq(config_set(&a, "interval", "2m", "test", &err), 0, "%s", err.msg);
	cr_assert_eq(config_set(&a, "textfile_path", "off", "test", &err), 0, "%s", err.msg);
	cr_assert_eq(config_set(&a, "fault_signals", "ill, bus", "test", &err), 0, "%s", err.msg);
	config_write(&a, f);
	fclose(f);
	r = load_text(buf, &b, &err);
	cr_assert_eq(r, 0, "%s", err.msg);
	cr_expect_eq(b.interval_s, 120);
	cr_expect_str_eq(b.textfile_path, "");
	cr_expect_eq(b.fault_signals, (1ull << SIGILL) | (1ull << SIGBUS));
	memset(b.path, 0, sizeof(b.path));
	cr_expect_eq(memcmp(&a, &b, sizeof(a)), 0);
	unlink(tmpconf);
	free(buf);
}

Test(config, values_with_units_comments_and_spaces)
{
	struct config c;
	struct errbuf err;
	int r = load_text("# comment\n\n  interval=1h   # hourly\nretention_bytes = 2M\n"
			  "journal = off\nlog_level = debug\nhooks_dir = /srv/hooks\n",
			  &c, &err);

	cr_assert_eq(r, 0, "%s", err.msg);
	cr_expect_eq(c.interval_s, 3600);
	cr_expect_eq(c.retention_bytes, 2 << 20);
	cr_expect(!c.journal);
	cr_expect_eq(c.log_level, LOG_LVL_DEBUG);
	cr_expect_str_eq(c.hooks_dir, "/srv/hooks");
	unlink(tmpconf);
}

Test(config, unknown_key_names_file_line_and_key)
{
	expect_error("interval = 60\n\nintervall = 60\n", 3, "unknown key 'intervall'");
}

Test(config, bad_values_name_file_line_and_key)
{
	expect_error("interval = often\n", 1, "bad value for 'interval'");
	expect_error("# x\ninterval = 5\n", 2, "bad value for 'interval'"); /* below 10 s */
	expect_error("journal = maybe\n", 1, "bad value for 'journal'");
	expect_error("state_dir = relative/dir\n", 1, "bad value for 'state_dir'");
	expect_error("state_dir = off\n", 1, "bad value for 'state_dir'");
	expect_error("fault_signals = SIGILL,SIGKILL\n", 1, "bad value for 'fault_signals'");
	expect_error("log_level = loud\n", 1, "bad value for 'log_level'");
	expect_error("retention_bytes = 64Q\n", 1, "bad value for 'retention_bytes'");
	expect_error("hook_spool_max = 0\n", 1, "bad value for 'hook_spool_max'");
	expect_error("hook_cursor = cursor\n", 1, "bad value for 'hook_cursor'");
	expect_error("tsc_window = 99\n", 1, "bad value for 'tsc_window'");
	expect_error("hook_timeout = 99999999999999999999999\n", 1, "bad value for 'hook_timeout'");
}

/* An upgrade must not fail on a file the operator edited for an older cpudrift. */
Test(config, a_retired_key_is_ignored_with_a_warning_naming_file_and_line)
{
	char logpath[] = "/tmp/cpudrift-conflog-XXXXXX", *logged;
	int logfd = mkstemp(logpath), saved = dup(2), r;
	struct errbuf err;
	struct config c;

	cr_assert(logfd >= 0 && saved >= 0);
	dup2(logfd, 2);
	r = load_text("interval = 60\nhook_user = nobody\n", &c, &err);
	dup2(saved, 2);
	close(saved);
	close(logfd);
	cr_expect_eq(r, 0, "%s", err.msg);
	cr_expect_eq(c.interval_s, 60);
	logged = tu_read_file(logpath);
	cr_assert(logged);
	cr_expect(strstr(logged, tmpconf) && strstr(logged, ":2: 'hook_user' is no longer used"),
		  "warning: %s", logged);
	free(logged);
	unlink(logpath);
	unlink(tmpconf);
}

Test(config, diff_names_the_keys_that_changed)
{
	struct config a, b;
	char buf[256];

	config_defaults(&a);
	config_defaults(&b);
	cr_expect_eq(config_diff(&a, &b, buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf, "");
	b.stall_threshold_us = 70000;
	strcpy(b.textfile_path, "/srv/x.prom");
	strcpy(b.path, "/elsewhere"); /* not a key */
	cr_expect_eq(config_diff(&a, &b, buf, sizeof(buf)), 2);
	cr_expect_str_eq(buf, "textfile_path, stall_threshold_us");
}

/* `cpudrift reload` must find the daemon even when the file it asks it to load is bad. */
Test(config, the_state_dir_is_found_in_a_bad_file)
{
	struct config c;
	struct errbuf err;
	char out[256];

	cr_assert_neq(
		load_text("bogus line\nstate_dir = /srv/drift  # here\nno_key = 1\n", &c, &err), 0);
	cr_expect_eq(config_peek_state_dir(tmpconf, out, sizeof(out)), 0);
	cr_expect_str_eq(out, "/srv/drift");
	unlink(tmpconf);
	cr_expect_eq(config_peek_state_dir("/nonexistent/cpudrift.conf", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "/var/lib/cpudrift");
}

Test(config, broken_lines_name_file_and_line)
{
	expect_error("interval 60\n", 1, "expected 'key = value'");
	expect_error("\n = 60\n", 2, "missing key");
}

Test(config, missing_file)
{
	struct config c;
	struct errbuf err = { "" };

	config_defaults(&c);
	cr_expect_eq(config_load(&c, "/nonexistent/cpudrift.conf", true, &err), 0);
	cr_expect_neq(config_load(&c, "/nonexistent/cpudrift.conf", false, &err), 0);
	cr_expect(strstr(err.msg, "/nonexistent/cpudrift.conf"), "%s", err.msg);
}

/*
 * The shipped example documents every key, commented out with its default value: once
 * uncommented it parses and changes nothing.
 */
Test(config, example_documents_every_key)
{
	FILE *f = fopen(EXAMPLE, "r"), *out;
	char line[1024], *text = NULL, path[] = "/tmp/cpudrift-example-XXXXXX";
	size_t len = 0;
	struct config c;
	struct errbuf err;
	int fd;

	cr_assert(f, "cannot open %s", EXAMPLE);
	out = open_memstream(&text, &len);
	while (fgets(line, sizeof(line), f)) {
		char key[64];

		/* "#key = value" lines are the settings; "# text" lines are prose. */
		if (line[0] == '#' && line[1] != ' ' && line[1] != '\n' &&
		    sscanf(line + 1, "%63[a-z0-9_] =", key) == 1)
			fputs(line + 1, out);
	}
	fclose(f);
	fclose(out);
	for (int i = 0; i < config_nkeys(); i++) {
		char key[80];

		snprintf(key, sizeof(key), "%s = ", config_key_name(i));
		cr_expect(strstr(text, key), "%s does not document '%s'", EXAMPLE,
			  config_key_name(i));
	}
	fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	config_defaults(&c);
	cr_expect_eq(config_load(&c, path, false, &err), 0, "%s", err.msg);
	{
		struct config d;

		config_defaults(&d);
		strcpy(d.path, c.path);
		cr_expect_eq(memcmp(&c, &d, sizeof(c)), 0,
			     "%s shows values other than the defaults", EXAMPLE);
	}
	unlink(path);
	free(text);
}
