// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * report and evidence on a real store: a recorded feature-loss migration replayed into it
 * by the real daemon (`run --replay`), then read back by the real binary.  The bundle holds
 * every listed member, verify passes, one changed byte or a hostile archive fails it,
 * --redact leaves no host or user name in any member, and diff/import read the bundle.
 */
#include <archive.h>
#include <archive_entry.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zlib.h>

#include <json-c/json.h>

#include "core/event.h"
#include "core/log.h"
#include "formats/bundle.h"
#include "formats/redact.h"
#include "sinks/store.h"
#include "testutil.h"

#define RECORDING CPUDRIFT_SRCDIR "/tests/fixtures/recordings/feature_drift.jsonl"

static char dir[256];

static const char *in_dir(const char *rel)
{
	static char buf[8][512];
	static int k;

	k = (k + 1) % 8;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, rel);
	return buf[k];
}

/* A shell command in the test's folder. */
static char *sh(const char *cmdline, int *rc)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), "cd %s && %s 2>&1", dir, cmdline);
	return tu_run(cmd, rc);
}

static char *cd(const char *args, int *rc)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), "cd %s && %s %s", dir, tu_build("cpudrift"), args);
	return tu_run(cmd, rc);
}

/* A store holding the recorded migration, replayed by the real daemon. */
static void setup(void)
{
	FILE *f;
	char *out;
	int rc;

	snprintf(dir, sizeof(dir), "/tmp/cpudrift-report-XXXXXX");
	cr_assert(mkdtemp(dir));
	f = fopen(in_dir("c.conf"), "w");
	cr_assert(f);
	fprintf(f, "journal = off\ntextfile_path = off\nhooks_dir = off\n");
	fclose(f);
	out = cd("run --config c.conf --state-dir st --replay " RECORDING " 2>&1", &rc);
	cr_assert_eq(rc, 0, "run --replay failed:\n%s", out);
	free(out);
}

static void teardown(void)
{
	if (dir[0])
		tu_rmtree(dir);
	dir[0] = 0;
}

TestSuite(report, .init = setup, .fini = teardown, .timeout = 120);

static struct json_object *report_json(const char *args, int *rc)
{
	char cmd[1024], *out;
	struct json_object *o;

	snprintf(cmd, sizeof(cmd), "report --json --state-dir st %s", args);
	out = cd(cmd, rc);
	o = json_tokener_parse(out);
	cr_assert_not_null(o, "report --json printed no JSON:\n%s", out);
	free(out);
	return o;
}

static bool array_has(struct json_object *a, const char *s)
{
	for (size_t i = 0; a && i < json_object_array_length(a); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(a, i)), s))
			return true;
	return false;
}

static struct json_object *path(struct json_object *o, const char *p)
{
	char buf[256], *save, *k;

