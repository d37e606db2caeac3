// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "core/escape.h"
#include "core/log.h"

static enum log_level cur_level = LOG_LVL_WARN;
static int journal_stream = -1; /* -1: not looked at yet */

static const struct {
	const char *name;
	const char *prefix; /* sd-daemon.h: journald reads the line's priority from it */
} levels[] = {
	[LOG_LVL_ERR] = { "error", SD_ERR },
	[LOG_LVL_WARN] = { "warning", SD_WARNING },
	[LOG_LVL_INFO] = { "info", SD_INFO },
	[LOG_LVL_DEBUG] = { "debug", SD_DEBUG },
};

void log_set_level(enum log_level level)
{
	cur_level = level;
}

enum log_level log_get_level(void)
{
	return cur_level;
}

/* systemd sets JOURNAL_STREAM=DEV:INODE of the stream it connected; stderr may since have
 * been redirected elsewhere, so the prefix is used only while stderr is that very stream. */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	if (!e || sscanf(e, "%llu:%llu%c", &dev, &ino, &tail) != 2 || fstat(STDERR_FILENO, &st))
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(void)
{
	journal_stream = stderr_is_journal();
}

bool log_to_journal(void)
{
	if (journal_stream < 0)
		log_init();
	return journal_stream;
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char msg[2048], out[4 * sizeof(msg)];
	size_t n;

	if (level > cur_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	if (n && msg[n - 1] == '\n')
		msg[n - 1] = 0;
	/*
	 * Messages carry text others control (process names, file contents, hook output): a
	 * newline could forge a line of ours (or, in the journal, its priority), an escape
	 * sequence could rewrite a terminal.  One escaping for every printer (core/escape).
	 */
	str_escape(out, sizeof(out), msg);
	/* journald adds the program name and keeps the level as PRIORITY. */
	if (log_to_journal())
		fprintf(stderr, "%s%s\n", levels[level].prefix, out);
	else
		fprintf(stderr, "cpudrift: %s: %s\n", levels[level].name, out);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void errbuf_set(struct errbuf *e, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}
