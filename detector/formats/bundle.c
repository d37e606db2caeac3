// SPDX-License-Identifier: GPL-2.0-or-later
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "formats/bundle.h"

/* Room kept for manifest.json, whatever the members took. */
#define MANIFEST_RESERVE (256 << 10)
#define MANIFEST_MAX (1 << 20)

static void sha256_hex(const void *data, size_t len, char out[65])
{
	struct sha256_ctx c;
	uint8_t d[SHA256_DIGEST_SIZE];

	sha256_init(&c);
	sha256_update(&c, len, data);
	sha256_digest(&c, sizeof(d), d);
	for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

/* --- writing ---------------------------------------------------------------------------- */

struct bundle_writer {
	struct archive *a;
	int fd;
	char tmp[PATH_MAX], path[PATH_MAX];
	int64_t max, used;
	struct json_object *members, *cuts;
	bool done;
};

/*
 * The one place cpudrift writes a file a user names: a unique temporary file beside it
 * (mkostemp: O_CREAT|O_EXCL, so never through a planted symlink), then fsync and rename,
 * which replaces the name itself (a symlink at @path is replaced, never followed).
 */
int bundle_writer__new(const char *path, int64_t max_bytes, struct bundle_writer **out,
		       struct errbuf *err)
{
	struct bundle_writer *b = calloc(1, sizeof(*b));
	char dir[PATH_MAX];
	int r;

	*out = NULL;
	if (!b)
		return -ENOMEM;
	b->fd = -1;
	snprintf(b->path, sizeof(b->path), "%s", path);
	snprintf(dir, sizeof(dir), "%s", path);
	snprintf(b->tmp, sizeof(b->tmp), "%s/.cpudrift-evidence-XXXXXX", dirname(dir));
	b->fd = mkostemp(b->tmp, O_CLOEXEC);
	if (b->fd < 0) {
		r = -errno;
		errbuf_set(err, "failed to create a temporary file beside %s: %s", path,
			   strerror(errno));
		b->tmp[0] = 0;
		goto fail;
	}
	fchmod(b->fd, 0640);
	b->max = max_bytes;
	b->members = json_object_new_object();
	b->cuts = json_object_new_array();
	b->a = archive_write_new();
	if (!b->members || !b->cuts || !b->a) {
		r = -ENOMEM;
		errbuf_set(err, "failed to start %s: %s", path, strerror(ENOMEM));
		goto fail;
	}
	/*
	 * gzip level 3: evidence is mostly repetitive JSON that compresses ~15:1 at any level,
	 * and level 6 costs twice the time for a few per cent.
	 */
	if (archive_write_add_filter_gzip(b->a) ||
	    archive_write_set_filter_option(b->a, "gzip", "compression-level", "3") ||
	    archive_write_set_format_pax_restricted(b->a) || archive_write_open_fd(b->a, b->fd)) {
		r = -EIO;
		errbuf_set(err, "failed to start %s: %s", path, archive_error_string(b->a));
		goto fail;
	}
	*out = b;
	return 0;
fail:
	bundle_writer__free(b);
	return r;
}

void bundle_writer__free(struct bundle_writer *b)
{
	if (!b)
		return;
	if (b->a)
		archive_write_free(b->a);
	if (b->fd >= 0)
		close(b->fd);
	if (!b->done && b->tmp[0])
		unlink(b->tmp);
	json_object_put(b->members);
	json_object_put(b->cuts);
	free(b);
}

int64_t bundle_room(const struct bundle_writer *b)
{
	int64_t room = b->max - b->used - MANIFEST_RESERVE;

	return room > 0 ? room : 0;
}

void bundle_note_cut(struct bundle_writer *b, const char *name, const char *what, int64_t kept,
		     int64_t total)
{
	struct json_object *c = json_object_new_object();

	json_object_object_add(c, "member", json_object_new_string(name));
	json_object_object_add(c, "what", json_object_new_string(what));
	json_object_object_add(c, "kept", json_object_new_int64(kept));
	json_object_object_add(c, "total", json_object_new_int64(total));
	json_object_array_add(b->cuts, c);
}

static int write_entry(struct bundle_writer *b, const char *name, const char *data, size_t len)
{
	struct archive_entry *e = archive_entry_new();
	struct json_object *m;
	char hex[65];
	int r = 0;

	if (!e)
		return -ENOMEM;
	archive_entry_set_pathname(e, name);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0640);
	archive_entry_set_mtime(e, time(NULL), 0);
	if (archive_write_header(b->a, e) != ARCHIVE_OK ||
	    (len && archive_write_data(b->a, data, len) != (la_ssize_t)len)) {
		log_err("failed to write %s into %s: %s", name, b->path,
			archive_error_string(b->a));
		r = -EIO;
	}
	archive_entry_free(e);
	if (r)
		return r;
	sha256_hex(data, len, hex);
	m = json_object_new_object();
	json_object_object_add(m, "sha256", json_object_new_string(hex));
	json_object_object_add(m, "bytes", json_object_new_int64((int64_t)len));
	json_object_object_add(b->members, name, m);
	b->used += (int64_t)len;
	return 0;
}