	snprintf(buf, sizeof(buf), "%s", p);
	for (k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
		o = json_object_object_get(o, k);
	return o;
}

Test(report, names_the_loss_the_fault_and_the_verdict)
{
	int rc;
	struct json_object *r = report_json("", &rc), *c, *f;
	char *text;

	cr_expect_eq(rc, 1, "a critical window must exit 1");
	cr_expect_str_eq(json_object_get_string(path(r, "verdict.confidence")), "high");
	cr_expect_geq(json_object_array_length(path(r, "verdict.reasons")), 2);
	c = path(r, "change");
	cr_assert_not_null(c, "no change in the report");
	cr_expect_str_eq(json_object_get_string(path(c, "source")), "snapshots",
			 "the change is not taken from the bracketing snapshots");
	cr_expect(array_has(path(c, "removed"), "avx512f"), "avx512f is not listed as lost");
	cr_expect_eq(json_object_get_int(path(c, "level_before")), 4);
	cr_expect_eq(json_object_get_int(path(c, "level_after")), 3);
	cr_expect_str_eq(json_object_get_string(path(c, "before.brand")),
			 "Oxide Virtual Turin-like Processor");
	f = json_object_array_get_idx(path(r, "faults.list"), 0);
	cr_assert_not_null(f);
	cr_expect_str_eq(json_object_get_string(path(f, "class")), "feature-lost");
	cr_expect_str_eq(json_object_get_string(path(f, "feature")), "avx512f");
	cr_expect_str_eq(json_object_get_string(path(f, "mnemonic")), "vaddps");
	cr_expect_eq(json_object_get_int(path(f, "occurrences")), 20, "a fault storm is one site");
	cr_expect_eq(json_object_get_int(path(r, "casualties.total")), 1);
	cr_expect_str_eq(json_object_get_string(json_object_object_get(
				 json_object_array_get_idx(path(r, "casualties.list"), 0), "comm")),
			 "java");
	cr_expect_eq(json_object_get_int(path(r, "survived.total")), 0,
		     "a process that died later is not a survivor");
	cr_expect_eq(json_object_get_int(path(r, "exit.status")), 1);
	json_object_put(r);

	text = cd("report --state-dir st", &rc);
	cr_expect_eq(rc, 1);
	cr_expect(strstr(text, "Features lost (13): ") && strstr(text, "avx512f"), "%s", text);
	cr_expect(strstr(text, "Migration suspected, confidence high"), "%s", text);
	cr_expect(strstr(text, "java (pid 4242)") && strstr(text, "feature-lost"), "%s", text);
	cr_expect(strstr(text, "app.service"), "the casualty's unit is not named:\n%s", text);
	free(text);
}

/* A window before the migration holds nothing critical: exit 0, no change. */
Test(report, a_quiet_window_exits_0)
{
	int rc;
	struct json_object *r = report_json("--since @1795746000 --until @1795746100", &rc);

	cr_expect_eq(rc, 0);
	cr_expect_null(path(r, "change"));
	cr_expect_null(path(r, "verdict"));
	cr_expect_eq(json_object_get_int(path(r, "exit.status")), 0);
	json_object_put(r);
}

Test(report, bad_windows_exit_2)
{
	int rc;
	char *out = cd("report --state-dir st --since 25:00 2>&1", &rc);

	cr_expect_eq(rc, 2);
	cr_expect(strstr(out, "hour 25 is out of range"), "%s", out);
	free(out);
	out = cd("report --state-dir st --since @200 --until @100 2>&1", &rc);
	cr_expect_eq(rc, 2);
	cr_expect(strstr(out, "ends before it starts"), "%s", out);
	free(out);
}

/* --- the bundle ----------------------------------------------------------------------- */

static const char *const members[] = {
	"manifest.json",
	"summary.md",
	"report.html",
	"report.json",
	"snapshots/before.json",
	"snapshots/after.json",
	"snapshots/before.raw",
	"snapshots/after.raw",
	"diff.json",
	"events.jsonl",
	"probe_runs.jsonl",
	"timing.jsonl",
	"verdicts.json",
	"at_risk.json",
	"system.json",
	"config.txt",
	"status.json",
};

/* Every member's text, through libarchive (the same reader a support engineer uses). */
static int each_member(const char *bundle,
		       int (*cb)(const char *name, const char *data, size_t len, void *arg),
		       void *arg)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int n = 0;

	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	cr_assert_eq(archive_read_open_filename(a, bundle, 65536), ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		size_t len = (size_t)archive_entry_size(e);
		char *buf = malloc(len + 1);

		cr_assert_eq(archive_read_data(a, buf, len), (la_ssize_t)len);
		buf[len] = 0;
		cb(archive_entry_pathname(e), buf, len, arg);
		free(buf);
		n++;
	}
	archive_read_free(a);
	return n;
}

static int note_name(const char *name, const char *data, size_t len, void *arg)
{
	(void)data;
	(void)len;
	json_object_array_add(arg, json_object_new_string(name));
	return 0;
}

Test(report, evidence_holds_every_member_and_verifies)
{
	struct json_object *names = json_object_new_array(), *m;
	char *out, *manifest;
	size_t len;
	struct errbuf err;
	int rc;

	out = cd("evidence -o ev.tar.gz --state-dir st --config c.conf 2>&1", &rc);
	cr_assert_eq(rc, 0, "%s", out);
	free(out);
	each_member(in_dir("ev.tar.gz"), note_name, names);
	for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++)
		cr_expect(array_has(names, members[i]), "the bundle lacks %s", members[i]);
	cr_expect(array_has(names, "journal.jsonl") ||
			  (access("/var/log/journal", F_OK) && access("/run/log/journal", F_OK)),
		  "a machine with a journal gets journal.jsonl");
	json_object_put(names);
	cr_assert_eq(
		bundle_read_member(in_dir("ev.tar.gz"), "manifest.json", &manifest, &len, &err), 0,
		"%s", err.msg);
	m = json_tokener_parse(manifest);
	free(manifest);
	cr_expect_str_eq(json_object_get_string(path(m, "format")), "cpudrift-evidence");
	cr_expect_str_eq(json_object_get_string(path(m, "cpudrift_version")), CPUDRIFT_VERSION);
	cr_expect_eq(json_object_get_int(path(m, "version")), 1);
	cr_expect_not_null(path(m, "window.until_ns"));
	cr_expect_eq(strlen(json_object_get_string(
			     path(json_object_object_get(json_object_object_get(m, "members"),
							 "events.jsonl"),
				  "sha256"))),
		     64);
	json_object_put(m);

	out = cd("evidence verify ev.tar.gz", &rc);
	cr_expect_eq(rc, 0, "verify failed on a fresh bundle:\n%s", out);
	cr_expect(strstr(out, "intact"), "%s", out);
	free(out);
	/* The bundle's snapshots read back with diff and import. */
	out = cd("diff ev.tar.gz", &rc);
	cr_expect_eq(rc, 1, "%s", out);
	cr_expect(strstr(out, "feature.removed  avx512f"), "%s", out);
	free(out);
	out = cd("import ev.tar.gz:before", &rc);
	cr_expect_eq(rc, 0, "%s", out);
	cr_expect(strstr(out, "x86-64-v4"), "%s", out);
	free(out);
	out = cd("import ev.tar.gz:after", &rc);
	cr_expect(strstr(out, "x86-64-v3"), "%s", out);
	free(out);
	out = cd("diff ev.tar.gz:before ev.tar.gz:before", &rc);
	cr_expect_eq(rc, 0, "%s", out);
	free(out);
}

