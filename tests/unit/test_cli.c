// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What every command shares: strict numbers (a bad value exits 2 with the usage, never
 * means 0 or "no limit"), --version, the store found the way the daemon finds it, and
 * control characters from untrusted strings escaped in human output.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/args.h"
#include "core/escape.h"
#include "core/event.h"
#include "core/log.h"
#include "sinks/store.h"
#include "testutil.h"

TestSuite(cli);

static char *cli(const char *args, int *rc)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), "env -u CPUDRIFT_STATE_DIR %s %s 2>&1", tu_build("cpudrift"),
		 args);
	return tu_run(cmd, rc);
}

/* --- strict numbers ------------------------------------------------------------------- */

Test(cli, bad_numbers_exit_2_with_usage)
{
	static const struct {
		const char *args, *says;
	} cases[] = {
		{ "events --limit abc --state-dir /nonexistent", "'abc' is not a whole number" },
		{ "events --limit 0 --state-dir /nonexistent", "out of range" },
		{ "events --limit 10x --state-dir /nonexistent", "'10x' is not a whole number" },
		{ "snapshot --cpu abc", "--cpu: 'abc' is not a whole number" },
		{ "snapshot --cpu -1", "out of range" },
		{ "baseline accept --id bogus --state-dir /nonexistent", "--id: 'bogus'" },
		{ "baseline accept --id 0 --state-dir /nonexistent", "out of range" },
		{ "watch --pid 12ab", "--pid: '12ab'" },
		{ "watch --duration soon", "--duration: 'soon' is not a duration" },
		{ "watch --duration -5", "is not a duration" },
		{ "probe --timeout 1e3", "--timeout: '1e3'" },
		{ "record --duration 0x10", "is not a duration" },
		{ "record --stall-us ten", "--stall-us: 'ten'" },
		{ "record --cpuid-every 1.2.3", "is not a duration" },
		{ "replay --window inf x", "--window: 'inf' is not a duration" },
		{ "export --vcpu 1.5", "--vcpu: '1.5'" },
		{ "export --vcpu 99999", "out of range" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;
		char *out = cli(cases[i].args, &rc);

		cr_expect_eq(rc, 2, "cpudrift %s: exit %d, not 2:\n%s", cases[i].args, rc, out);
		cr_expect(strstr(out, cases[i].says), "cpudrift %s does not say \"%s\":\n%s",
			  cases[i].args, cases[i].says, out);
		cr_expect(strstr(out, "usage: cpudrift"), "cpudrift %s prints no usage:\n%s",
			  cases[i].args, out);
		free(out);
	}
}

Test(cli, number_helpers_take_whole_text_only)
{
	int64_t v = -1;
	int i = -1;

	cr_expect_eq(args_int("--n", "42", 0, 100, &v), 0);
	cr_expect_eq(v, 42);
	cr_expect_eq(args_int("--n", "", 0, 100, &v), -EINVAL);
	cr_expect_eq(args_int("--n", " 4", 0, 100, &v), -EINVAL);
	cr_expect_eq(args_int("--n", "4 ", 0, 100, &v), -EINVAL);
	cr_expect_eq(args_int("--n", "99999999999999999999", 0, INT64_MAX, &v), -EINVAL);
	cr_expect_eq(args_int32("--n", "-3", -5, 5, &i), 0);
	cr_expect_eq(i, -3);
	cr_expect_eq(args_duration("--d", "1.5", 1000000000LL, 0, INT64_MAX, &v), 0);
	cr_expect_eq(v, 1500000000);
	cr_expect_eq(args_duration("--d", "250ms", 1000000000LL, 0, INT64_MAX, &v), 0);
	cr_expect_eq(v, 250000000);
	cr_expect_eq(args_duration("--d", "2h", 1000000000LL, 0, INT64_MAX, &v), 0);
	cr_expect_eq(v, 7200 * 1000000000LL);
	cr_expect_eq(args_duration("--d", "2x", 1000000000LL, 0, INT64_MAX, &v), -EINVAL);
	cr_expect_eq(args_duration("--d", ".", 1000000000LL, 0, INT64_MAX, &v), -EINVAL);
	cr_expect_eq(args_duration("--d", "nan", 1000000000LL, 0, INT64_MAX, &v), -EINVAL);
	cr_expect_eq(args_size("--s", "20M", 0, INT64_MAX, &v), 0);
	cr_expect_eq(v, 20 << 20);
	cr_expect_eq(args_size("--s", "512KiB", 0, INT64_MAX, &v), 0);
	cr_expect_eq(v, 512 << 10);
	cr_expect_eq(args_size("--s", "20MB", 0, INT64_MAX, &v), -EINVAL);
	cr_expect_eq(args_size("--s", "-1", 0, INT64_MAX, &v), -EINVAL);
	cr_expect_eq(args_size("--s", "99999999999G", 0, INT64_MAX, &v), -EINVAL);
}

/* --- --version --------------------------------------------------------------------------- */

Test(cli, version_global_and_per_command)
{
	static const char *const forms[] = { "--version",	   "-V",
					     "events --version",   "status --version",
					     "watch --version",	   "snapshot --version",
					     "baseline --version", "replay --version",
					     "features --version" };

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		int rc;
		char *out = cli(forms[i], &rc);

		cr_expect_eq(rc, 0, "cpudrift %s: exit %d", forms[i], rc);
		cr_expect_str_eq(out, "cpudrift " CPUDRIFT_VERSION "\n", "cpudrift %s said %s",
				 forms[i], out);
		free(out);
	}
}

