// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * /proc/PID/maps, fed as a file to both readers: the fault watcher's mapping lookup
 * (capture/faultrec.c) and the process table's glibc-hwcaps level (capture/procscan.c).  The
 * first 8 bytes of the input are the faulting IP, the rest is the file.
 *
 * Path names in maps are the process's choice and can make a line longer than any buffer
 * (d_path is not bounded by PATH_MAX there).  So the readers are checked against a reference
 * that reads whole lines: what they report must come from a real line (never from the tail
 * of a long one taken as a line of its own), and when no line is long they must agree.
 */
#include <limits.h>
#include <string.h>

#include "capture/faultrec.h"
#include "capture/procscan.h"
#include "fuzz.h"

/* Lines up to this long fit every reader's buffer: there the answers must be the same. */
#define SHORT_LINE 1024
#define HWCAPS_DIR "/glibc-hwcaps/x86-64-v"

struct line_view {
	unsigned long long start, end, off, ino;
	const char *name; /* NULL: not a mapping line */
};

static void view(char *line, struct line_view *v)
{
	int name_at = 0;

	v->name = NULL;
	unsigned major, minor;

	if (sscanf(line, "%llx-%llx %*4s %llx %x:%x %llu %n", &v->start, &v->end, &v->off, &major,
		   &minor, &v->ino, &name_at) < 6)
		return;
	v->name = name_at > 0 ? line + name_at : "";
}

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

FUZZ_TARGET(proc_maps)
{
	struct fault *f = calloc(1, sizeof(*f));
	const char *text = (const char *)data + 8;
	size_t n = size - 8, longest = 0;
	bool found = false, real = false;
	int level = 0, want_level = 0;
	FILE *fp;

	FUZZ_CHECK(f, "out of memory");
	if (size < 8) {
		free(f);
		return 0;
	}
	memcpy(&f->ip, data, 8);
	fp = fmemopen((void *)text, n, "r");
	FUZZ_CHECK(fp || !n, "fmemopen failed");
	if (fp) {
		faultrec_parse_maps(f, fp);
		fclose(fp);
	}
	level = procscan_parse_maps(text, n);
	FUZZ_CHECK(level >= 0 && level <= 9, "hwcaps level %d", level);

	/* The reference: whole lines, up to a NUL as the readers see them. */
	for (size_t at = 0; at < n;) {
		const char *nl = memchr(text + at, '\n', n - at);
		size_t len = nl ? (size_t)(nl - (text + at)) : n - at;
		char *line = strndup(text + at, len), *h;
		struct line_view v;

		FUZZ_CHECK(line, "out of memory");
		longest = len > longest ? len : longest;
		/*
		 * The process table's rule, on the raw bytes of complete lines: a directory
		 * glibc-hwcaps/x86-64-v2 ... v9 anywhere in the line.
		 */
		for (const char *q = text + at, *e = text + at + len; nl && q < e; q++) {
			size_t k = strlen(HWCAPS_DIR);

			if ((size_t)(e - q) >= k + 2 && !memcmp(q, HWCAPS_DIR, k) && q[k] >= '2' &&
			    q[k] <= '9' && q[k + 1] == '/' && q[k] - '0' > want_level)
				want_level = q[k] - '0';
		}
		(void)h;
		view(line, &v);
		if (v.name && f->ip >= v.start && f->ip < v.end) {
			/* A file's offset is in the file; an anonymous mapping's, in the mapping. */
			unsigned long long want_off = (v.ino ? v.off : 0) + (f->ip - v.start);
			bool same = f->has_map && f->map_offset == want_off &&
				    (starts_with(v.name, f->map_path) ||
				     (!*v.name && !strcmp(f->map_path, "[anon]")));

			real |= same;
			if (!found && longest <= SHORT_LINE)
				FUZZ_CHECK(same, "maps line %zu holds the IP, the reader says %s%s",
					   at, f->has_map ? "" : "none ", f->map_path);
			found = true;
		}
		free(line);
		at += len + 1;
	}
	FUZZ_CHECK(!f->has_map || real, "a mapping that is on no line: 0x%llx %s",
		   (unsigned long long)f->map_offset, f->map_path);
	FUZZ_CHECK(level <= want_level, "hwcaps level %d where the lines say %d", level,
		   want_level);
	if (longest <= SHORT_LINE)
		FUZZ_CHECK(level == want_level && f->has_map == found,
			   "the readers say level %d, %s mapping; the lines %d, %s", level,
			   f->has_map ? "a" : "no", want_level, found ? "a" : "none");
	free(f);
	return 0;
}
