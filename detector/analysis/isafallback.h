/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fallback attribution (pure): for the newest ISA extensions, which Debian 12's Zydis 4.0
 * cannot decode, match the raw encoding (legacy prefixes, REX, VEX or EVEX, map, opcode,
 * mandatory prefix, W, L, ModRM) against a table generated from Intel XED's patterns
 * (isafallback.def) and name the features the instruction needs.  It does not decode
 * operands: decoding stays Zydis's job, and attrib asks this module only where Zydis does
 * not know the instruction.
 */
#ifndef CPUDRIFT_ISAFALLBACK_H
#define CPUDRIFT_ISAFALLBACK_H

#include <stddef.h>
#include <stdint.h>

#include "core/features.h"

struct isafallback_match {
	unsigned len; /* instruction length in bytes, prefixes and immediate included */
	const char *mnemonic; /* lower case, XED's iclass: "vpmadd52luq" */
	const char *isa_ext; /* XED extension: "AVX_IFMA" */
	const char *isa_set; /* XED ISA set: "AVX_IFMA" */
	const char *names; /* the features, space-separated features.def names */
	struct featset features; /* the same as a set: all must be advertised and enabled */
};

/**
 * Match the one 64-bit-mode instruction at @bytes (at most @n bytes are read) against the
 * fallback table.  0 and @out filled; -ENOENT when no row matches (also for encodings
 * that are invalid as such, e.g. a legacy prefix before VEX); -EINVAL when the bytes end
 * before the instruction does or it would be longer than 15 bytes.
 */
int isafallback_lookup(const uint8_t *bytes, size_t n, struct isafallback_match *out);

/**
 * Row @i (from 0) of the table, for tests and listings: its mnemonic, XED ISA set and
 * feature names.  0, or -ENOENT past the end.
 */
int isafallback_row(int i, const char **mnemonic, const char **isa_set, const char **names);

#endif
