/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Attribution (pure): instruction bytes -> Zydis decode -> mnemonic, ISA set -> the
 * features (feature table ids) the instruction needs.  One table (isaset.def) maps every
 * ISA set Zydis 4 can report.
 */
#ifndef CPUDRIFT_ATTRIB_H
#define CPUDRIFT_ATTRIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/features.h"

struct attribution {
	bool decoded;
	char decoder[12]; /* "zydis", or "fallback": the table of analysis/isafallback.def */
	unsigned len; /* instruction length in bytes */
	char mnemonic[32]; /* "vpaddd" */
	char text[96]; /* formatted instruction, AT&T-free Intel syntax */
	char isa_set[48]; /* Zydis ISA set name, e.g. "AVX2" */
	char isa_ext[48]; /* Zydis ISA extension name */
	bool deliberate_trap; /* ud0/ud1/ud2 and similar: not feature related */
	struct featset features; /* required features: all must be advertised and enabled */
};

/** Decode one 64-bit-mode instruction from @bytes.  0 (out->decoded) or -EINVAL. */
int attrib_decode(const uint8_t *bytes, size_t n, struct attribution *out);

/*
 * The ISA-set table itself (isaset.def), for tests and `explain`: row @i (from 0) of the
 * ISA-set rows, or -ENOENT past the end.  @features is the space-separated name list.
 */
int attrib_isaset_row(int i, const char **isa_set, const char **features);

/**
 * Resolve a space-separated list of feature names into @out.  Returns the number of names
 * the feature table does not know; the first of them is copied to @unknown (may be NULL).
 */
int attrib_resolve(const char *names, struct featset *out, char *unknown, size_t len);

#endif
