// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The evidence bundle reader (formats/bundle.c): `evidence verify`, `diff` and `import` of a
 * bundle someone sent.  The input is the file: a tar (libarchive passes an uncompressed one
 * through, so the fuzzer can reach the tar headers and the manifest) or a tar.gz.
 *
 * What a user relies on beyond "no crash": a bundle is called intact only when every member
 * but the manifest matched its hash, a refused one says why, a member read back is the
 * bytes the manifest vouched for (its length, NUL-terminated), and nothing is read
 * through a link or outside the archive.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "formats/bundle.h"
#include "fuzz.h"

FUZZ_TARGET(bundle)
{
	static const char *const names[] = { "events.jsonl", "manifest.json",
					     "snapshots/after.json", "no-such-member" };
	const char *path = fuzz_plain_file(data, size);
	struct errbuf err = { "" };
	struct bundle_check c;
	int r = bundle_verify(path, &c, &err);

	FUZZ_CHECK(r >= -4095 && r <= 1, "bundle_verify returned %d", r);
	if (r < 0)
		FUZZ_CHECK(err.msg[0], "bundle_verify failed (%d) without a message", r);
	if (r == 1)
		FUZZ_CHECK(c.problem[0], "a bundle called not intact without a problem");
	if (r == 0) {
		FUZZ_CHECK(!c.problem[0], "an intact bundle with a problem: %s", c.problem);
		FUZZ_CHECK(c.verified == c.members - 1,
			   "intact with %d of %d members verified (the manifest aside)", c.verified,
			   c.members);
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *d = NULL;
		size_t len = 0;
		int m;

		err.msg[0] = 0;
		m = bundle_read_member(path, names[i], &d, &len, &err);
		if (!m) {
			FUZZ_CHECK(d && d[len] == 0, "member %s read without its terminating NUL",
				   names[i]);
			FUZZ_CHECK(r == 0, "member %s read from a bundle that is not intact: %s",
				   names[i], c.problem);
		} else {
			FUZZ_CHECK(!d, "member %s failed (%d) but left data", names[i], m);
			FUZZ_CHECK(m == -ENOENT || err.msg[0],
				   "member %s failed (%d) without a message", names[i], m);
		}
		free(d);
	}
	return 0;
}