/* Any one changed byte of the archive fails verify (exit 1), never silently. */
Test(report, one_changed_byte_fails_verify)
{
	struct stat st;
	char *out;
	int rc, fd;

	out = cd("evidence -o ev.tar.gz --state-dir st --config c.conf 2>&1", &rc);
	cr_assert_eq(rc, 0, "%s", out);
	free(out);
	cr_assert_eq(stat(in_dir("ev.tar.gz"), &st), 0);
	/* Bytes at the start, the middle and near the end (the gzip trailer). */
	for (off_t at = 20; at < st.st_size; at += st.st_size / 5) {
		char cmd[256], b;

		snprintf(cmd, sizeof(cmd), "cp ev.tar.gz bad.tar.gz");
		out = sh(cmd, &rc);
		free(out);
		fd = open(in_dir("bad.tar.gz"), O_RDWR);
		cr_assert(fd >= 0);
		cr_assert_eq(pread(fd, &b, 1, at), 1);
		b ^= 0x01;
		cr_assert_eq(pwrite(fd, &b, 1, at), 1);
		close(fd);
		out = cd("evidence verify bad.tar.gz", &rc);
		cr_expect_eq(rc, 1, "a byte changed at %lld passed verify (exit %d):\n%s",
			     (long long)at, rc, out);
		cr_expect(strstr(out, "NOT intact"), "%s", out);
		free(out);
	}
	/* A truncated archive. */
	out = sh("head -c 3000 ev.tar.gz > cut.tar.gz", &rc);
	free(out);
	out = cd("evidence verify cut.tar.gz", &rc);
	cr_expect_eq(rc, 1, "a truncated gzip passed verify:\n%s", out);
	free(out);
}

/* A member whose content was replaced (a valid archive, a stale manifest). */
Test(report, a_replaced_member_fails_verify)
{
	char *out;
	int rc;

	out = cd("evidence -o ev.tar.gz --state-dir st --config c.conf 2>&1", &rc);
	cr_assert_eq(rc, 0, "%s", out);
	free(out);
	out = sh("mkdir x && tar xzf ev.tar.gz -C x && echo tampered >> x/events.jsonl && "
		 "tar czf re.tar.gz -C x $(tar tzf ev.tar.gz)",
		 &rc);
	cr_assert_eq(rc, 0, "%s", out);
	free(out);
	out = cd("evidence verify re.tar.gz", &rc);
	cr_expect_eq(rc, 1, "%s", out);
	cr_expect(strstr(out, "events.jsonl does not match its SHA-256"), "%s", out);
	free(out);
}

/* Hostile archives: each is refused with its reason, nothing is written anywhere. */
static void write_tar(const char *name, const char *member, int type, const char *link,
		      int64_t size, const char *data)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();

	archive_write_add_filter_gzip(a);
	archive_write_set_format_pax_restricted(a);
	cr_assert_eq(archive_write_open_filename(a, in_dir(name)), ARCHIVE_OK);
	archive_entry_set_pathname(e, member);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, 0644);
	if (link)
		archive_entry_set_symlink(e, link);
	archive_entry_set_size(e, type == AE_IFREG ? size : 0);
	archive_write_header(a, e);
	if (data)
		archive_write_data(a, data, strlen(data));
	archive_entry_free(e);
	archive_write_close(a);
	archive_write_free(a);
}

