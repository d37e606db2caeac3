// SPDX-License-Identifier: GPL-2.0-or-later
/* Dump import, Debian `cpuid -r` output: `cpudrift import` and `diff` read it from any file. */
#include "formats/dumpfmt.h"
#include "fuzz.h"

FUZZ_TARGET(dump_cpuid_r)
{
	fuzz_dump(data, size, DUMP_CPUID_R);
	return 0;
}
