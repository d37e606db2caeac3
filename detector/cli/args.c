// SPDX-License-Identifier: GPL-2.0-or-later
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/args.h"
#include "core/escape.h"
#include "core/log.h"
#include "formats/timearg.h"

int args_int(const char *opt, const char *arg, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (!*arg || isspace((unsigned char)*arg) || *end || end == arg || errno == ERANGE) {
		log_err("failed to parse %s: '%s' is not a whole number", opt, arg);
		return -EINVAL;
	}
	if (v < min || v > max) {
		log_err("failed to parse %s: %s is out of range [%" PRId64 ", %" PRId64 "]", opt,
			arg, min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int args_int32(const char *opt, const char *arg, int min, int max, int *out)
{
	int64_t v;
	int r = args_int(opt, arg, min, max, &v);

	if (!r)
		*out = (int)v;
	return r;
}

/* A non-negative decimal number with an optional fraction; the rest in *end. */
static int parse_decimal(const char *arg, double *v, const char **end)
{
	const char *p = arg;
	int digits = 0, dots = 0;

	/* strtod would take signs, hex, "inf" and exponents: only digits and one dot here. */
	for (; isdigit((unsigned char)*p) || *p == '.'; p++) {
		if (*p == '.')
			dots++;
		else
			digits++;
	}
	if (!digits || dots > 1)
		return -EINVAL;
	errno = 0;
	*v = strtod(arg, NULL);
	if (errno || !isfinite(*v))
		return -EINVAL;
	*end = p;
	return 0;
}

int args_duration(const char *opt, const char *arg, int64_t unit_ns, int64_t min_ns, int64_t max_ns,
		  int64_t *out)
{
	static const struct {
		const char *sfx;
		int64_t ns;
	} units[] = { { "ms", 1000000 },
		      { "s", 1000000000 },
		      { "m", 60000000000 },
		      { "h", 3600000000000 },
		      { "d", 86400000000000 } };
	const char *end;
	double v, ns;
	int64_t mul = unit_ns;

	if (parse_decimal(arg, &v, &end))
		goto bad;
	if (*end) {
		size_t i;

		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (!strcmp(end, units[i].sfx))
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			goto bad;
		mul = units[i].ns;
	}
	ns = v * (double)mul;
	if (ns < (double)min_ns || ns > (double)max_ns) {
		log_err("failed to parse %s: %s is out of range [%.3g s, %.3g s]", opt, arg,
			min_ns / 1e9, max_ns / 1e9);
		return -EINVAL;
	}
	*out = (int64_t)(ns + 0.5);
	return 0;
bad:
	log_err("failed to parse %s: '%s' is not a duration (e.g. 30, 500ms, 30s, 5m, 2h, 1d)", opt,
		arg);
	return -EINVAL;
}

int args_size(const char *opt, const char *arg, int64_t min, int64_t max, int64_t *out)
{
	static const struct {
		const char *sfx;
		int64_t mul;
	} units[] = { { "", 1 },	  { "K", 1 << 10 },   { "M", 1 << 20 },	 { "G", 1 << 30 },
		      { "KiB", 1 << 10 }, { "MiB", 1 << 20 }, { "GiB", 1 << 30 } };
	char *end;
	unsigned long long v;
	size_t i;

	if (!isdigit((unsigned char)*arg))
		goto bad;
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno)
		goto bad;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(end, units[i].sfx))
			break;
	if (i == sizeof(units) / sizeof(units[0]))
		goto bad;
	if (v > (unsigned long long)INT64_MAX / (unsigned long long)units[i].mul ||
	    (int64_t)v * units[i].mul < min || (int64_t)v * units[i].mul > max) {
		log_err("failed to parse %s: %s is out of range [%" PRId64 ", %" PRId64 "] bytes",
			opt, arg, min, max);
		return -EINVAL;
	}
	*out = (int64_t)v * units[i].mul;
	return 0;
bad:
	log_err("failed to parse %s: '%s' is not a size (e.g. 512K, 20M, 1G)", opt, arg);
	return -EINVAL;
}

int args_time(const char *opt, const char *arg, int64_t *out_ns)
{
	struct errbuf err = { "" };
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	if (!timearg_parse(arg, (int64_t)now.tv_sec * 1000000000 + now.tv_nsec, out_ns, &err))
		return 0;
	log_err("failed to parse %s: %s", opt, err.msg);
	return -EINVAL;
}

int args_incident(const char *arg, const char **out)
{
	size_t n = strlen(arg);

	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)arg[i]) && arg[i] != '-')
			n = 0;
	if (n == 0 || n > ARGS_INCIDENT_MAX) {
		log_err("failed to parse --incident: '%s' is not an incident ID (such as "
			"0f6c2d4e-241000: `cpudrift status` and `cpudrift events` show them)",
			str_esc(arg));
		return -EINVAL;
	}
	*out = arg;
	return 0;
}

int args_version(void)
{
	printf("cpudrift %s\n", CPUDRIFT_VERSION);
	return 0;
}
