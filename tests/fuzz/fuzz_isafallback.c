// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fallback table's encoding reader (analysis/isafallback.c) on its own, since attrib
 * reaches it only where Zydis gives up: every read must stay within the length given, a
 * match is exactly as long as it says, and one byte less is "ends too early".
 */
#include <errno.h>
#include <string.h>

#include "analysis/isafallback.h"
#include "fuzz.h"

FUZZ_TARGET(isafallback)
{
	struct isafallback_match m, again;
	uint8_t *cut;
	int ret = isafallback_lookup(data, size, &m);

	FUZZ_CHECK(ret == 0 || ret == -EINVAL || ret == -ENOENT, "isafallback_lookup gave %d", ret);
	if (ret)
		return 0;
	FUZZ_CHECK(m.len >= 1 && m.len <= size && m.len <= 15, "a match of %u bytes in %zu", m.len,
		   size);
	FUZZ_CHECK(m.mnemonic && m.isa_set && m.isa_ext && m.names, "a match without a name");
	/* Exactly sized copies: AddressSanitizer sees any read past them. */
	cut = malloc(m.len);
	FUZZ_CHECK(cut, "out of memory");
	memcpy(cut, data, m.len);
	FUZZ_CHECK(!isafallback_lookup(cut, m.len, &again) && again.mnemonic == m.mnemonic &&
			   again.len == m.len,
		   "the %u bytes of the match alone match otherwise", m.len);
	FUZZ_CHECK(isafallback_lookup(cut, m.len - 1, &again) == -EINVAL,
		   "one byte short of %u does not say the bytes end too early", m.len);
	free(cut);
	return 0;
}