/* --- the state dir ------------------------------------------------------------------------ */

static void make_store(const char *dir, const char *subject)
{
	struct errbuf err;
	struct store *s;
	struct event *e = event__new(EV_TIMING_STEAL, SEV_NOTICE);

	cr_assert_eq(store__new(&s, dir, 0, &err), 0, "%s", err.msg);
	snprintf(e->subject, sizeof(e->subject), "%s", subject);
	snprintf(e->summary, sizeof(e->summary), "store of %s", subject);
	cr_assert_eq(store_add_event(s, e, NULL), 0);
	event__free(e);
	store__free(s);
}

Test(cli, state_dir_flag_then_env_then_config_then_default)
{
	char tmp[] = "/tmp/cpudrift-cli-XXXXXX", a[256], b[256], c[256], conf[256], cmd[2048];
	FILE *f;
	char *out;
	int rc;

	cr_assert(mkdtemp(tmp));
	snprintf(a, sizeof(a), "%s/flag", tmp);
	snprintf(b, sizeof(b), "%s/env", tmp);
	snprintf(c, sizeof(c), "%s/conf", tmp);
	make_store(a, "flagstore");
	make_store(b, "envstore");
	make_store(c, "confstore");
	snprintf(conf, sizeof(conf), "%s/cpudrift.conf", tmp);
	f = fopen(conf, "w");
	cr_assert(f);
	fprintf(f, "state_dir = %s\n", c);
	fclose(f);

	snprintf(cmd, sizeof(cmd),
		 "CPUDRIFT_STATE_DIR=%s %s events --state-dir %s --config %s 2>&1", b,
		 tu_build("cpudrift"), a, conf);
	out = tu_run(cmd, &rc);
	cr_expect(strstr(out, "flagstore"), "--state-dir does not win:\n%s", out);
	free(out);
	snprintf(cmd, sizeof(cmd), "CPUDRIFT_STATE_DIR=%s %s events --config %s 2>&1", b,
		 tu_build("cpudrift"), conf);
	out = tu_run(cmd, &rc);
	cr_expect(strstr(out, "envstore"), "CPUDRIFT_STATE_DIR does not beat the config:\n%s", out);
	free(out);
	snprintf(cmd, sizeof(cmd), "CPUDRIFT_STATE_DIR= %s events --config %s 2>&1",
		 tu_build("cpudrift"), conf);
	out = tu_run(cmd, &rc);
	cr_expect(strstr(out, "confstore"), "the configuration's state_dir is not used:\n%s", out);
	free(out);
	/*
	 * A configuration the daemon would refuse (a typo in another key) still names the store
	 * to read: the reader says so and reads it.
	 */
	f = fopen(conf, "a");
	cr_assert(f);
	fprintf(f, "no_such_key = 1\n");
	fclose(f);
	snprintf(cmd, sizeof(cmd), "CPUDRIFT_STATE_DIR= %s events --config %s 2>&1",
		 tu_build("cpudrift"), conf);
	out = tu_run(cmd, &rc);
	cr_expect(strstr(out, "confstore"), "a bad line elsewhere hides the store:\n%s", out);
	cr_expect(strstr(out, "unknown key 'no_such_key'"), "the bad line is not named:\n%s", out);
	free(out);
	/* No flag, no environment, no configuration: the daemon's default, named. */
	out = cli("events --config /dev/null", &rc);
	cr_expect(strstr(out, "/var/lib/cpudrift"), "the default state dir is not used:\n%s", out);
	free(out);
	tu_rmtree(tmp);
}

/* --- escaping ------------------------------------------------------------------------------ */

