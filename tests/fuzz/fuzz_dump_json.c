// SPDX-License-Identifier: GPL-2.0-or-later
/* Dump import, cpudrift's snapshot JSON, through the dump reader (NUL bytes, trailing text): `cpudrift import` and `diff` read it from any file. */
#include "formats/dumpfmt.h"
#include "fuzz.h"

FUZZ_TARGET(dump_json)
{
	fuzz_dump(data, size, DUMP_JSON);
	return 0;
}
