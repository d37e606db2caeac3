// SPDX-License-Identifier: GPL-2.0-or-later
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/log.h"
#include "formats/timearg.h"

#define NS 1000000000LL
/* Years this parser takes: time_t and int64 nanoseconds hold them all. */
#define YEAR_MIN 1970
#define YEAR_MAX 2200

const char timearg_forms[] = "HH:MM[:SS], today, yesterday [HH:MM], YYYY-MM-DD [HH:MM[:SS]], "
			     "ISO 8601 with an offset, -2h, 2h (an age) or @EPOCH";

/* systemd's time span units (systemd.time(7)), the short and the long names. */
static const struct {
	const char *name;
	int64_t ns;
} units[] = {
	{ "us", 1000 },		  { "usec", 1000 },	 { "ms", 1000000 },
	{ "msec", 1000000 },	  { "s", NS },		 { "sec", NS },
	{ "second", NS },	  { "seconds", NS },	 { "m", 60 * NS },
	{ "min", 60 * NS },	  { "minute", 60 * NS }, { "minutes", 60 * NS },
	{ "h", 3600 * NS },	  { "hr", 3600 * NS },	 { "hour", 3600 * NS },
	{ "hours", 3600 * NS },	  { "d", 86400 * NS },	 { "day", 86400 * NS },
	{ "days", 86400 * NS },	  { "w", 604800 * NS },	 { "week", 604800 * NS },
	{ "weeks", 604800 * NS },
};

static const char *skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Exactly @n digits. */
static bool take_digits(const char **p, int n, int *v)
{
	int x = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		x = x * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*v = x;
	return true;
}

/* ".ddd" (up to 9 digits kept) as nanoseconds; nothing there is 0. */
static bool take_fraction(const char **p, int64_t *ns)
{
	int64_t scale = NS / 10;

	*ns = 0;
	if (**p != '.')
		return true;
	if (!isdigit((unsigned char)(*p)[1]))
		return false;
	for ((*p)++; isdigit((unsigned char)**p); (*p)++, scale /= 10)
		*ns += (**p - '0') * scale;
	return true;
}

/* Whole seconds and an optional fraction, as nanoseconds; false when not a number. */
static bool take_seconds(const char **p, int64_t *ns)
{
	int64_t secs = 0, frac;
	const char *start = *p;

	for (; isdigit((unsigned char)**p); (*p)++) {
		if (secs > (INT64_MAX / NS) / 10)
			return false;
		secs = secs * 10 + (**p - '0');
	}
	if (*p == start || !take_fraction(p, &frac) || secs > INT64_MAX / NS - 1)
		return false;
	*ns = secs * NS + frac;
	return true;
}

/*
 * A span: one or more "N[.N][ ]unit" (a number without a unit is seconds), up to the end
 * of @s or to " ago" (*ago set).  0 or -EINVAL with @err filled.
 */
static int parse_span(const char *s, const char *whole, int64_t *out, bool *ago, struct errbuf *err)
{
	const char *p = s;
	int64_t total = 0;

	*ago = false;
	while (*(p = skip_space(p))) {
		const char *u;
		int64_t n, mul = NS;
		size_t len, i;

		if (!strcasecmp(p, "ago") && p != s) {
			*ago = true;
			break;
		}
		if (!take_seconds(&p, &n)) {
			errbuf_set(err, "'%s' is not a time: expected a number at '%s'", whole, p);
			return -EINVAL;
		}
		u = p = skip_space(p);
		while (isalpha((unsigned char)*p))
			p++;
		len = (size_t)(p - u);
		if (len && !(len == 3 && !strncasecmp(u, "ago", 3))) {
			for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
				if (strlen(units[i].name) == len && !strncmp(units[i].name, u, len))
					break;
			if (i == sizeof(units) / sizeof(units[0])) {
				errbuf_set(
					err,
					"'%s' is not a time: '%.*s' is not a unit (us, ms, s, m, h, d, w)",
					whole, (int)len, u);
				return -EINVAL;
			}
			mul = units[i].ns;
		} else if (len) {
			p = u; /* "30 ago": seconds, then "ago" */
		}
		/* n is in nanoseconds of one second: scale it to the unit. */
		if (mul != NS) {
			double v = (double)n / NS * (double)mul;

			if (v > 9.2e18) {
				errbuf_set(err, "'%s' is not a time: the span is too long", whole);
				return -EINVAL;
			}
			n = (int64_t)v;
		}
		if (__builtin_add_overflow(total, n, &total)) {
			errbuf_set(err, "'%s' is not a time: the span is too long", whole);
			return -EINVAL;
		}
	}
	if (p == s || (*ago && p == skip_space(s))) {
		errbuf_set(err, "'%s' is not a time: expected a span such as 2h or 30min", whole);
		return -EINVAL;
	}
	*out = total;
	return 0;
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in(int y, int m)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && leap(y) ? 29 : d[m - 1];
}

