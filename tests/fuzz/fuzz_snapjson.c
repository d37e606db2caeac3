// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Snapshot JSON (formats/snapjson.c) on any JSON value: what `diff`, `import` and recordings
 * hand it.  What it accepts must write back and read back unchanged.
 */
#include <json-c/json.h>

#include "core/log.h"
#include "core/snapshot.h"
#include "formats/snapjson.h"
#include "fuzz.h"

FUZZ_TARGET(snapjson)
{
	struct json_tokener *tok = json_tokener_new();
	struct snapshot *s = NULL;
	struct errbuf err = { "" };
	struct json_object *o;
	int ret;

	FUZZ_CHECK(tok, "json_tokener_new failed");
	o = json_tokener_parse_ex(tok, (const char *)data, (int)(size > 1 << 30 ? 1 << 30 : size));
	if (o) {
		ret = snapshot_from_json(o, &s, &err);
		fuzz_check_error(ret, &err, NULL);
		FUZZ_CHECK(!ret == !!s, "snapshot_from_json returned %d with%s a snapshot", ret,
			   s ? "" : "out");
		if (s) {
			fuzz_check_snapshot(s);
			FUZZ_CHECK(!snapshot_write_json(s, fuzz_devnull()),
				   "snapshot_write_json failed");
		}
	}
	snapshot__free(s);
	json_object_put(o);
	json_tokener_free(tok);
	return 0;
}
