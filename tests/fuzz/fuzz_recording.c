// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * One line of a recording (formats/recording.c), every kind: timing observations, whole
 * snapshots ("cpuid"), probe runs and fault records (core/fault.c, fault_from_json).  What
 * it accepts must write back as a line that reads back the same: a recording replays what
 * the daemon saw.
 */
#include <errno.h>
#include <string.h>

#include "core/log.h"
#include "formats/recording.h"
#include "fuzz.h"

static char *write_line(const struct rec_line *l)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int ret = 0;

	FUZZ_CHECK(f, "open_memstream: %s", strerror(errno));
	switch (l->kind) {
	case REC_OBSERVATION:
		ret = recording_write_observation(f, &l->obs);
		break;
	case REC_SNAPSHOT:
		ret = recording_write_snapshot(f, l->snap);
		break;
	case REC_PROBE:
		ret = recording_write_probe(f, &l->probe);
		break;
	case REC_FAULT:
		ret = recording_write_fault(f, l->fault);
		break;
	}
	FUZZ_CHECK(!ret, "writing a line of kind %d failed: %d", (int)l->kind, ret);
	fclose(f);
	return buf;
}

static void check_same(const struct rec_line *a, const struct rec_line *b)
{
	char why[64];

	FUZZ_CHECK(a->kind == b->kind, "a line of kind %d reads back as kind %d", (int)a->kind,
		   (int)b->kind);
	switch (a->kind) {
	case REC_OBSERVATION:
		FUZZ_CHECK(!memcmp(&a->obs, &b->obs, sizeof(a->obs)),
			   "an observation reads back changed");
		break;
	case REC_SNAPSHOT:
		FUZZ_CHECK(fuzz_snapshot_equal(a->snap, b->snap, why, sizeof(why)),
			   "a snapshot line reads back with other %s", why);
		break;
	case REC_PROBE:
		FUZZ_CHECK(!memcmp(&a->probe, &b->probe, sizeof(a->probe)),
			   "a probe line reads back changed");
		break;
	case REC_FAULT:
		FUZZ_CHECK(!memcmp(a->fault, b->fault, sizeof(*a->fault)),
			   "a fault reads back changed");
		break;
	}
}

FUZZ_TARGET(recording)
{
	char *line = fuzz_cstr(data, size), *again;
	struct rec_line a, b;
	struct errbuf err = { "" };
	int ret;

	ret = recording_parse_line(line, &a, &err);
	fuzz_check_error(ret, &err, NULL);
	if (!ret) {
		if (a.kind == REC_SNAPSHOT)
			fuzz_check_snapshot(a.snap);
		again = write_line(&a);
		ret = recording_parse_line(again, &b, &err);
		FUZZ_CHECK(!ret, "a line cpudrift wrote is refused: %s\n%s", err.msg, again);
		check_same(&a, &b);
		rec_line_clear(&b);
		free(again);
	}
	rec_line_clear(&a);
	free(line);
	return 0;
}
