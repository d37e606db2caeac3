// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * /proc/PID/cgroup, fed as a file to the fault record's reader (capture/faultrec.c), and
 * as bytes to the process table's (capture/procscan.c).
 * Cgroup names are chosen by whoever was delegated a subtree (any user's systemd session),
 * so lines can be long and hold colons.  The reported cgroup must be (a prefix of) the path
 * of a real line, never a piece of a long line taken as a line of its own; when no line is
 * long it is exactly the one the rule picks: the unified hierarchy's "0::" line, else the
 * first.
 */
#include <errno.h>
#include <string.h>

#include "capture/faultrec.h"
#include "capture/procscan.h"
#include "fuzz.h"

#define SHORT_LINE 256

/* The path of a cgroup line (after its second colon), or NULL. */
static const char *path_of(const char *line)
{
	const char *p = strchr(line, ':');

	p = p ? strchr(p + 1, ':') : NULL;
	return p ? p + 1 : NULL;
}

FUZZ_TARGET(proc_cgroup)
{
	struct fault *f = calloc(1, sizeof(*f));
	const char *text = (const char *)data;
	char want[sizeof(f->cgroup)] = "";
	size_t longest = 0;
	bool real = false;
	FILE *fp;

	FUZZ_CHECK(f, "out of memory");
	fp = fmemopen((void *)data, size, "r");
	FUZZ_CHECK(fp || !size, "fmemopen failed");
	if (fp) {
		faultrec_parse_cgroup(f, fp);
		fclose(fp);
	}
	FUZZ_CHECK(memchr(f->cgroup, 0, sizeof(f->cgroup)), "cgroup not terminated");
	{
		char path[256];
		int r = procscan_parse_cgroup(text, size, 0, path, sizeof(path));

		FUZZ_CHECK(r == 0 || r == -EINVAL, "procscan_parse_cgroup gave %d", r);
		FUZZ_CHECK(r || memchr(path, 0, sizeof(path)), "path not terminated");
	}
	for (size_t at = 0; at < size;) {
		const char *nl = memchr(text + at, '\n', size - at);
		size_t len = nl ? (size_t)(nl - (text + at)) : size - at;
		char *line = strndup(text + at, len);
		const char *p;
		bool unified;

		FUZZ_CHECK(line, "out of memory");
		longest = len > longest ? len : longest;
		p = path_of(line);
		unified = p && !strncmp(line, "0::", 3);
		if (p) {
			real |= !strncmp(p, f->cgroup, strlen(f->cgroup));
			if (unified || !want[0])
				snprintf(want, sizeof(want), "%s", p);
		}
		free(line);
		if (unified)
			break;
		at += len + 1;
	}
	FUZZ_CHECK(!f->cgroup[0] || real, "a cgroup that is on no line: '%s'", f->cgroup);
	if (longest <= SHORT_LINE)
		FUZZ_CHECK(!strcmp(f->cgroup, want), "cgroup '%s', the lines say '%s'", f->cgroup,
			   want);
	free(f);
	return 0;
}
