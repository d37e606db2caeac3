/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One logging module: levels, stderr or journal, library chatter routed through it. */
#ifndef CPUDRIFT_LOG_H
#define CPUDRIFT_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/** Messages above @level are dropped.  Default: LOG_LVL_WARN. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/**
 * Look again at where stderr goes.  While it is the stream systemd's JOURNAL_STREAM names,
 * lines carry sd-daemon.h priority prefixes ("<3>", "<4>", ...) so that the journal files
 * each at its own priority; otherwise they read "cpudrift: LEVEL: message".  Done on the
 * first message by itself; call it again after redirecting stderr.
 */
void log_init(void);
/** True when lines go to the journal with priority prefixes. */
bool log_to_journal(void);

/*
 * Every message is one line: control characters in it (newlines included) are escaped, so
 * text from others (process names, hook output) cannot forge a line or a priority.
 */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap);

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/*
 * An error message for the caller: functions that can fail on bad input fill one so the
 * message can name the file, the line and what was wrong.
 */
struct errbuf {
	char msg[512];
};

void errbuf_set(struct errbuf *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