Test(report, hostile_archives_are_refused)
{
	static const struct {
		const char *file, *member;
		int type;
		const char *link, *says;
	} cases[] = {
		{ "trav.tar.gz", "../../etc/evil", AE_IFREG, NULL, "unsafe member name" },
		{ "abs.tar.gz", "/etc/evil", AE_IFREG, NULL, "unsafe member name" },
		{ "link.tar.gz", "manifest.json", AE_IFLNK, "/etc/shadow", "not a regular file" },
		{ "dir.tar.gz", "snapshots", AE_IFDIR, NULL, "not a regular file" },
	};
	char *out, cmd[256];
	int rc;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_tar(cases[i].file, cases[i].member, cases[i].type, cases[i].link, 4, "abcd");
		snprintf(cmd, sizeof(cmd), "evidence verify %s 2>&1", cases[i].file);
		out = cd(cmd, &rc);
		cr_expect_eq(rc, 1, "%s passed (exit %d):\n%s", cases[i].file, rc, out);
		cr_expect(strstr(out, cases[i].says), "%s: %s", cases[i].file, out);
		free(out);
	}
	/* A member that claims 300 MB: refused from its header, before any data is read. */
	{
		gzFile g = gzopen(in_dir("huge.tar.gz"), "wb");
		char h[512] = { 0 };
		unsigned sum = 0;

		cr_assert(g);
		strcpy(h, "huge.bin");
		memcpy(h + 100, "0000644", 7);
		memcpy(h + 108, "0000000", 7);
		memcpy(h + 116, "0000000", 7);
		memcpy(h + 124, "02260000000", 11); /* 300 MiB in octal */
		memcpy(h + 136, "00000000000", 11);
		h[156] = '0';
		memcpy(h + 257,
		       "ustar\0"
		       "00",
		       8);
		memset(h + 148, ' ', 8);
		for (int i = 0; i < 512; i++)
			sum += (unsigned char)h[i];
		{
			char ck[16];

			snprintf(ck, sizeof(ck), "%06o", sum & 0777777);
			memcpy(h + 148, ck, 7);
		}
		gzwrite(g, h, 512);
		gzclose(g);
		out = cd("evidence verify huge.tar.gz", &rc);
		cr_expect_eq(rc, 1, "%s", out);
		cr_expect(strstr(out, "too large"), "%s", out);
		free(out);
	}
	/* Not a bundle at all, and a bundle without a manifest. */
	write_tar("nomani.tar.gz", "summary.md", AE_IFREG, NULL, 4, "abcd");
	out = cd("evidence verify nomani.tar.gz", &rc);
	cr_expect_eq(rc, 1);
	cr_expect(strstr(out, "no manifest.json"), "%s", out);
	free(out);
	out = sh("echo plain > p.txt", &rc);
	free(out);
	out = cd("evidence verify p.txt", &rc);
	cr_expect_eq(rc, 1, "%s", out);
	free(out);
	out = cd("evidence verify /nonexistent.tar.gz 2>&1", &rc);
	cr_expect_eq(rc, 2, "%s", out);
	free(out);
	cr_expect_neq(access("/etc/evil", F_OK), 0);
}

/* --- redaction ------------------------------------------------------------------------ */

struct leak {
	const char *host;
	int found;
	char where[256];
};

static bool word_at(const char *s, size_t i, size_t n, size_t len)
{
	bool l =
		i == 0 || !(isalnum((unsigned char)s[i - 1]) || s[i - 1] == '_' || s[i - 1] == '-');
	bool r = i + n == len ||
		 !(isalnum((unsigned char)s[i + n]) || s[i + n] == '_' || s[i + n] == '-');

	return l && r;
}

static int find_leak(const char *name, const char *data, size_t len, void *arg)
{
	struct leak *l = arg;
	size_t n = strlen(l->host);

	for (size_t i = 0; i + n <= len; i++)
		if (!strncasecmp(data + i, l->host, n) && word_at(data, i, n, len)) {
			l->found++;
			snprintf(l->where, sizeof(l->where), "%s: ...%.60s...", name,
				 data + (i > 20 ? i - 20 : 0));
			break;
		}
	if (memmem(data, len, "/home/alice", 11)) {
		l->found++;
		snprintf(l->where, sizeof(l->where), "%s: /home/alice", name);
	}
	return 0;
}