struct clock_time {
	int h, m, s;
	int64_t frac_ns;
};

/* HH:MM[:SS[.frac]] (H or HH).  0, 1 when @p does not start like a time, or -EINVAL. */
static int parse_clock(const char **pp, const char *whole, struct clock_time *t, struct errbuf *err)
{
	const char *p = *pp;

	memset(t, 0, sizeof(*t));
	if (!isdigit((unsigned char)p[0]))
		return 1;
	if (isdigit((unsigned char)p[1]) && p[2] == ':')
		take_digits(&p, 2, &t->h);
	else if (p[1] == ':')
		take_digits(&p, 1, &t->h);
	else
		return 1;
	p++;
	if (!take_digits(&p, 2, &t->m)) {
		errbuf_set(err, "'%s' is not a time: expected two digits of minutes after '%.*s'",
			   whole, (int)(p - whole), whole);
		return -EINVAL;
	}
	if (*p == ':') {
		p++;
		if (!take_digits(&p, 2, &t->s) || !take_fraction(&p, &t->frac_ns)) {
			errbuf_set(
				err,
				"'%s' is not a time: expected two digits of seconds after '%.*s'",
				whole, (int)(p - whole), whole);
			return -EINVAL;
		}
	}
	if (t->h > 23) {
		errbuf_set(err, "'%s' is not a time: hour %d is out of range (00-23)", whole, t->h);
		return -EINVAL;
	}
	if (t->m > 59) {
		errbuf_set(err, "'%s' is not a time: minute %d is out of range (00-59)", whole,
			   t->m);
		return -EINVAL;
	}
	if (t->s > 59) {
		errbuf_set(err, "'%s' is not a time: second %d is out of range (00-59)", whole,
			   t->s);
		return -EINVAL;
	}
	*pp = p;
	return 0;
}

/*
 * An offset: Z, UTC (after a space), +HH, +HH:MM, +HHMM.  0 with *has false when there
 * is none, or -EINVAL.
 */
static int parse_offset(const char **pp, const char *whole, bool *has, int *secs,
			struct errbuf *err)
{
	const char *p = *pp, *q = skip_space(p);
	int h = 0, m = 0, sign;

	*has = false;
	*secs = 0;
	if (*p == 'Z' || *p == 'z') {
		*has = true;
		*pp = p + 1;
		return 0;
	}
	if (!strncasecmp(q, "UTC", 3)) {
		*has = true;
		*pp = q + 3;
		return 0;
	}
	if (*p != '+' && *p != '-')
		return 0;
	sign = *p == '-' ? -1 : 1;
	q = p + 1;
	if (!take_digits(&q, 2, &h))
		goto bad;
	if (*q == ':') {
		q++;
		if (!take_digits(&q, 2, &m))
			goto bad;
	} else if (isdigit((unsigned char)*q) && !take_digits(&q, 2, &m)) {
		goto bad;
	}
	if (h > 14 || m > 59)
		goto bad;
	*has = true;
	*secs = sign * (h * 3600 + m * 60);
	*pp = q;
	return 0;
bad:
	errbuf_set(err,
		   "'%s' is not a time: bad UTC offset '%s' (expected Z, +HH, +HH:MM or +HHMM)",
		   whole, p);
	return -EINVAL;
}

