// SPDX-License-Identifier: GPL-2.0-or-later
/* Dump import, AIDA64 / InstLatx64 CPUID reports: `cpudrift import` and `diff` read it from any file. */
#include "formats/dumpfmt.h"
#include "fuzz.h"

FUZZ_TARGET(dump_aida64)
{
	fuzz_dump(data, size, DUMP_AIDA64);
	return 0;
}