Test(cli, escape_neutralises_terminal_controls)
{
	char buf[64];

	cr_expect_str_eq(str_esc("java"), "java");
	cr_expect_str_eq(str_esc("a\x1b[2Jb"), "a\\e[2Jb");
	cr_expect_str_eq(str_esc("x\ny\rz\t"), "x\\ny\\rz\\t");
	cr_expect_str_eq(str_esc("del\x7f"), "del\\x7f");
	cr_expect_str_eq(str_esc("c1\xc2\x9b"
				 "31m"),
			 "c1\\u009b31m");
	cr_expect_str_eq(str_esc("raw\x9b"), "raw\\x9b");
	cr_expect_str_eq(str_esc("rlo\xe2\x80\xae"
				 "gpj.exe"),
			 "rlo\\u202egpj.exe");
	cr_expect_str_eq(str_esc("caf\xc3\xa9"), "caf\xc3\xa9");
	cr_expect_str_eq(str_esc("over\xc0\xaf"), "over\\xc0\\xaf");
	cr_expect_str_eq(str_esc("back\\slash"), "back\\\\slash");
	cr_expect_str_eq(str_esc(NULL), "");
	/* A cut never leaves half an escape. */
	cr_expect_eq(str_escape(buf, 6, "ab\x1b"), 4);
	cr_expect_str_eq(buf, "ab\\e");
	cr_expect_eq(str_escape(buf, 4, "ab\x1b"), 4);
	cr_expect_str_eq(buf, "ab");
	cr_expect_eq(str_escape(buf, 3, "a\xc3\xa9"), 3);
	cr_expect_str_eq(buf, "a");
}

/* A hostile subject and summary in the store reach the terminal escaped, JSON intact. */
Test(cli, events_and_status_escape_hostile_names)
{
	char tmp[] = "/tmp/cpudrift-cli-XXXXXX", cmd[1024];
	struct errbuf err;
	struct store *s;
	struct event *e = event__new(EV_FAULT_SIGILL, SEV_CRITICAL);
	char *out;
	int rc;

	cr_assert(mkdtemp(tmp));
	cr_assert_eq(store__new(&s, tmp, 0, &err), 0, "%s", err.msg);
	snprintf(e->subject, sizeof(e->subject), "evil\x1b]0;owned\x07");
	snprintf(e->summary, sizeof(e->summary), "evil\x1b[2J (pid 1)\nFAKE LINE");
	cr_assert_eq(store_add_event(s, e, NULL), 0);
	e->kind = EV_MIGRATION_SUSPECTED;
	cr_assert_eq(store_add_event(s, e, NULL), 0);
	event__free(e);
	store__free(s);
	snprintf(cmd, sizeof(cmd), "%s events --state-dir %s 2>&1", tu_build("cpudrift"), tmp);
	out = tu_run(cmd, &rc);
	cr_expect_null(strchr(out, '\x1b'), "an escape reached the terminal:\n%s", out);
	cr_expect_null(strchr(out, '\x07'));
	cr_expect(strstr(out, "evil\\e[2J (pid 1)\\nFAKE LINE"), "%s", out);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s status --state-dir %s 2>&1", tu_build("cpudrift"), tmp);
	out = tu_run(cmd, &rc);
	cr_expect_null(strchr(out, '\x1b'), "an escape reached the terminal:\n%s", out);
	cr_expect(strstr(out, "\\nFAKE LINE"), "%s", out);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s events --json --state-dir %s", tu_build("cpudrift"), tmp);
	out = tu_run(cmd, &rc);
	cr_expect(strstr(out, "\\u001b[2J"), "JSON keeps the text, escaped by json-c:\n%s", out);
	free(out);
	tu_rmtree(tmp);
}

/* The README's own example, and the other forms, reach the store query. */
Test(cli, events_since_takes_times_as_people_type_them)
{
	char tmp[] = "/tmp/cpudrift-cli-XXXXXX", cmd[1024];
	char *out;
	int rc;

	cr_assert(mkdtemp(tmp));
	make_store(tmp, "recent");
	snprintf(cmd, sizeof(cmd), "%s events --state-dir %s --since yesterday 2>&1",
		 tu_build("cpudrift"), tmp);
	out = tu_run(cmd, &rc);
	cr_expect_eq(rc, 0, "%s", out);
	cr_expect(strstr(out, "recent"), "--since yesterday lost today's event:\n%s", out);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s events --state-dir %s --since '-10m' 2>&1",
		 tu_build("cpudrift"), tmp);
	out = tu_run(cmd, &rc);
	cr_expect(strstr(out, "recent"), "--since -10m lost a fresh event:\n%s", out);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s events --state-dir %s --since tomorrow 2>&1",
		 tu_build("cpudrift"), tmp);
	out = tu_run(cmd, &rc);
	cr_expect_eq(rc, 0);
	cr_expect(strstr(out, "no events") && !strstr(out, "recent"), "%s", out);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s events --state-dir %s --since 03:00 2>&1",
		 tu_build("cpudrift"), tmp);
	out = tu_run(cmd, &rc);
	cr_expect_eq(rc, 0, "the README's --since 03:00 fails:\n%s", out);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s events --state-dir %s --since 27:00 2>&1",
		 tu_build("cpudrift"), tmp);
	out = tu_run(cmd, &rc);
	cr_expect_eq(rc, 2);
	cr_expect(strstr(out, "hour 27 is out of range"), "%s", out);
	free(out);
	tu_rmtree(tmp);
}
