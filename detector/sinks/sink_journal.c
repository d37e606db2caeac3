// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "sinks/sink.h"
#include "sinks/sink_journal.h"

/* Fixed forever: operators match on them.  Generated once from /proc/sys/kernel/random/uuid. */
static const char *const message_ids[EV__COUNT] = {
	[EV_CPUID_DRIFT] = "c11e669b0a834808ab058910515c002a",
	[EV_CPUID_BOOT_DRIFT] = "d1da4ecaad8d48f2a2af73bf580b4c77",
	[EV_CPUID_VCPU_MISMATCH] = "90c834d35bec45f8bf061a1bcf757417",
	[EV_PROBE_MISMATCH] = "187eb20ddd574402953c16d183b45b49",
	[EV_PROBE_SHADOW_DRIFT] = "8ecfad3fbd8049ce93fb540bcc480834",
	[EV_FAULT_SIGILL] = "c64b49fa45ff44b798b0c78908b51837",
	[EV_TIMING_STALL] = "87c0a61d0a7040f3a3d094c1f757b0c3",
	[EV_TIMING_TSC_RATE] = "bafe6fab169241c888198a6b8a1f90f0",
	[EV_TIMING_CLOCK_STEP] = "743ef0db5fcc49998045c53cc6e82742",
	[EV_TIMING_CLOCKSOURCE] = "a1db6d4291cb44e7bb0d80233c234377",
	[EV_TIMING_STEAL] = "b5b188605fb24d86a54ecf7a1498dbb1",
	[EV_TIMING_CPUID_LATENCY] = "9786762bee264aa89121cd6e92dcaeeb",
	[EV_MIGRATION_SUSPECTED] = "c992412ede174f228973976e220c61b0",
	[EV_MIGRATION_RESOLVED] = "a012f69451f74f3ebe52a54b387e2af6",
	[EV_WATCHER_FORGED] = "b85ff70ac918400faa73b99d40a43742",
	[EV_WATCHER_LOSS] = "9bcf84fc87fb42679268ebbba0b5f652",
	[EV_STORE_RECOVERED] = "0daa5109c3d94ce8b7d8d964c1942721",
};

static const int priorities[] = {
	[SEV_INFO] = LOG_INFO,
	[SEV_NOTICE] = LOG_NOTICE,
	[SEV_WARNING] = LOG_WARNING,
	[SEV_CRITICAL] = LOG_CRIT,
};

const char *journal_message_id(enum event_kind kind)
{
	/* A kind added to event.h without an id here gets the all-zero id until it has one. */
	return (unsigned)kind < EV__COUNT && message_ids[kind] ? message_ids[kind] :
								 "00000000000000000000000000000000";
}

int journal_priority(enum severity sev)
{
	return (unsigned)sev <= SEV_CRITICAL ? priorities[sev] : LOG_WARNING;
}

static int add(struct journal_entry *j, const char *name, const char *value)
{
	if (!value || !*value)
		return 0;
	if (j->n == JOURNAL_MAX_FIELDS || asprintf(&j->field[j->n], "%s=%s", name, value) < 0)
		return -ENOMEM;
	j->n++;
	return 0;
}

int journal_entry_build(const struct event *e, struct journal_entry *out)
{
	struct sink_fields f;
	char prio[4];
	int r;

	memset(out, 0, sizeof(*out));
	sink_fields_get(e, &f);
	snprintf(prio, sizeof(prio), "%d", journal_priority(e->sev));
	r = add(out, "MESSAGE", *e->summary ? e->summary : event_kind_descs[e->kind]);
	r = r ?: add(out, "MESSAGE_ID", journal_message_id(e->kind));
	r = r ?: add(out, "PRIORITY", prio);
	r = r ?: add(out, "SYSLOG_IDENTIFIER", "cpudrift");
	r = r ?: add(out, "CPUDRIFT_KIND", f.kind);
	r = r ?: add(out, "CPUDRIFT_SEVERITY", f.severity);
	r = r ?: add(out, "CPUDRIFT_SUBJECT", e->subject);
	r = r ?: add(out, "CPUDRIFT_FEATURE", f.feature);
	r = r ?: add(out, "CPUDRIFT_PID", f.pid);
	r = r ?: add(out, "CPUDRIFT_COMM", f.comm);
	r = r ?: add(out, "CPUDRIFT_CLASS", f.class_);
	r = r ?: add(out, "CPUDRIFT_CONFIDENCE", f.confidence);
	r = r ?: add(out, "CPUDRIFT_INCIDENT", f.incident);
	if (r)
		journal_entry_free(out);
	return r;
}

void journal_entry_free(struct journal_entry *j)
{
	for (size_t i = 0; i < j->n; i++)
		free(j->field[i]);
	j->n = 0;
}

int sink_journal_send(const struct event *e)
{
	struct iovec iov[JOURNAL_MAX_FIELDS];
	struct journal_entry j;
	int r = journal_entry_build(e, &j);

	if (r)
		return r;
	for (size_t i = 0; i < j.n; i++) {
		iov[i].iov_base = j.field[i];
		iov[i].iov_len = strlen(j.field[i]);
	}
	r = sd_journal_sendv(iov, (int)j.n);
	journal_entry_free(&j);
	if (r < 0)
		return r;
	/*
	 * libsystemd (252) reports success when the socket is missing (ENOENT: "fail silently
	 * if the journal is not available"); the event then went nowhere, and that is said.
	 */
	return access(SINK_JOURNAL_SOCKET, F_OK) ? -ENOENT : 0;
}
