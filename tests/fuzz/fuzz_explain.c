// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `cpudrift explain HEXBYTES`: the hex words (the input split at NUL bytes, as argv) and the
 * attribution of the bytes they give (Zydis, then the XED-derived fallback table).
 */
#include <string.h>

#include "analysis/attrib.h"
#include "cli/cli.h"
#include "fuzz.h"

#define MAX_WORDS 64

FUZZ_TARGET(explain)
{
	char *text = malloc(size + 1), *argv[MAX_WORDS];
	struct attribution a;
	uint8_t bytes[64];
	int argc = 0, n;

	FUZZ_CHECK(text, "out of memory");
	memcpy(text, data, size);
	text[size] = '\0';
	for (size_t i = 0; i <= size && argc < MAX_WORDS; i += strlen(text + i) + 1)
		argv[argc++] = text + i;
	n = explain_parse_hex(argc, argv, bytes, sizeof(bytes));
	FUZZ_CHECK(n >= -1 && n <= (int)sizeof(bytes), "explain_parse_hex gave %d", n);
	if (n > 0 && !attrib_decode(bytes, (size_t)n, &a)) {
		FUZZ_CHECK(a.decoded, "attrib_decode succeeded without decoding");
		FUZZ_CHECK(a.len >= 1 && a.len <= (unsigned)n && a.len <= 15,
			   "an instruction of %u bytes in %d", a.len, n);
	}
	free(text);
	return 0;
}