/* Local (or, with an offset, that zone's) date and time to realtime nanoseconds. */
static int to_ns(int y, int mo, int d, const struct clock_time *t, bool has_off, int off,
		 const char *whole, int64_t *out, struct errbuf *err)
{
	struct tm tm = { .tm_year = y - 1900,
			 .tm_mon = mo - 1,
			 .tm_mday = d,
			 .tm_hour = t->h,
			 .tm_min = t->m,
			 .tm_sec = t->s,
			 .tm_isdst = -1 };
	time_t secs;

	if (has_off) {
		secs = timegm(&tm) - off;
	} else {
		secs = mktime(&tm);
	}
	if (secs < 0) {
		errbuf_set(err, "'%s' is not a time: before 1970", whole);
		return -EINVAL;
	}
	*out = (int64_t)secs * NS + t->frac_ns;
	return 0;
}

/* The local calendar day of @now_ns shifted by @days. */
static void local_day(int64_t now_ns, int days, int *y, int *mo, int *d)
{
	time_t t = (time_t)(now_ns / NS);
	struct tm tm;

	localtime_r(&t, &tm);
	tm.tm_mday += days;
	tm.tm_hour = 12; /* noon: a DST change never moves it to another day */
	tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	t = mktime(&tm);
	localtime_r(&t, &tm);
	*y = tm.tm_year + 1900;
	*mo = tm.tm_mon + 1;
	*d = tm.tm_mday;
}

static int parse_date(const char *s, int64_t *out, struct errbuf *err)
{
	const char *p = s;
	struct clock_time t = { 0 };
	int y = 0, mo = 0, d = 0, off, r;
	bool has_off;

	take_digits(&p, 4, &y);
	p++;
	if (!take_digits(&p, 2, &mo) || *p != '-') {
		errbuf_set(err, "'%s' is not a time: expected YYYY-MM-DD", s);
		return -EINVAL;
	}
	p++;
	if (!take_digits(&p, 2, &d) || isdigit((unsigned char)*p)) {
		errbuf_set(err, "'%s' is not a time: expected YYYY-MM-DD", s);
		return -EINVAL;
	}
	if (y < YEAR_MIN || y > YEAR_MAX) {
		errbuf_set(err, "'%s' is not a time: year %d is out of range (%d-%d)", s, y,
			   YEAR_MIN, YEAR_MAX);
		return -EINVAL;
	}
	if (mo < 1 || mo > 12) {
		errbuf_set(err, "'%s' is not a time: month %d is out of range (01-12)", s, mo);
		return -EINVAL;
	}
	if (d < 1 || d > days_in(y, mo)) {
		errbuf_set(err, "'%s' is not a time: %04d-%02d has no day %d", s, y, mo, d);
		return -EINVAL;
	}
	if (*p == 'T' || *p == 't' || *p == ' ') {
		const char *q = *p == ' ' ? skip_space(p) : p + 1;

		r = parse_clock(&q, s, &t, err);
		if (r < 0)
			return r;
		if (r == 0)
			p = q;
		else if (*p != ' ' || strncasecmp(q, "UTC", 3)) {
			errbuf_set(err, "'%s' is not a time: expected HH:MM[:SS] after the date",
				   s);
			return -EINVAL;
		}
	}
	r = parse_offset(&p, s, &has_off, &off, err);
	if (r)
		return r;
	p = skip_space(p);
	if (*p) {
		errbuf_set(err, "'%s' is not a time: unexpected '%s' after the date", s, p);
		return -EINVAL;
	}
	return to_ns(y, mo, d, &t, has_off, off, s, out, err);
}

