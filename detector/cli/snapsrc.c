// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/snapsrc.h"
#include "core/log.h"
#include "formats/bundle.h"
#include "formats/dumpfmt.h"
#include "formats/snapjson.h"

bool snapsrc_is_bundle(const char *path)
{
	return strcmp(path, "-") && bundle_looks_like(path);
}

static int from_bundle(const char *path, const char *side, struct snapshot **out,
		       struct errbuf *err)
{
	char member[64], *text = NULL;
	struct json_object *o;
	size_t len;
	int r;

	snprintf(member, sizeof(member), "snapshots/%s.json", side);
	r = bundle_read_member(path, member, &text, &len, err);
	if (r)
		return r;
	o = json_tokener_parse(text);
	free(text);
	if (!o) {
		errbuf_set(err, "%s: %s is not JSON", path, member);
		return -EINVAL;
	}
	r = snapshot_from_json(o, out, err) ? -EINVAL : 0;
	json_object_put(o);
	return r;
}

int snapsrc_load(const char *what, struct snapshot **out, struct errbuf *err)
{
	const char *colon = strrchr(what, ':');
	char path[PATH_MAX];

	if (colon && (!strcmp(colon, ":before") || !strcmp(colon, ":after"))) {
		snprintf(path, sizeof(path), "%.*s", (int)(colon - what), what);
		if (snapsrc_is_bundle(path))
			return from_bundle(path, colon + 1, out, err);
	}
	if (snapsrc_is_bundle(what))
		return from_bundle(what, "after", out, err);
	return dump_import_file(what, out, err);
}
