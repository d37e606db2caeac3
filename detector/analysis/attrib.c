// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Attribution: Zydis decodes the bytes, its ISA set picks the row of isaset.def, the row
 * names the features.  Pure and thread-safe: no state beyond the const tables.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <Zydis/Zydis.h>

#include "analysis/attrib.h"
#include "analysis/isafallback.h"

struct isaset_row {
	ZydisISASet set;
	const char *name;
	const char *features;
};

struct mnem_row {
	ZydisISASet set;
	ZydisMnemonic mnemonic;
	const char *features;
};

static const struct isaset_row isaset_rows[] = {
#define ISASET(n, f) { ZYDIS_ISA_SET_##n, #n, f },
#define MNEM(n, m, f)
#include "analysis/isaset.def"
#undef ISASET
#undef MNEM
};

static const struct mnem_row mnem_rows[] = {
#define ISASET(n, f)
#define MNEM(n, m, f) { ZYDIS_ISA_SET_##n, ZYDIS_MNEMONIC_##m, f },
#include "analysis/isaset.def"
#undef ISASET
#undef MNEM
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

int attrib_isaset_row(int i, const char **isa_set, const char **features)
{
	if (i < 0 || (size_t)i >= ARRAY_LEN(isaset_rows))
		return -ENOENT;
	*isa_set = isaset_rows[i].name;
	*features = isaset_rows[i].features;
	return 0;
}

int attrib_resolve(const char *names, struct featset *out, char *unknown, size_t len)
{
	int missing = 0;

	while (*names) {
		char name[48];
		size_t n = strcspn(names, " ");

		if (n && n < sizeof(name)) {
			int id;

			memcpy(name, names, n);
			name[n] = '\0';
			id = feature_lookup(name);
			if (id >= 0) {
				featset_add(out, id);
			} else if (missing++ == 0 && unknown && len) {
				snprintf(unknown, len, "%s", name);
			}
		}
		names += n;
		names += strspn(names, " ");
	}
	return missing;
}

static const char *features_for(ZydisISASet set, ZydisMnemonic mnemonic)
{
	for (size_t i = 0; i < ARRAY_LEN(mnem_rows); i++)
		if (mnem_rows[i].set == set && mnem_rows[i].mnemonic == mnemonic)
			return mnem_rows[i].features;
	for (size_t i = 0; i < ARRAY_LEN(isaset_rows); i++)
		if (isaset_rows[i].set == set)
			return isaset_rows[i].features;
	return "";
}

static bool is_deliberate_trap(ZydisMnemonic m)
{
	return m == ZYDIS_MNEMONIC_UD0 || m == ZYDIS_MNEMONIC_UD1 || m == ZYDIS_MNEMONIC_UD2;
}

/* Zydis 4.0 does not know the newest extensions: the XED-derived table names them. */
static int fallback(const uint8_t *bytes, size_t n, struct attribution *out)
{
	struct isafallback_match m;

	memset(out, 0, sizeof(*out));
	if (isafallback_lookup(bytes, n, &m))
		return -EINVAL;
	out->decoded = true;
	snprintf(out->decoder, sizeof(out->decoder), "fallback");
	out->len = m.len;
	snprintf(out->mnemonic, sizeof(out->mnemonic), "%s", m.mnemonic);
	snprintf(out->text, sizeof(out->text), "%s", m.mnemonic);
	snprintf(out->isa_set, sizeof(out->isa_set), "%s", m.isa_set);
	snprintf(out->isa_ext, sizeof(out->isa_ext), "%s", m.isa_ext);
	out->features = m.features;
	return 0;
}

int attrib_decode(const uint8_t *bytes, size_t n, struct attribution *out)
{
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	ZydisDecodedInstruction insn;
	ZydisFormatter fmt;
	ZydisDecoder dec;
	const char *s;

	memset(out, 0, sizeof(*out));
	if (!bytes || !n)
		return -EINVAL;
	if (ZYAN_FAILED(ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64)))
		return -EINVAL;
	if (ZYAN_FAILED(ZydisDecoderDecodeFull(&dec, bytes, n, &insn, ops)))
		return fallback(bytes, n, out);
	/* PREFETCHIT0/1 live in NOP hint space: Zydis 4.0 calls them NOPs. */
	if ((insn.meta.category == ZYDIS_CATEGORY_WIDENOP ||
	     insn.meta.category == ZYDIS_CATEGORY_NOP) &&
	    !fallback(bytes, n, out))
		return 0;

	out->decoded = true;
	snprintf(out->decoder, sizeof(out->decoder), "zydis");
	out->len = insn.length;
	s = ZydisMnemonicGetString(insn.mnemonic);
	snprintf(out->mnemonic, sizeof(out->mnemonic), "%s", s ? s : "?");
	s = ZydisISASetGetString(insn.meta.isa_set);
	snprintf(out->isa_set, sizeof(out->isa_set), "%s", s ? s : "?");
	s = ZydisISAExtGetString(insn.meta.isa_ext);
	snprintf(out->isa_ext, sizeof(out->isa_ext), "%s", s ? s : "?");
	if (ZYAN_FAILED(ZydisFormatterInit(&fmt, ZYDIS_FORMATTER_STYLE_INTEL)) ||
	    ZYAN_FAILED(ZydisFormatterFormatInstruction(
		    &fmt, &insn, ops, insn.operand_count_visible, out->text, sizeof(out->text),
		    ZYDIS_RUNTIME_ADDRESS_NONE, NULL)))
		snprintf(out->text, sizeof(out->text), "%s", out->mnemonic);
	out->deliberate_trap = is_deliberate_trap(insn.mnemonic);
	attrib_resolve(features_for(insn.meta.isa_set, insn.mnemonic), &out->features, NULL, 0);
	return 0;
}
