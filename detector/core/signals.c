// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/signals.h"

/* The signals a synchronous fault can raise, and nothing else. */
static const struct {
	int sig;
	const char *name;
} fault_signals[] = {
	{ SIGILL, "ILL" }, { SIGSEGV, "SEGV" }, { SIGBUS, "BUS" },
	{ SIGFPE, "FPE" }, { SIGTRAP, "TRAP" },
};

const char *signals_name(int sig)
{
	for (size_t i = 0; i < sizeof(fault_signals) / sizeof(fault_signals[0]); i++)
		if (fault_signals[i].sig == sig)
			return fault_signals[i].name;
	return NULL;
}

int signals_lookup(const char *name)
{
	if (!strncasecmp(name, "SIG", 3))
		name += 3;
	for (size_t i = 0; i < sizeof(fault_signals) / sizeof(fault_signals[0]); i++)
		if (!strcasecmp(fault_signals[i].name, name))
			return fault_signals[i].sig;
	return -1;
}

int signals_parse(const char *list, uint64_t *mask, char *bad, size_t badlen)
{
	char buf[256], *save = NULL;
	uint64_t set = 0;

	if (strlen(list) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, list);
	for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		int sig = signals_lookup(t);

		if (sig < 0) {
			if (bad)
				snprintf(bad, badlen, "%s", t);
			return -EINVAL;
		}
		set |= 1ull << sig;
	}
	if (!set)
		return -EINVAL;
	*mask = set;
	return 0;
}

void signals_format(uint64_t mask, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = 0;
	for (size_t i = 0; i < sizeof(fault_signals) / sizeof(fault_signals[0]); i++)
		if (mask >> fault_signals[i].sig & 1 && used < len)
			used += snprintf(buf + used, len - used, "%sSIG%s", used ? "," : "",
					 fault_signals[i].name);
}
