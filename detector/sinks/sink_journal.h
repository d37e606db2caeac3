/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * journald sink: one structured entry per event, with a fixed MESSAGE_ID per event kind
 * (explained in packaging/catalog/cpudrift.catalog), PRIORITY from the severity and
 * CPUDRIFT_* fields that `journalctl CPUDRIFT_KIND=fault.sigill` can filter on.
 */
#ifndef CPUDRIFT_SINK_JOURNAL_H
#define CPUDRIFT_SINK_JOURNAL_H

#include <stddef.h>

#include "core/event.h"

#define JOURNAL_MAX_FIELDS 16
/* journald's native socket, where sd_journal_sendv sends. */
#define SINK_JOURNAL_SOCKET "/run/systemd/journal/socket"

/** The 32-hex-digit MESSAGE_ID of @kind. */
const char *journal_message_id(enum event_kind kind);

/** The syslog priority (LOG_CRIT..LOG_INFO) of @sev. */
int journal_priority(enum severity sev);

/* The fields of one entry, "NAME=value" each, owned by the struct. */
struct journal_entry {
	size_t n;
	char *field[JOURNAL_MAX_FIELDS];
};

/** Build the fields of @e.  0 or -ENOMEM; free with journal_entry_free(). */
int journal_entry_build(const struct event *e, struct journal_entry *out);
void journal_entry_free(struct journal_entry *j);

/**
 * Send @e to the journal.  0, the negative errno of sd_journal_sendv (-ECONNREFUSED: no
 * journald behind the socket), or -ENOENT: there is no socket at all.
 */
int sink_journal_send(const struct event *e);

#endif