Test(report, redact_leaves_no_host_or_user_name)
{
	struct utsname u;
	struct errbuf err;
	struct store *s;
	struct event *e;
	struct leak l = { 0 };
	char *out;
	int rc;

	cr_assert_eq(uname(&u), 0);
	/* Put the host name and a home path where a process would put them. */
	cr_assert_eq(store__new(&s, in_dir("st"), 0, &err), 0, "%s", err.msg);
	e = event__new(EV_FAULT_SIGILL, SEV_NOTICE);
	snprintf(e->subject, sizeof(e->subject), "%.60s", u.nodename);
	snprintf(e->summary, sizeof(e->summary), "/home/alice/bin/%.60s-tool on %.60s died",
		 u.nodename, u.nodename);
	json_object_object_add(e->body, "exe", json_object_new_string("/home/alice/bin/tool"));
	cr_assert_eq(store_add_event(s, e, NULL), 0);
	event__free(e);
	store__free(s);

	out = cd("evidence -o plain.tar.gz --state-dir st --config c.conf 2>&1", &rc);
	cr_assert_eq(rc, 0, "%s", out);
	free(out);
	l.host = u.nodename;
	each_member(in_dir("plain.tar.gz"), find_leak, &l);
	cr_expect_gt(l.found, 0,
		     "the unredacted bundle should hold the host name (a test that "
		     "cannot fail otherwise)");

	out = cd("evidence --redact -o red.tar.gz --state-dir st --config c.conf 2>&1", &rc);
	cr_assert_eq(rc, 0, "%s", out);
	free(out);
	memset(&l, 0, sizeof(l));
	l.host = u.nodename;
	each_member(in_dir("red.tar.gz"), find_leak, &l);
	cr_expect_eq(l.found, 0, "host or user name '%s' left in %s", u.nodename, l.where);
	out = cd("evidence verify red.tar.gz", &rc);
	cr_expect_eq(rc, 0, "%s", out);
	free(out);
}

Test(report, redactor_rules)
{
	struct redactor *r = redact__new();
	const char *in = "vm kvm-clock /home/bob/x VM.example.com host=vm, alice's /home/alice";
	char *out;

	cr_assert(r);
	cr_assert_eq(redact_add(r, "vm", "HOST"), 0);
	cr_assert_eq(redact_add(r, "vm.example.com", "HOST"), 0);
	cr_assert_eq(redact_add(r, "alice", "USER1"), 0);
	out = redact_text(r, in, strlen(in), NULL);
	cr_expect_str_eq(out, "HOST kvm-clock /home/USER/x HOST host=HOST, USER1's /home/USER");
	free(out);
	redact__free(r);
}

/* --- size bound ----------------------------------------------------------------------- */

Test(report, a_small_bound_cuts_and_says_so)
{
	struct json_object *m;
	char *out, *manifest;
	size_t len;
	struct errbuf err;
	int rc;

	struct store *s;
	struct json_object *cuts, *c = NULL;

	/* 6,000 more events (some 2 MB of JSON): a 1 MiB bound cannot keep them all. */
	cr_assert_eq(store__new(&s, in_dir("st"), 0, &err), 0, "%s", err.msg);
	cr_assert_eq(store_begin(s), 0);
	for (int i = 0; i < 6000; i++) {
		struct event *e = event__new(EV_TIMING_STEAL, SEV_INFO);

		snprintf(e->summary, sizeof(e->summary), "steal sample %d %0150d", i, i);
		cr_assert_eq(store_add_event(s, e, NULL), 0);
		event__free(e);
	}
	cr_assert_eq(store_commit(s), 0);
	store__free(s);
	out = cd("evidence --max-size 1M -o small.tar.gz --state-dir st --config c.conf 2>&1", &rc);
	cr_assert_eq(rc, 0, "%s", out);
	free(out);
	out = cd("evidence --max-size 12 -o x.tar.gz --state-dir st 2>&1", &rc);
	cr_expect_eq(rc, 2, "%s", out);
	cr_expect(strstr(out, "out of range"), "%s", out);
	free(out);
	cr_assert_eq(
		bundle_read_member(in_dir("small.tar.gz"), "manifest.json", &manifest, &len, &err),
		0, "%s", err.msg);
	m = json_tokener_parse(manifest);
	free(manifest);
	cr_expect_eq(json_object_get_int64(path(m, "max_bytes")), 1 << 20);
	cuts = path(m, "cuts");
	for (size_t i = 0; i < json_object_array_length(cuts); i++)
		if (!strcmp(json_object_get_string(
				    path(json_object_array_get_idx(cuts, i), "member")),
			    "events.jsonl"))
			c = json_object_array_get_idx(cuts, i);
	cr_assert_not_null(c, "the manifest does not say events were cut: %s",
			   json_object_get_string(cuts));
	cr_expect_gt(json_object_get_int64(path(c, "kept")), 0);
	cr_expect_lt(json_object_get_int64(path(c, "kept")),
		     json_object_get_int64(path(c, "total")));
	cr_expect_geq(json_object_get_int64(path(c, "total")), 6000);
	json_object_put(m);
	out = sh("gzip -dc small.tar.gz | wc -c", &rc);
	cr_expect_leq(atol(out), (1 << 20) + (64 << 10), "the members exceed the bound: %s", out);
	free(out);
	out = cd("evidence verify small.tar.gz", &rc);
	cr_expect_eq(rc, 0, "%s", out);
	free(out);
}