int bundle_add(struct bundle_writer *b, const char *name, const char *data, size_t len)
{
	int64_t room = bundle_room(b);
	size_t keep = len;

	if ((int64_t)len > room) {
		const char *nl;

		keep = (size_t)room;
		/* Cut at a line end, so that JSON-lines members stay whole lines. */
		nl = keep ? memrchr(data, '\n', keep) : NULL;
		keep = nl ? (size_t)(nl - data) + 1 : 0;
		bundle_note_cut(b, name, "bytes", (int64_t)keep, (int64_t)len);
		if (!keep)
			return 0;
	}
	return write_entry(b, name, data, keep);
}

int bundle_finish(struct bundle_writer *b, struct json_object *extra, struct errbuf *err)
{
	struct json_object *m = json_object_new_object();
	const char *text;
	int r;

	json_object_object_add(m, "format", json_object_new_string(BUNDLE_FORMAT));
	json_object_object_add(m, "version", json_object_new_int(BUNDLE_FORMAT_VERSION));
	if (extra) {
		json_object_object_foreach(extra, k, v)
			json_object_object_add(m, k, json_object_get(v));
	}
	json_object_object_add(m, "max_bytes", json_object_new_int64(b->max));
	json_object_object_add(m, "cuts", json_object_get(b->cuts));
	json_object_object_add(m, "members", json_object_get(b->members));
	text = json_object_to_json_string_ext(m, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
	r = write_entry(b, BUNDLE_MANIFEST, text, strlen(text));
	json_object_put(m);
	if (!r && archive_write_close(b->a) != ARCHIVE_OK) {
		errbuf_set(err, "failed to finish %s: %s", b->path, archive_error_string(b->a));
		return -EIO;
	}
	if (r) {
		errbuf_set(err, "failed to write the manifest of %s", b->path);
		return r;
	}
	if (fsync(b->fd) || close(b->fd)) {
		r = -errno;
		b->fd = -1;
		errbuf_set(err, "failed to write %s: %s", b->path, strerror(-r));
		return r;
	}
	b->fd = -1;
	if (rename(b->tmp, b->path)) {
		r = -errno;
		errbuf_set(err, "failed to move the bundle to %s: %s", b->path, strerror(-r));
		return r;
	}
	b->done = true;
	return 0;
}

/* --- reading ---------------------------------------------------------------------------- */

struct seen {
	char name[128];
	char sha[65];
};

struct walk {
	const char *want; /* the member to keep, or NULL */
	char *data; /* it, when found */
	size_t len;
	char *manifest;
	size_t manifest_len;
	struct seen seen[BUNDLE_MAX_MEMBERS];
	int n;
	char problem[512];
};

/* Plain relative names only: letters, digits, . _ - and /, no "..", no empty part. */
static bool safe_name(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= sizeof(((struct seen *)0)->name) || s[0] == '/' || s[n - 1] == '/')
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("._-/", *p)))
			return false;
	return !strstr(s, "//") && strcmp(s, "..") && strncmp(s, "../", 3) && !strstr(s, "/../") &&
	       !(n >= 3 && !strcmp(s + n - 3, "/..")) && strcmp(s, ".") && strncmp(s, "./", 2);
}

