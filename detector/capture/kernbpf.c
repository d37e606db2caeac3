// SPDX-License-Identifier: GPL-2.0-or-later
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "capture/kernbpf.h"
#include "core/log.h"

/* libbpf's messages (a verifier log above all) span lines; the log takes one line a message. */
static int print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum log_level l = level == LIBBPF_DEBUG ? LOG_LVL_DEBUG : LOG_LVL_INFO;
	char buf[8192], *save = NULL;

	if (l > log_get_level())
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		log_msg(l, "%s", line);
	return 0;
}

static void set_print(void)
{
	libbpf_set_print(print);
}

void kernbpf_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, set_print);
}
