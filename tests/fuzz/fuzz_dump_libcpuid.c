// SPDX-License-Identifier: GPL-2.0-or-later
/* Dump import, libcpuid's raw format (cpuid_tool --save): `cpudrift import` and `diff` read it from any file. */
#include "formats/dumpfmt.h"
#include "fuzz.h"

FUZZ_TARGET(dump_libcpuid)
{
	fuzz_dump(data, size, DUMP_LIBCPUID);
	return 0;
}
