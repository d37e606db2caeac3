// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <string.h>

#include "core/escape.h"
#include "core/log.h"

static enum log_level cur_level = LOG_LVL_WARN;

static const char *const level_names[] = {
	[LOG_LVL_ERR] = "error",
	[LOG_LVL_WARN] = "warning",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

void log_set_level(enum log_level level)
{
	cur_level = level;
}

enum log_level log_get_level(void)
{
	return cur_level;
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char msg[2048], out[4 * sizeof(msg)];
	size_t n;

	if (level > cur_level)
		return;
	/* Messages carry comm names, paths and file contents: escaped, one line each. */
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	if (n && msg[n - 1] == '\n')
		msg[n - 1] = 0;
	str_escape(out, sizeof(out), msg);
	fprintf(stderr, "cpudrift: %s: %s\n", level_names[level], out);
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
