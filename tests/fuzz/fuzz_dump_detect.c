// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Dump format detection and the import behind it (dump_import): the format is guessed from
 * the first lines, so any file `cpudrift import` is given lands in one of the parsers.
 */
#include "formats/dumpfmt.h"
#include "fuzz.h"

FUZZ_TARGET(dump_detect)
{
	enum dump_format f = dump_detect((const char *)data, size);

	FUZZ_CHECK(f >= DUMP_UNKNOWN && f <= DUMP_JSON, "dump_detect gave %d", (int)f);
	FUZZ_CHECK(dump_detect((const char *)data, size) == f, "dump_detect is not stable");
	fuzz_dump(data, size, -1);
	return 0;
}