static int walk_bundle(const char *path, struct walk *w, struct errbuf *err)
{
	struct archive *a = NULL;
	struct archive_entry *e;
	static char buf[1 << 16];
	int64_t total = 0;
	struct stat st;
	int fd, rc, ret = 0;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		ret = fd < 0 ? -errno : -EINVAL;
		errbuf_set(err, "failed to open %s: %s", path,
			   fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return ret;
	}
	a = archive_read_new();
	if (!a || archive_read_support_filter_gzip(a) || archive_read_support_format_tar(a) ||
	    archive_read_open_fd(a, fd, sizeof(buf))) {
		snprintf(w->problem, sizeof(w->problem), "not a tar.gz: %s",
			 a ? archive_error_string(a) : "out of memory");
		goto out;
	}
	while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		struct sha256_ctx c;
		uint8_t d[SHA256_DIGEST_SIZE];
		bool keep, is_manifest;
		int64_t got = 0;
		la_ssize_t r;

		if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e) ||
		    archive_entry_symlink(e)) {
			snprintf(w->problem, sizeof(w->problem),
				 "member '%.100s' is not a regular file", name ? name : "");
			goto out;
		}
		if (!name || !safe_name(name)) {
			snprintf(w->problem, sizeof(w->problem), "unsafe member name '%.100s'",
				 name ? name : "");
			goto out;
		}
		if (w->n >= BUNDLE_MAX_MEMBERS) {
			snprintf(w->problem, sizeof(w->problem), "more than %d members",
				 BUNDLE_MAX_MEMBERS);
			goto out;
		}
		for (int i = 0; i < w->n; i++)
			if (!strcmp(w->seen[i].name, name)) {
				snprintf(w->problem, sizeof(w->problem), "member %s appears twice",
					 name);
				goto out;
			}
		if (!archive_entry_size_is_set(e) || archive_entry_size(e) > BUNDLE_MAX_MEMBER ||
		    archive_entry_size(e) < 0) {
			snprintf(w->problem, sizeof(w->problem), "member %s is too large", name);
			goto out;
		}
		is_manifest = !strcmp(name, BUNDLE_MANIFEST);
		keep = is_manifest || (w->want && !strcmp(name, w->want));
		if (is_manifest && archive_entry_size(e) > MANIFEST_MAX) {
			snprintf(w->problem, sizeof(w->problem), "the manifest is too large");
			goto out;
		}
		snprintf(w->seen[w->n].name, sizeof(w->seen[0].name), "%s", name);
		sha256_init(&c);
		while ((r = archive_read_data(a, buf, sizeof(buf))) > 0) {
			got += r;
			total += r;
			if (got > archive_entry_size(e) || total > BUNDLE_MAX_TOTAL) {
				snprintf(w->problem, sizeof(w->problem), "member %s is too large",
					 name);
				goto out;
			}
			sha256_update(&c, (size_t)r, (const uint8_t *)buf);
			if (keep) {
				char **dst = is_manifest ? &w->manifest : &w->data;
				size_t *len = is_manifest ? &w->manifest_len : &w->len;
				char *p = realloc(*dst, *len + (size_t)r + 1);

				if (!p) {
					ret = -ENOMEM;
					errbuf_set(err, "failed to read %s: %s", path,
						   strerror(ENOMEM));
					goto out;
				}
				memcpy(p + *len, buf, (size_t)r);
				*len += (size_t)r;
				p[*len] = 0;
				*dst = p;
			}
		}
		if (r < 0) {
			snprintf(w->problem, sizeof(w->problem),
				 "member %s is truncated or corrupt: %s", name,
				 archive_error_string(a));
			goto out;
		}
		if (keep && !(is_manifest ? w->manifest : w->data)) {
			char **dst = is_manifest ? &w->manifest : &w->data;

			*dst = calloc(1, 1);
		}
		sha256_digest(&c, sizeof(d), d);
		for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
			sprintf(w->seen[w->n].sha + 2 * i, "%02x", d[i]);
		w->n++;
	}
	if (rc != ARCHIVE_EOF)
		snprintf(w->problem, sizeof(w->problem), "the archive is truncated or corrupt: %s",
			 archive_error_string(a));
