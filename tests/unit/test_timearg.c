// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Every time form --since and --until take, at a fixed "now" in fixed time zones (TZ set
 * here), and every bad form with its own message.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "formats/timearg.h"

#define S 1000000000LL
/* Now: Tue 2026-12-01 14:30:15.250 UTC. */
#define NOW (1796135415LL * S + 250000000LL)

static void set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

static void tz_utc(void)
{
	set_tz("UTC");
}

static void tz_berlin(void)
{
	set_tz("Europe/Berlin");
}

static int64_t ok(const char *s)
{
	struct errbuf err = { "" };
	int64_t v = -1;

	cr_assert_eq(timearg_parse(s, NOW, &v, &err), 0, "'%s' refused: %s", s, err.msg);
	return v;
}

static void bad(const char *s, const char *says)
{
	struct errbuf err = { "" };
	int64_t v = -1;

	cr_expect_eq(timearg_parse(s, NOW, &v, &err), -22, "'%s' was taken as %lld", s,
		     (long long)v);
	cr_expect(strstr(err.msg, says), "'%s': the message \"%s\" does not say \"%s\"", s, err.msg,
		  says);
}

TestSuite(timearg);

Test(timearg, clock_times_are_today, .init = tz_utc)
{
	cr_expect_eq(ok("03:00"), 1796094000LL * S);
	cr_expect_eq(ok("3:00"), 1796094000LL * S);
	cr_expect_eq(ok("14:30:15"), 1796135415LL * S);
	cr_expect_eq(ok("00:00:01.5"), 1796083201LL * S + S / 2);
	cr_expect_eq(ok("  23:59  "), 1796169540LL * S);
}

Test(timearg, words, .init = tz_utc)
{
	cr_expect_eq(ok("now"), NOW);
	cr_expect_eq(ok("today"), 1796083200LL * S);
	cr_expect_eq(ok("yesterday"), 1795996800LL * S);
	cr_expect_eq(ok("tomorrow"), 1796169600LL * S);
	cr_expect_eq(ok("yesterday 03:00"), 1796007600LL * S);
	cr_expect_eq(ok("Yesterday 23:15:30"), 1796083200LL * S - 2670 * S);
	cr_expect_eq(ok("today 12:00"), 1796126400LL * S);
}

Test(timearg, dates_are_local_without_offset, .init = tz_berlin)
{
	/* CET is UTC+1 in December, CEST UTC+2 in July. */
	cr_expect_eq(ok("2026-11-27"), 1795734000LL * S);
	cr_expect_eq(ok("2026-11-27 03:12"), (1795734000LL + 3 * 3600 + 12 * 60) * S);
	cr_expect_eq(ok("2026-11-27T03:12:09"), (1795734000LL + 3 * 3600 + 12 * 60 + 9) * S);
	cr_expect_eq(ok("2026-07-01 12:00"), 1782900000LL * S);
	/* "today" and a time of day are Berlin's. */
	cr_expect_eq(ok("03:00"), (1796083200LL - 3600 + 3 * 3600) * S);
	cr_expect_eq(ok("yesterday"), (1795996800LL - 3600) * S);
}

Test(timearg, iso8601_with_offsets, .init = tz_berlin)
{
	int64_t want = (1795734000LL + 3600 + 3 * 3600 + 12 * 60) * S; /* 03:12 UTC */

	cr_expect_eq(ok("2026-11-27T03:12:00Z"), want);
	cr_expect_eq(ok("2026-11-27T03:12Z"), want);
	cr_expect_eq(ok("2026-11-27T04:12:00+01:00"), want);
	cr_expect_eq(ok("2026-11-27T04:12:00+0100"), want);
	cr_expect_eq(ok("2026-11-27T05:12:00+02"), want);
	cr_expect_eq(ok("2026-11-26T22:12:00-05:00"), want);
	cr_expect_eq(ok("2026-11-27 03:12:00 UTC"), want);
	cr_expect_eq(ok("2026-11-27T03:12:00.123Z"), want + 123000000);
	cr_expect_eq(ok("2026-11-27 UTC"), (1795734000LL + 3600) * S);
}

