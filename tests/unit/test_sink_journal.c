// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The journald sink: one fixed MESSAGE_ID per event kind, each explained by the catalog
 * (compiled with journalctl --update-catalog), the fields of an entry, and an entry sent
 * to a real systemd-journald.  PID 1 is not systemd on the project machines, so the test
 * starts its own journald in a private mount namespace with tmpfs over /run/systemd,
 * /run/log and /var/log/journal: the real journal of the machine is never touched.
 */
#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <systemd/sd-journal.h>

#include "sinks/sink_journal.h"
#include "testutil.h"

#define CATALOG CPUDRIFT_SRCDIR "/packaging/catalog/cpudrift.catalog"
#define JOURNALD TU_JOURNALD
#define JOURNALCTL "/usr/bin/journalctl"

TestSuite(sink_journal);

static char *slurp(const char *path)
{
	char *buf = tu_read_file(path);

	cr_assert(buf && *buf, "cannot read %s, or it is empty", path);
	return buf;
}

Test(sink_journal, every_kind_has_its_own_message_id_in_the_catalog)
{
	char *cat = slurp(CATALOG), needle[64];
	int entries = 0;

	for (int k = 0; k < EV__COUNT; k++) {
		const char *id = journal_message_id(k);

		cr_expect_eq(strlen(id), 32);
		for (const char *p = id; *p; p++)
			cr_expect(isxdigit((unsigned char)*p) && !isupper((unsigned char)*p), "%s",
				  id);
		cr_expect_str_neq(id, "00000000000000000000000000000000", "%s has no MESSAGE_ID",
				  event_kind_names[k]);
		for (int j = 0; j < k; j++)
			cr_expect_str_neq(id, journal_message_id(j), "%s and %s share an id",
					  event_kind_names[k], event_kind_names[j]);
		snprintf(needle, sizeof(needle), "\n-- %s\nSubject: ", id);
		cr_expect(strstr(cat, needle), "the catalog does not explain %s (%s)", id,
			  event_kind_names[k]);
	}
	for (const char *p = cat; (p = strstr(p, "\n-- ")); p++)
		entries++;
	cr_expect_eq(entries, EV__COUNT, "the catalog has %d entries for %d kinds", entries,
		     EV__COUNT);
	free(cat);
}

/* journalctl itself compiles the catalog and lists every id. */
Test(sink_journal, catalog_compiles)
{
	char root[] = "/tmp/cpudrift-catalog-XXXXXX", cmd[512], line[256];
	int found = 0;
	FILE *p;

	if (access(JOURNALCTL, X_OK))
		cr_skip_test("journalctl is missing");
	cr_assert(mkdtemp(root));
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s/usr/lib/systemd/catalog %s/var/lib/systemd/catalog && "
		 "cp %s %s/usr/lib/systemd/catalog/ && %s --root=%s --update-catalog 2>&1 && "
		 "%s --root=%s --list-catalog 2>&1",
		 root, root, CATALOG, root, JOURNALCTL, root, JOURNALCTL, root);
	p = popen(cmd, "r");
	cr_assert(p);
	while (fgets(line, sizeof(line), p))
		for (int k = 0; k < EV__COUNT; k++)
			if (!strncmp(line, journal_message_id(k), 32) && strstr(line, "cpudrift: "))
				found++;
	cr_expect_eq(pclose(p), 0);
	cr_expect_eq(found, EV__COUNT, "journalctl lists %d of %d ids", found, EV__COUNT);
	tu_rmtree(root);
}

static struct event *sample_event(void)
{
	struct event *e = event__new(EV_FAULT_SIGILL, SEV_CRITICAL);

	cr_assert(e);
	e->pid = 4242;
	snprintf(e->subject, sizeof(e->subject), "app");
	snprintf(e->summary, sizeof(e->summary), "pid 4242 (app) died on vpaddd: avx2 lost");
	json_object_object_add(e->body, "feature", json_object_new_string("avx2"));
	json_object_object_add(e->body, "class", json_object_new_string("migration_mismatch"));
	json_object_object_add(e->body, "confidence", json_object_new_double(0.9));
	json_object_object_add(e->body, "comm", json_object_new_string("app"));
	return e;
}

static const char *const want_fields[] = {
	"MESSAGE=pid 4242 (app) died on vpaddd: avx2 lost",
	"PRIORITY=2",
	"CPUDRIFT_KIND=fault.sigill",
	"CPUDRIFT_SEVERITY=critical",
	"CPUDRIFT_FEATURE=avx2",
	"CPUDRIFT_PID=4242",
	"CPUDRIFT_CLASS=migration_mismatch",
	"CPUDRIFT_CONFIDENCE=0.9",
	"CPUDRIFT_COMM=app",
};