/* Names from hostile processes reach the page as text and the terminal escaped. */
Test(report, hostile_names_are_escaped_in_html_and_text)
{
	struct errbuf err;
	struct store *s;
	struct event *e;
	char *out, *html;
	size_t len;
	int rc;

	cr_assert_eq(store__new(&s, in_dir("st"), 0, &err), 0, "%s", err.msg);
	e = event__new(EV_FAULT_SIGILL, SEV_CRITICAL);
	e->pid = 31337;
	snprintf(e->subject, sizeof(e->subject), "<script>x</script>");
	snprintf(e->summary, sizeof(e->summary), "\x1b]0;owned\x07<img src=http://evil/>");
	json_object_object_add(e->body, "pid", json_object_new_int(31337));
	json_object_object_add(e->body, "comm",
			       json_object_new_string("<script>alert(1)</script>"));
	json_object_object_add(e->body, "exe", json_object_new_string("/tmp/\x1b[2J\"'&"));
	json_object_object_add(e->body, "fatal", json_object_new_boolean(true));
	cr_assert_eq(store_add_event(s, e, NULL), 0);
	event__free(e);
	store__free(s);

	out = cd("report --state-dir st 2>&1", &rc);
	cr_expect_null(strchr(out, '\x1b'), "an escape reached the terminal");
	cr_expect_null(strchr(out, '\x07'));
	cr_expect(strstr(out, "/tmp/\\e[2J"), "%s", out);
	free(out);
	out = cd("evidence -o h.tar.gz --state-dir st --config c.conf 2>&1", &rc);
	cr_assert_eq(rc, 0, "%s", out);
	free(out);
	cr_assert_eq(bundle_read_member(in_dir("h.tar.gz"), "report.html", &html, &len, &err), 0,
		     "%s", err.msg);
	cr_expect_null(strstr(html, "<script"), "a script tag from the store reached the page");
	cr_expect_null(strstr(html, "<img"), "an img tag from the store reached the page");
	cr_expect_null(strchr(html, '\x1b'));
	cr_expect(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"), "the name is not shown");
	free(html);
}

/* --- one incident, selected by its ID ------------------------------------------------------ */

/* The recording's incident: every issue in the store names it. */
static void the_incident(const char *state_dir, char *id, size_t size)
{
	char cmd[512], *out, *save = NULL;
	int rc;

	id[0] = 0;
	snprintf(cmd, sizeof(cmd), "events --state-dir %s --kind migration.suspected --json",
		 state_dir);
	out = cd(cmd, &rc);
	for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		struct json_object *o = json_tokener_parse(l);
		const char *v = json_object_get_string(path(o, "body.incident_id"));

		if (v && !id[0])
			snprintf(id, size, "%s", v);
		json_object_put(o);
	}
	free(out);
	cr_assert(id[0], "the recorded migration opened no incident");
}

/* The entry of @list whose @key is the string @v, or NULL. */
static struct json_object *with(struct json_object *list, const char *key, const char *v)
{
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		struct json_object *o = json_object_array_get_idx(list, i);
		const char *s = json_object_get_string(json_object_object_get(o, key));

		if (s && !strcmp(s, v))
			return o;
	}
	return NULL;
}

/* The recording's incident: 02:24:01 (the drift) to 02:24:10.950 (the last fault), open. */
#define REC_BEFORE_NS 1795746001000000000LL /* the snapshot before the drift */
#define REC_FIRST_NS 1795746241000000000LL
#define REC_LAST_NS 1795746250950000000LL

