// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>
#include <systemd/sd-journal.h>

#include "capture/journalread.h"
#include "core/log.h"

/* Kernel messages worth keeping: faults the kernel logged, and clock trouble. */
static const char *const kernel_marks[] = { "traps:", "clocksource", "watchdog" };

/* A field's value (after "NAME="), or NULL. */
static const char *field(sd_journal *j, const char *name, size_t *len)
{
	const void *d;
	size_t l, nl = strlen(name);

	if (sd_journal_get_data(j, name, &d, &l) < 0 || l <= nl)
		return NULL;
	*len = l - nl - 1;
	return (const char *)d + nl + 1;
}

static struct json_object *str_n(const char *s, size_t n)
{
	return json_object_new_string_len(s, (int)(n > 4096 ? 4096 : n));
}

static bool has_journal(void)
{
	struct stat st;

	return !stat("/var/log/journal", &st) || !stat("/run/log/journal", &st);
}

int journalread_window(int64_t since_ns, int64_t until_ns, size_t max_entries, size_t max_bytes,
		       char **out, size_t *len, size_t *n, struct errbuf *err)
{
	static const char *const named[] = { "PRIORITY",      "SYSLOG_IDENTIFIER",
					     "CPUDRIFT_KIND", "CPUDRIFT_SEVERITY",
					     "CPUDRIFT_PID",  "CPUDRIFT_FEATURE",
					     "CPUDRIFT_CLASS" };
	sd_journal *j = NULL;
	int r;

	*n = 0;
	if (!has_journal())
		return -ENOENT;
	r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
	if (r < 0) {
		errbuf_set(err, "failed to open the journal: %s", strerror(-r));
		return r;
	}
	/* cpudrift's entries, or the kernel's (filtered by message below). */
	if (sd_journal_add_match(j, "SYSLOG_IDENTIFIER=cpudrift", 0) < 0 ||
	    sd_journal_add_disjunction(j) < 0 ||
	    sd_journal_add_match(j, "_TRANSPORT=kernel", 0) < 0 ||
	    sd_journal_seek_realtime_usec(j, (uint64_t)(since_ns / 1000)) < 0) {
		errbuf_set(err, "failed to search the journal");
		sd_journal_close(j);
		return -EIO;
	}
	while (*n < max_entries && sd_journal_next(j) > 0) {
		struct json_object *o;
		const char *msg, *tr, *v;
		size_t ml, tl, vl;
		uint64_t usec;
		bool kernel;
		const char *text;
		size_t tlen;
		char *p;

		if (sd_journal_get_realtime_usec(j, &usec) < 0)
			continue;
		if (until_ns && (int64_t)usec * 1000 > until_ns)
			break;
		msg = field(j, "MESSAGE", &ml);
		if (!msg)
			continue;
		tr = field(j, "_TRANSPORT", &tl);
		kernel = tr && tl == 6 && !memcmp(tr, "kernel", 6);
		if (kernel) {
			bool keep = false;

			for (size_t i = 0; i < sizeof(kernel_marks) / sizeof(kernel_marks[0]); i++)
				keep |= memmem(msg, ml, kernel_marks[i], strlen(kernel_marks[i])) !=
					NULL;
			if (!keep)
				continue;
		}
		o = json_object_new_object();
		json_object_object_add(o, "realtime_us", json_object_new_int64((int64_t)usec));
		json_object_object_add(o, "source",
				       json_object_new_string(kernel ? "kernel" : "cpudrift"));
		json_object_object_add(o, "message", str_n(msg, ml));
		for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
			v = field(j, named[i], &vl);
			if (v)
				json_object_object_add(o, named[i], str_n(v, vl));
		}
		text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		tlen = strlen(text);
		if (*len + tlen + 1 > max_bytes) {
			json_object_put(o);
			break;
		}
		p = realloc(*out, *len + tlen + 2);
		if (!p) {
			json_object_put(o);
			sd_journal_close(j);
			return -ENOMEM;
		}
		memcpy(p + *len, text, tlen);
		p[*len + tlen] = '\n';
		*len += tlen + 1;
		p[*len] = 0;
		*out = p;
		(*n)++;
		json_object_put(o);
	}
	sd_journal_close(j);
	return 0;
}
