// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A whole recording through the analysis (recording_replay): what `cpudrift replay` and
 * `run --replay` do with a file.  Bad lines are skipped; the lines that parse drive the
 * tracker, the timing rules and the verdict with hostile values and orders, and every
 * event they raise must serialise.
 */
#include <json-c/json.h>

#include "core/event.h"
#include "core/log.h"
#include "formats/recording.h"
#include "fuzz.h"

static int on_event(void *ctx, const struct event *e)
{
	struct json_object *o = event_to_json(e);

	(void)ctx;
	FUZZ_CHECK(o, "event_to_json failed");
	FUZZ_CHECK(json_object_to_json_string(o), "an event does not serialise");
	json_object_put(o);
	return 0;
}

FUZZ_TARGET(replay)
{
	const char *path = fuzz_file(data, size);
	struct recording_stats st;
	struct engine_opts o;
	struct errbuf err = { "" };
	int ret;

	engine_opts_default(&o);
	ret = recording_replay(path, &o, on_event, NULL, &st, &err);
	fuzz_check_error(ret, &err, NULL);
	FUZZ_CHECK(!ret, "replay failed on a readable file: %s", err.msg);
	FUZZ_CHECK(st.bad >= 0 && st.bad <= st.lines, "%ld bad lines of %ld", st.bad, st.lines);
	return 0;
}
