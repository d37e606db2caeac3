// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Attribution of raw instruction bytes (analysis/attrib.c): the bytes of a faulting
 * process, which may be anything, cut anywhere.  Zydis decodes; what it rejects or calls a
 * NOP goes to the fallback table.
 */
#include <errno.h>
#include <string.h>

#include "analysis/attrib.h"
#include "fuzz.h"

FUZZ_TARGET(attrib)
{
	struct attribution a, b;
	int ret = attrib_decode(data, size, &a);

	FUZZ_CHECK(ret == 0 || ret == -EINVAL, "attrib_decode gave %d", ret);
	FUZZ_CHECK(!ret == a.decoded, "attrib_decode gave %d and decoded %d", ret, a.decoded);
	if (ret)
		return 0;
	FUZZ_CHECK(a.len >= 1 && a.len <= size && a.len <= 15, "an instruction of %u bytes in %zu",
		   a.len, size);
	FUZZ_CHECK(!strcmp(a.decoder, "zydis") || !strcmp(a.decoder, "fallback"), "decoder '%s'",
		   a.decoder);
	FUZZ_CHECK(a.mnemonic[0] && a.text[0] && a.isa_set[0], "a decoded instruction unnamed");
	/* Pure: the same bytes, the same answer; bytes past the instruction change nothing. */
	FUZZ_CHECK(!attrib_decode(data, a.len, &b) && !memcmp(&a, &b, sizeof(a)),
		   "the instruction alone decodes otherwise");
	return 0;
}