Test(timearg, relative_and_ages, .init = tz_utc)
{
	cr_expect_eq(ok("-2h"), NOW - 7200 * S);
	cr_expect_eq(ok("-30m"), NOW - 1800 * S);
	cr_expect_eq(ok("-30min"), NOW - 1800 * S);
	cr_expect_eq(ok("-1h30m"), NOW - 5400 * S);
	cr_expect_eq(ok("-1h 30min"), NOW - 5400 * S);
	cr_expect_eq(ok("-1.5h"), NOW - 5400 * S);
	cr_expect_eq(ok("-500ms"), NOW - S / 2);
	cr_expect_eq(ok("+1d"), NOW + 86400 * S);
	cr_expect_eq(ok("-2 weeks"), NOW - 14 * 86400 * S);
	cr_expect_eq(ok("-90"), NOW - 90 * S);
	/* The forms cpudrift always took: an age, and epoch seconds. */
	cr_expect_eq(ok("2h"), NOW - 7200 * S);
	cr_expect_eq(ok("10m"), NOW - 600 * S);
	cr_expect_eq(ok("30s"), NOW - 30 * S);
	cr_expect_eq(ok("7d"), NOW - 7 * 86400 * S);
	cr_expect_eq(ok("2h ago"), NOW - 7200 * S);
	cr_expect_eq(ok("45 ago"), NOW - 45 * S);
	cr_expect_eq(ok("1796000000"), 1796000000LL * S);
	cr_expect_eq(ok("@1796000000"), 1796000000LL * S);
	cr_expect_eq(ok("@1796000000.25"), 1796000000LL * S + S / 4);
	cr_expect_eq(ok("@0"), 0);
}

Test(timearg, bad_forms_say_what_is_wrong, .init = tz_utc)
{
	bad("", "an empty time");
	bad("   ", "an empty time");
	bad("soon", "expected HH:MM[:SS], today, yesterday");
	bad("25:00", "hour 25 is out of range");
	bad("12:60", "minute 60 is out of range");
	bad("12:30:61", "second 61 is out of range");
	bad("12:3", "expected two digits of minutes");
	bad("12:30:5", "expected two digits of seconds");
	bad("123:00", "expected HH:MM[:SS]");
	bad("03:00 tomorrow", "expected HH:MM[:SS]");
	bad("yesterday 3pm", "expected HH:MM[:SS] after 'yesterday'");
	bad("yesterday 25:00", "hour 25 is out of range");
	bad("todayish", "expected HH:MM[:SS], today");
	bad("2026-13-01", "month 13 is out of range");
	bad("2026-02-29", "2026-02 has no day 29");
	bad("2026-04-31", "2026-04 has no day 31");
	bad("2026-1-05", "expected YYYY-MM-DD");
	bad("2026-11-277", "expected YYYY-MM-DD");
	bad("1969-12-31", "year 1969 is out of range");
	bad("2026-11-27 3pm", "expected HH:MM[:SS] after the date");
	bad("2026-11-27T03:12+25:00", "bad UTC offset '+25:00'");
	bad("2026-11-27T03:12+1", "bad UTC offset");
	bad("2026-11-27T03:12 Mars", "unexpected 'Mars' after the date");
	bad("-2x", "'x' is not a unit");
	bad("-2 fortnights", "'fortnights' is not a unit");
	bad("-", "expected a span");
	bad("-h", "expected a number");
	bad("-2h ago", "a sign and 'ago' together");
	bad("2parsecs", "'parsecs' is not a unit");
	bad("@", "expected seconds since 1970 after '@'");
	bad("@abc", "expected seconds since 1970 after '@'");
	bad("@12x", "expected seconds since 1970 after '@'");
	bad("1.2.3", "expected seconds since 1970");
	bad("-99999999999999999999d", "expected a number");
	bad("-999999d", "too long");
	bad("2026-11-27 03:00:00 0000000000000000000000000000000000000000000000000000000000000"
	    "00000000000000000000000000000000000000000000000000000",
	    "too long");
}

/* A leap day exists in leap years, and "2000-02-29" (a 400-year leap) too. */
Test(timearg, leap_days, .init = tz_utc)
{
	cr_expect_eq(ok("2028-02-29"), 1835395200LL * S);
	cr_expect_eq(ok("2000-02-29"), 951782400LL * S);
	bad("2100-02-29", "2100-02 has no day 29");
}
