/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The versioned JSON form of a snapshot (documented in README.md, "Snapshot JSON"). */
#ifndef CPUDRIFT_SNAPJSON_H
#define CPUDRIFT_SNAPJSON_H

#include <stdio.h>

#include <json-c/json.h>

#include "core/snapshot.h"

struct errbuf;

struct json_object *snapshot_to_json(const struct snapshot *s);
/** Parse and decode.  The raw leaves are the truth: derived fields are recomputed. */
int snapshot_from_json(struct json_object *o, struct snapshot **out, struct errbuf *err);
/** Pretty-printed, newline-terminated.  0 or -errno. */
int snapshot_write_json(const struct snapshot *s, FILE *f);

#endif