Test(report, an_incident_speaks_for_itself)
{
	struct json_object *r, *p;
	char id[64], args[256], *out;
	int rc;

	the_incident("st", id, sizeof(id));
	snprintf(args, sizeof(args), "--incident %s", id);
	r = report_json(args, &rc);
	cr_expect_eq(rc, 1, "an incident with a casualty is critical");
	cr_expect_str_eq(json_object_get_string(path(r, "window.incident")), id);
	cr_expect_str_eq(json_object_get_string(path(r, "incident.id")), id);
	cr_expect_str_eq(json_object_get_string(path(r, "incident.state")), "open",
			 "a replay closes nothing");
	cr_expect_str_eq(json_object_get_string(path(r, "incident.confidence")), "high");
	cr_expect_eq(json_object_get_int64(path(r, "incident.first_evidence_real_ns")),
		     REC_FIRST_NS);
	/* Its window takes in the snapshot before it (4 minutes: within the join window)... */
	cr_expect_eq(json_object_get_int64(path(r, "window.since_ns")), REC_BEFORE_NS);
	cr_expect_leq(json_object_get_int64(path(r, "window.until_ns")),
		      REC_LAST_NS + 300 * 1000000000LL);
	/* ...so the change is the snapshots' and the loss is named. */
	cr_expect_str_eq(json_object_get_string(path(r, "change.source")), "snapshots");
	cr_expect(array_has(path(r, "change.removed"), "avx512f"));
	/* Its own reasons, its casualty with the unit its fault names, its history. */
	cr_expect_not_null(with(path(r, "incident.reasons"), "reason", "cpuid.drift"));
	cr_expect_not_null(with(path(r, "incident.reasons"), "reason", "fault.sigill/migration"));
	p = with(path(r, "incident.casualties"), "comm", "java");
	cr_assert_not_null(p, "no casualty: %s", json_object_to_json_string(path(r, "incident")));
	cr_expect_eq(json_object_get_int(path(p, "pid")), 4242);
	cr_expect_str_eq(json_object_get_string(path(p, "feature")), "avx512f");
	cr_expect_str_eq(json_object_get_string(path(p, "unit")), "app.service");
	cr_expect_eq(json_object_array_length(path(r, "incident.survived")), 0);
	cr_expect_eq(json_object_get_int(path(r, "incident.history.total")), 3,
		     "the drift, the first fault and the casualty each issued it");
	cr_expect_str_eq(json_object_get_string(json_object_object_get(
				 json_object_array_get_idx(path(r, "incident.history.list"), 1),
				 "previous_confidence")),
			 "medium");
	cr_expect_eq(json_object_get_int(path(r, "open_incidents.total")), 0);
	json_object_put(r);

	snprintf(args, sizeof(args), "report --state-dir st --incident %s", id);
	out = cd(args, &rc);
	snprintf(args, sizeof(args), "## Incident %s (open)", id);
	cr_expect(strstr(out, args), "%s", out);
	cr_expect(strstr(out, "pid 4242 java /usr/bin/java in app.service") &&
			  strstr(out, "confidence high, was medium") &&
			  strstr(out, "Confidence history (3 stored)"),
		  "%s", out);
	free(out);

	/* Without a selection, the open incident is pointed to. */
	r = report_json("", &rc);
	cr_expect_str_eq(
		json_object_get_string(json_object_object_get(
			json_object_array_get_idx(path(r, "open_incidents.list"), 0), "id")),
		id);
	cr_expect_null(path(r, "incident"));
	json_object_put(r);
	out = cd("report --state-dir st", &rc);
	snprintf(args, sizeof(args), "`cpudrift report --incident %s`", id);
	cr_expect(strstr(out, args), "the open incident is not pointed to:\n%s", out);
	free(out);
}

Test(report, an_unknown_or_outside_incident_exits_2)
{
	struct json_object *r;
	char id[64], args[256], *out;
	int rc;

	out = cd("report --state-dir st --incident 0f6c2d4e-1 2>&1", &rc);
	cr_expect_eq(rc, 2);
	cr_expect(strstr(out, "no incident '0f6c2d4e-1' in the store"), "%s", out);
	free(out);
	out = cd("report --state-dir st --incident 'x;rm' 2>&1", &rc);
	cr_expect_eq(rc, 2);
	cr_expect(strstr(out, "is not an incident ID"), "%s", out);
	free(out);
	out = cd("report --state-dir st --incident '' 2>&1", &rc);
	cr_expect_eq(rc, 2, "%s", out);
	free(out);
	out = cd("evidence --state-dir st --incident 0f6c2d4e-1 -o none.tar.gz 2>&1", &rc);
	cr_expect_eq(rc, 2);
	cr_expect(strstr(out, "no incident '0f6c2d4e-1'"), "%s", out);
	cr_expect(access(in_dir("none.tar.gz"), F_OK), "a bundle for no incident was written");
	free(out);

	/* --since/--until narrow the incident's window; outside it is an error. */
	the_incident("st", id, sizeof(id));
	snprintf(args, sizeof(args), "report --state-dir st --incident %s --until @1795746000 2>&1",
		 id);
	out = cd(args, &rc);
	cr_expect_eq(rc, 2);
	cr_expect(strstr(out, "lies outside --since/--until"), "%s", out);
	free(out);
	snprintf(args, sizeof(args), "--incident %s --since @1795746245", id);
	r = report_json(args, &rc);
	cr_expect_geq(json_object_get_int64(path(r, "window.since_ns")), 1795746245000000000LL);
	cr_expect_null(path(r, "change"), "the drift at 02:24:01 is outside the narrowed window");
	cr_expect_str_eq(json_object_get_string(path(r, "incident.id")), id,
			 "the incident still speaks for itself");
	json_object_put(r);
}