/* today, yesterday, tomorrow, now; then an optional HH:MM[:SS]. */
static int parse_word(const char *s, int64_t now_ns, int64_t *out, struct errbuf *err)
{
	static const struct {
		const char *word;
		int days;
	} words[] = { { "today", 0 }, { "yesterday", -1 }, { "tomorrow", 1 } };
	struct clock_time t = { 0 };
	const char *p;
	int y, mo, d, r;

	if (!strcasecmp(s, "now")) {
		*out = now_ns;
		return 0;
	}
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		size_t n = strlen(words[i].word);

		if (strncasecmp(s, words[i].word, n) || (s[n] && s[n] != ' '))
			continue;
		p = skip_space(s + n);
		if (*p) {
			r = parse_clock(&p, s, &t, err);
			if (r < 0)
				return r;
			if (r > 0 || *skip_space(p)) {
				errbuf_set(err,
					   "'%s' is not a time: expected HH:MM[:SS] after '%s'", s,
					   words[i].word);
				return -EINVAL;
			}
		}
		local_day(now_ns, words[i].days, &y, &mo, &d);
		return to_ns(y, mo, d, &t, false, 0, s, out, err);
	}
	return 1;
}

int timearg_parse(const char *arg, int64_t now_ns, int64_t *out_ns, struct errbuf *err)
{
	char buf[128];
	const char *p;
	size_t n;
	int64_t v;
	bool ago;
	int r;

	p = skip_space(arg ? arg : "");
	n = strlen(p);
	if (n >= sizeof(buf)) {
		errbuf_set(err, "'%.40s...' is not a time: too long", p);
		return -EINVAL;
	}
	memcpy(buf, p, n + 1);
	while (n && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		buf[--n] = 0;
	if (!n) {
		errbuf_set(err, "an empty time: expected %s", timearg_forms);
		return -EINVAL;
	}
	p = buf;
	/* @EPOCH, and a bare number: seconds since 1970. */
	if (*p == '@' || strspn(p, "0123456789.") == n) {
		const char *q = p + (*p == '@');

		if (!take_seconds(&q, &v) || *q) {
			errbuf_set(err, "'%s' is not a time: expected seconds since 1970%s", buf,
				   *p == '@' ? " after '@'" : "");
			return -EINVAL;
		}
		*out_ns = v;
		return 0;
	}
	/* -2h, +1h: relative to now. */
	if (*p == '-' || *p == '+') {
		r = parse_span(p + 1, buf, &v, &ago, err);
		if (r)
			return r;
		if (ago) {
			errbuf_set(err, "'%s' is not a time: a sign and 'ago' together", buf);
			return -EINVAL;
		}
		*out_ns = *p == '-' ? now_ns - v : now_ns + v;
		return 0;
	}
	if (isalpha((unsigned char)*p)) {
		r = parse_word(p, now_ns, out_ns, err);
		if (r <= 0)
			return r;
		errbuf_set(err, "'%s' is not a time: expected %s", buf, timearg_forms);
		return -EINVAL;
	}
	/* YYYY-MM-DD... */
	if (strspn(p, "0123456789") == 4 && p[4] == '-')
		return parse_date(p, out_ns, err);
	/* HH:MM[:SS]: today. */
	if (strchr(p, ':')) {
		struct clock_time t;
		int y, mo, d;

		r = parse_clock(&p, buf, &t, err);
		if (r < 0)
			return r;
		if (r > 0 || *p) {
			errbuf_set(err, "'%s' is not a time: expected HH:MM[:SS]", buf);
			return -EINVAL;
		}
		local_day(now_ns, 0, &y, &mo, &d);
		return to_ns(y, mo, d, &t, false, 0, buf, out_ns, err);
	}
	/* 2h, 30min, "2h ago": an age. */
	r = parse_span(p, buf, &v, &ago, err);
	if (r)
		return r;
	*out_ns = now_ns - v;
	return 0;
}