out:
	if (a)
		archive_read_free(a);
	close(fd);
	return ret;
}

/* Every member against the manifest; the first problem in w->problem. */
static void check(struct walk *w, int *verified)
{
	struct json_object *m, *members;
	int listed = 0;

	*verified = 0;
	if (w->problem[0])
		return;
	m = w->manifest ? json_tokener_parse(w->manifest) : NULL;
	if (!m || !json_object_object_get_ex(m, "members", &members) ||
	    !json_object_is_type(members, json_type_object)) {
		snprintf(w->problem, sizeof(w->problem), "%s",
			 w->manifest ? "manifest.json is not a manifest" : "no manifest.json");
		json_object_put(m);
		return;
	}
	for (int i = 0; i < w->n; i++) {
		struct json_object *e, *h;

		if (!strcmp(w->seen[i].name, BUNDLE_MANIFEST))
			continue;
		if (!json_object_object_get_ex(members, w->seen[i].name, &e) ||
		    !json_object_object_get_ex(e, "sha256", &h)) {
			snprintf(w->problem, sizeof(w->problem), "member %s is not in the manifest",
				 w->seen[i].name);
			break;
		}
		if (strcmp(json_object_get_string(h), w->seen[i].sha)) {
			snprintf(w->problem, sizeof(w->problem),
				 "member %s does not match its SHA-256 in the manifest",
				 w->seen[i].name);
			break;
		}
		(*verified)++;
	}
	json_object_object_foreach(members, k, v)
	{
		(void)v;
		listed++;
		if (w->problem[0])
			continue;
		bool found = false;

		for (int i = 0; i < w->n; i++)
			found |= !strcmp(w->seen[i].name, k);
		if (!found)
			snprintf(w->problem, sizeof(w->problem), "member %.100s is missing", k);
	}
	(void)listed;
	json_object_put(m);
}

int bundle_verify(const char *path, struct bundle_check *c, struct errbuf *err)
{
	struct walk *w = calloc(1, sizeof(*w));
	int r;

	memset(c, 0, sizeof(*c));
	if (!w)
		return -ENOMEM;
	r = walk_bundle(path, w, err);
	if (!r) {
		check(w, &c->verified);
		c->members = w->n;
		snprintf(c->problem, sizeof(c->problem), "%s", w->problem);
		r = w->problem[0] ? 1 : 0;
	}
	free(w->manifest);
	free(w->data);
	free(w);
	return r;
}

int bundle_read_member(const char *path, const char *name, char **data, size_t *len,
		       struct errbuf *err)
{
	struct walk *w = calloc(1, sizeof(*w));
	int r, verified;

	*data = NULL;
	*len = 0;
	if (!w)
		return -ENOMEM;
	w->want = name;
	r = walk_bundle(path, w, err);
	if (!r) {
		check(w, &verified);
		if (w->problem[0]) {
			errbuf_set(err, "%s is not an intact bundle: %s", path, w->problem);
			r = -EBADMSG;
		} else if (!strcmp(name, BUNDLE_MANIFEST)) {
			*data = w->manifest;
			*len = w->manifest_len;
			w->manifest = NULL;
		} else if (!w->data) {
			errbuf_set(err, "%s has no member %s", path, name);
			r = -ENOENT;
		} else {
			*data = w->data;
			*len = w->len;
			w->data = NULL;
		}
	}
	free(w->manifest);
	free(w->data);
	free(w);
	return r;
}

bool bundle_looks_like(const char *path)
{
	unsigned char m[2];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool yes = fd >= 0 && read(fd, m, 2) == 2 && m[0] == 0x1f && m[1] == 0x8b;

	if (fd >= 0)
		close(fd);
	return yes;
}