/* Move every monotonic time of @o by @d: a second migration of the same boot. */
static void shift_mono(struct json_object *o, int64_t d)
{
	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			shift_mono(json_object_array_get_idx(o, i), d);
		return;
	}
	if (!json_object_is_type(o, json_type_object))
		return;
	json_object_object_foreach(o, k, v)
	{
		if ((!strcmp(k, "mono_ns") || !strcmp(k, "monotonic_ns")) &&
		    json_object_is_type(v, json_type_int))
			json_object_set_int64(v, json_object_get_int64(v) + d);
		else
			shift_mono(v, d);
	}
}

/* Another incident at the same wall-clock times: its issues are not this one's. */
Test(report, other_incidents_issues_are_left_out)
{
	FILE *in = fopen(RECORDING, "r"), *f = fopen(in_dir("second.jsonl"), "w");
	struct json_object *r;
	char id[64], args[256], *line = NULL, *out;
	size_t cap = 0;
	int rc;

	cr_assert(in && f);
	while (getline(&line, &cap, in) > 0) {
		struct json_object *o = json_tokener_parse(line);

		cr_assert_not_null(o);
		shift_mono(o, 1000000000LL);
		fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	}
	free(line);
	fclose(in);
	fclose(f);
	the_incident("st", id, sizeof(id));
	out = cd("run --config c.conf --state-dir st --replay second.jsonl 2>&1", &rc);
	cr_assert_eq(rc, 0, "%s", out);
	free(out);
	r = report_json("", &rc);
	cr_expect_geq(json_object_get_int(path(r, "verdicts.total")), 6, "both incidents' issues");
	cr_expect_geq(json_object_get_int(path(r, "open_incidents.total")), 2);
	json_object_put(r);
	snprintf(args, sizeof(args), "--incident %s", id);
	r = report_json(args, &rc);
	cr_expect_eq(json_object_get_int(path(r, "verdicts.total")), 3, "only its own issues");
	for (size_t i = 0; i < json_object_array_length(path(r, "verdicts.list")); i++)
		cr_expect(strstr(
			json_object_get_string(path(
				json_object_array_get_idx(path(r, "verdicts.list"), i), "summary")),
			"migration suspected"));
	cr_expect_eq(json_object_get_int(path(r, "incident.history.total")), 3);
	json_object_put(r);
}

Test(report, evidence_for_an_incident_holds_it)
{
	struct json_object *names = json_object_new_array(), *m;
	char id[64], args[256], *out, *data;
	size_t len;
	struct errbuf err;
	int rc;

	the_incident("st", id, sizeof(id));
	snprintf(args, sizeof(args),
		 "evidence --state-dir st --config c.conf --incident %s "
		 "-o inc.tar.gz 2>&1",
		 id);
	out = cd(args, &rc);
	cr_assert_eq(rc, 0, "%s", out);
	free(out);
	each_member(in_dir("inc.tar.gz"), note_name, names);
	for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++)
		cr_expect(array_has(names, members[i]), "the bundle lacks %s", members[i]);
	cr_expect(array_has(names, "incident.json"));
	json_object_put(names);
	cr_assert_eq(bundle_read_member(in_dir("inc.tar.gz"), "incident.json", &data, &len, &err),
		     0, "%s", err.msg);
	m = json_tokener_parse(data);
	free(data);
	cr_expect_str_eq(json_object_get_string(path(m, "id")), id);
	cr_expect_str_eq(json_object_get_string(path(m, "state")), "open");
	cr_expect_not_null(path(m, "tally.reasons"), "incident.json is the stored incident");
	json_object_put(m);
	cr_assert_eq(bundle_read_member(in_dir("inc.tar.gz"), "manifest.json", &data, &len, &err),
		     0, "%s", err.msg);
	m = json_tokener_parse(data);
	free(data);
	cr_expect_str_eq(json_object_get_string(path(m, "window.incident")), id);
	cr_expect_eq(json_object_get_int64(path(m, "window.since_ns")), REC_BEFORE_NS);
	cr_expect_not_null(json_object_object_get(path(m, "members"), "incident.json"));
	json_object_put(m);
	out = cd("evidence verify inc.tar.gz", &rc);
	cr_expect_eq(rc, 0, "%s", out);
	free(out);

	/* A plain window holds no incident.json and names none. */
	out = cd("evidence --state-dir st --config c.conf -o win.tar.gz 2>&1", &rc);
	cr_assert_eq(rc, 0, "%s", out);
	free(out);
	cr_expect_eq(bundle_read_member(in_dir("win.tar.gz"), "incident.json", &data, &len, &err),
		     -ENOENT);
	cr_assert_eq(bundle_read_member(in_dir("win.tar.gz"), "manifest.json", &data, &len, &err),
		     0, "%s", err.msg);
	m = json_tokener_parse(data);
	free(data);
	cr_expect_null(path(m, "window.incident"));
	json_object_put(m);
}