Test(sink_journal, entry_fields)
{
	struct event *e = sample_event();
	struct journal_entry j;
	char mid[64];

	cr_assert_eq(journal_entry_build(e, &j), 0);
	snprintf(mid, sizeof(mid), "MESSAGE_ID=%s", journal_message_id(EV_FAULT_SIGILL));
	for (size_t w = 0; w <= sizeof(want_fields) / sizeof(want_fields[0]); w++) {
		const char *want =
			w < sizeof(want_fields) / sizeof(want_fields[0]) ? want_fields[w] : mid;
		bool found = false;

		for (size_t i = 0; i < j.n; i++)
			found |= !strcmp(j.field[i], want);
		cr_expect(found, "field %s missing", want);
	}
	/* Fields an event does not have are left out, not sent empty. */
	journal_entry_free(&j);
	e->pid = 0;
	json_object_object_del(e->body, "class");
	cr_assert_eq(journal_entry_build(e, &j), 0);
	for (size_t i = 0; i < j.n; i++) {
		cr_expect(strncmp(j.field[i], "CPUDRIFT_PID=", 13), "%s", j.field[i]);
		cr_expect(strncmp(j.field[i], "CPUDRIFT_CLASS=", 15), "%s", j.field[i]);
	}
	journal_entry_free(&j);
	cr_expect_eq(journal_priority(SEV_INFO), LOG_INFO);
	cr_expect_eq(journal_priority(SEV_WARNING), LOG_WARNING);
	event__free(e);
}

/* In the child: private /run and journal folders, our own journald, one entry, read back. */
static int journald_child(int msgfd)
{
	struct event *e = sample_event();
	sd_journal *j = NULL;
	pid_t jd;
	int r, found = 0;

#define SAY(...) dprintf(msgfd, __VA_ARGS__)
	r = tu_private_journald(msgfd, &jd);
	if (r)
		return r;
	r = sink_journal_send(e);
	if (r) {
		SAY("sink_journal_send: %s", strerror(-r));
		kill(jd, SIGKILL);
		return 1;
	}
	/* journald writes asynchronously: look for the entry for up to 3 s. */
	for (int tries = 0; tries < 60 && !found; tries++) {
		const void *d;
		size_t len;

		usleep(50000);
		if (sd_journal_open_directory(&j, "/run/log/journal", 0) < 0)
			continue;
		sd_journal_add_match(j, "CPUDRIFT_KIND=fault.sigill", 0);
		SD_JOURNAL_FOREACH(j)
		{
			char mid[64];

			found = 1;
			snprintf(mid, sizeof(mid), "MESSAGE_ID=%s",
				 journal_message_id(EV_FAULT_SIGILL));
			if (sd_journal_get_data(j, "MESSAGE_ID", &d, &len) < 0 ||
			    strncmp(d, mid, len) || len != strlen(mid)) {
				SAY("wrong or missing MESSAGE_ID");
				found = -1;
			}
			for (size_t i = 0;
			     found > 0 && i < sizeof(want_fields) / sizeof(want_fields[0]); i++) {
				char name[64];

				sscanf(want_fields[i], "%63[^=]", name);
				if (sd_journal_get_data(j, name, &d, &len) < 0 ||
				    len != strlen(want_fields[i]) ||
				    strncmp(d, want_fields[i], len)) {
					SAY("field %s missing or different in the journal",
					    want_fields[i]);
					found = -1;
				}
			}
			break;
		}
		sd_journal_close(j);
	}
	kill(jd, SIGTERM);
	waitpid(jd, NULL, 0);
	event__free(e);
	if (!found)
		SAY("the entry never appeared in the journal");
	return found > 0 ? 0 : 1;
#undef SAY
}

Test(sink_journal, entry_reaches_a_real_journald)
{
	char msg[512] = "";
	int fds[2], status;
	ssize_t n;
	pid_t pid;

	if (geteuid() != 0)
		cr_skip_test("not root: cannot start a private systemd-journald");
	if (access(JOURNALD, X_OK))
		cr_skip_test("%s is missing", JOURNALD);
	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		_exit(journald_child(fds[1]));
	}
	close(fds[1]);
	n = read(fds[0], msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = 0;
	close(fds[0]);
	waitpid(pid, &status, 0);
	cr_assert(WIFEXITED(status), "the journald test child crashed");
	if (WEXITSTATUS(status) == 77)
		cr_skip_test("%s", msg);
	cr_expect_eq(WEXITSTATUS(status), 0, "%s", msg);
}
