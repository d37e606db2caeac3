/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Evidence bundles: a tar.gz whose manifest.json holds the format version, cpudrift's
 * version, the window, the SHA-256 of every member and what was cut to keep the bundle
 * under its size bound.  Written safely (a unique temporary file beside the target,
 * O_NOFOLLOW, fsync, rename); read defensively (regular files only, plain relative names,
 * bounded member count and sizes, every libarchive error fatal), never extracted to disk.
 */
#ifndef CPUDRIFT_BUNDLE_H
#define CPUDRIFT_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct errbuf;

#define BUNDLE_FORMAT "cpudrift-evidence"
#define BUNDLE_FORMAT_VERSION 1
#define BUNDLE_MANIFEST "manifest.json"
#define BUNDLE_DEFAULT_MAX (20 << 20)

/* What a reader accepts at most. */
#define BUNDLE_MAX_MEMBERS 256
#define BUNDLE_MAX_MEMBER (256ll << 20)
#define BUNDLE_MAX_TOTAL (1ll << 30)

struct bundle_writer;

/**
 * Start writing @path with members up to @max_bytes in all (uncompressed).  0 or -errno
 * with @err filled.
 */
int bundle_writer__new(const char *path, int64_t max_bytes, struct bundle_writer **out,
		       struct errbuf *err);
/** Drop the temporary file unless bundle_finish succeeded. */
void bundle_writer__free(struct bundle_writer *b);

/** Bytes members may still use (the manifest's share is kept aside). */
int64_t bundle_room(const struct bundle_writer *b);

/**
 * Add member @name.  Past the size bound it is cut at its last whole line that fits (or
 * left out) and the manifest says so, with @what ("events", ...) to name what was lost.
 * 0 or -errno.
 */
int bundle_add(struct bundle_writer *b, const char *name, const char *data, size_t len);

/** Record a cut the caller made itself (it kept @kept of @total @what). */
void bundle_note_cut(struct bundle_writer *b, const char *name, const char *what, int64_t kept,
		     int64_t total);

/**
 * Write manifest.json ({"format", "version", "members": {name: {"sha256", "bytes"}},
 * "cuts": [...], and every key of @extra}), close the archive and move it into place.
 * 0 or -errno with @err filled.
 */
int bundle_finish(struct bundle_writer *b, struct json_object *extra, struct errbuf *err);

/* --- reading ----------------------------------------------------------------------------- */

struct bundle_check {
	int members; /* in the archive, the manifest included */
	int verified; /* members whose hash matched */
	char problem[512]; /* the first problem; "" when the bundle is intact */
};

/**
 * Check every member of @path against its manifest.  0 when intact; 1 when the bundle
 * is not (a hash mismatch, a missing or unlisted member, a truncated or hostile archive),
 * with the problem in @c; -errno when it cannot be read at all (@err filled).
 */
int bundle_verify(const char *path, struct bundle_check *c, struct errbuf *err);

/**
 * Read member @name of @path (its hash checked against the manifest) into *@data
 * (malloc'd, NUL-terminated) and *@len.  0, -ENOENT (no such member), or -errno with
 * @err filled.
 */
int bundle_read_member(const char *path, const char *name, char **data, size_t *len,
		       struct errbuf *err);

/** True when @path starts like a gzip file (a bundle candidate). */
bool bundle_looks_like(const char *path);

#endif
