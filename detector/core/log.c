// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

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

/*
 * One message, one line.  Messages carry text others control (process names, file
 * contents, hook output): a newline in them could forge a line of ours (or, in the
 * journal, its priority), an escape sequence could rewrite a terminal.  Control
 * characters are escaped; tabs stay.
 */
static void put_escaped(const char *s, FILE *f)
{
	size_t len = strlen(s);

	if (len && s[len - 1] == '\n')
		len--;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n')
			fputs("\\n", f);
		else if ((c < 0x20 && c != '\t') || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char buf[2048];

	if (level > cur_level)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	/* journald adds the program name and keeps the level as PRIORITY. */
	if (log_to_journal())
		fputs(levels[level].prefix, stderr);
	else
		fprintf(stderr, "cpudrift: %s: ", levels[level].name);
	put_escaped(buf, stderr);
	fputc('\n', stderr);
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
