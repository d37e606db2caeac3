// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fallback attribution: read an instruction's encoding far enough to know where it lives
 * (legacy prefixes, REX, VEX or EVEX, map, opcode, ModRM, SIB, displacement) and look it
 * up in isafallback.def.  The bytes come from a faulting process and may be anything, cut
 * anywhere: every read is checked against the length given.  Pure and thread-safe.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "analysis/isafallback.h"

#define MAX_INSN_LEN 15

enum { ENC_LEGACY, ENC_VEX, ENC_EVEX };
/* VEX/EVEX pp order; PP_ANY only in rows. */
enum { PP_NP, PP_66, PP_F3, PP_F2, PP_ANY };
enum { W_W0, W_W1, W_WIG };
enum { L_L128, L_L256, L_L512, L_LIG };
enum { VVVV_ANY, VVVV_NONE };
/* ModRM.mod as a mask of the values a row allows. */
enum { MOD_0 = 1 << 0, MOD_MEM = 0x7, MOD_REG = 1 << 3, MOD_ANY = 0xf };
enum { SEL_0, SEL_1, SEL_2, SEL_3, SEL_4, SEL_5, SEL_6, SEL_7, SEL_ANY = -1 };

struct row {
	uint8_t enc, map, opcode, pp, w, l, mods, vvvv, imm;
	int8_t reg, rm;
	const char *mnemonic, *ext, *set, *names;
};

/* The .def's column tokens (66, WIG, MEM, ANY, ...) become the enum values above. */
static const struct row rows[] = {
#define ISAFB(enc_, map_, op_, pp_, w_, l_, mod_, reg_, rm_, vvvv_, imm_, mn, ext_, set_, names_) \
	{ .enc = ENC_##enc_,                                                                      \
	  .map = map_,                                                                            \
	  .opcode = op_,                                                                          \
	  .pp = PP_##pp_,                                                                         \
	  .w = W_##w_,                                                                            \
	  .l = L_##l_,                                                                            \
	  .mods = MOD_##mod_,                                                                     \
	  .reg = SEL_##reg_,                                                                      \
	  .rm = SEL_##rm_,                                                                        \
	  .vvvv = VVVV_##vvvv_,                                                                   \
	  .imm = imm_,                                                                            \
	  .mnemonic = mn,                                                                         \
	  .ext = ext_,                                                                            \
	  .set = set_,                                                                            \
	  .names = names_ },
#include "analysis/isafallback.def"
#undef ISAFB
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* What the encoding says, as far as the table asks. */
struct fields {
	unsigned enc, map, pp, w, l;
	uint8_t opcode;
	bool no_vvvv; /* VEX/EVEX.vvvv (and EVEX.V') name no register */
	size_t modrm_at; /* offset of the ModRM byte */
};

static bool is_legacy_prefix(uint8_t c)
{
	switch (c) {
	case 0xf0: /* lock */
	case 0xf2:
	case 0xf3:
	case 0x66:
	case 0x67:
	case 0x26: /* segment overrides */
	case 0x2e:
	case 0x36:
	case 0x3e:
	case 0x64:
	case 0x65:
		return true;
	}
	return false;
}

/* VEX (C4, C5) or EVEX (62) at @b[i]: its fields and the opcode after it.  64-bit mode
 * only, where these bytes are never LES, LDS or BOUND. */
static int parse_vex(const uint8_t *b, size_t n, size_t i, struct fields *f)
{
	/* Up to the opcode; EVEX also the ModRM byte, which every EVEX instruction has. */
	size_t need = b[i] == 0xc5 ? 3 : b[i] == 0xc4 ? 4 : 6;

	if (n < i + need)
		return -EINVAL;
	if (b[i] == 0xc5) {
		f->enc = ENC_VEX;
		f->map = 1;
		f->w = 0;
		f->no_vvvv = (b[i + 1] >> 3 & 0xf) == 0xf;
		f->l = b[i + 1] >> 2 & 1;
		f->pp = b[i + 1] & 3;
		f->opcode = b[i + 2];
		f->modrm_at = i + 3;
	} else if (b[i] == 0xc4) {
		f->enc = ENC_VEX;
		f->map = b[i + 1] & 0x1f;
		f->w = b[i + 2] >> 7;
		f->no_vvvv = (b[i + 2] >> 3 & 0xf) == 0xf;
		f->l = b[i + 2] >> 2 & 1;
		f->pp = b[i + 2] & 3;
		f->opcode = b[i + 3];
		f->modrm_at = i + 4;
	} else {
		/* P0 bit 3 set or P1 bit 2 clear: APX's extended-register EVEX, out of scope. */
		if (b[i + 1] & 0x08 || !(b[i + 2] & 0x04))
			return -ENOENT;
		f->enc = ENC_EVEX;
		f->map = b[i + 1] & 0x7;
		f->w = b[i + 2] >> 7;
		f->no_vvvv = (b[i + 2] >> 3 & 0xf) == 0xf && b[i + 3] & 0x08;
		f->pp = b[i + 2] & 3;
		f->l = b[i + 3] >> 5 & 3;
		/* EVEX.b with a register operand turns L'L into a rounding mode: 512 bits. */
		if (b[i + 3] & 0x10 && b[i + 5] >> 6 == 3)
			f->l = L_L512;
		if (f->l > L_L512)
			return -ENOENT;
		f->opcode = b[i + 4];
		f->modrm_at = i + 5;
	}
	return 0;
}

/* Prefixes, then VEX/EVEX or the legacy 0F escapes, up to the opcode. */
static int parse_head(const uint8_t *b, size_t n, struct fields *f)
{
	bool lock = false, osz = false;
	uint8_t rep = 0, rex = 0;
	size_t i = 0;

	memset(f, 0, sizeof(*f));
	for (;; i++) {
		if (i >= n)
			return -EINVAL;
		if (i >= MAX_INSN_LEN)
			return -EINVAL;
		if (is_legacy_prefix(b[i])) {
			lock |= b[i] == 0xf0;
			osz |= b[i] == 0x66;
			if (b[i] == 0xf2 || b[i] == 0xf3)
				rep = b[i];
			rex = 0; /* REX counts only right before the opcode */
		} else if ((b[i] & 0xf0) == 0x40) {
			rex = b[i];
		} else {
			break;
		}
	}
	if (b[i] == 0xc4 || b[i] == 0xc5 || b[i] == 0x62) {
		/* 66, F2, F3, LOCK or REX before VEX/EVEX is #UD, whatever the CPU has. */
		if (lock || osz || rep || rex)
			return -ENOENT;
		return parse_vex(b, n, i, f);
	}
	/* No legacy instruction in the table takes LOCK; with it, they are #UD. */
	if (b[i] != 0x0f || lock)
		return -ENOENT;
	if (n < i + 2 || ((b[i + 1] == 0x38 || b[i + 1] == 0x3a) && n < i + 3))
		return -EINVAL;
	f->enc = ENC_LEGACY;
	if (b[i + 1] == 0x38 || b[i + 1] == 0x3a) {
		f->map = b[i + 1] == 0x38 ? 2 : 3;
		f->opcode = b[i + 2];
		f->modrm_at = i + 3;
	} else {
		f->map = 1;
		f->opcode = b[i + 1];
		f->modrm_at = i + 2;
	}
	/* The mandatory prefix: the last of F2/F3, else 66. */
	f->pp = rep == 0xf2 ? PP_F2 : rep == 0xf3 ? PP_F3 : osz ? PP_66 : PP_NP;
	f->w = rex >> 3 & 1;
	return 0;
}

static bool row_matches(const struct row *r, const struct fields *f, uint8_t modrm)
{
	unsigned mod = modrm >> 6, reg = modrm >> 3 & 7, rm = modrm & 7;

	return (r->pp == PP_ANY || r->pp == f->pp) && (r->w == W_WIG || r->w == f->w) &&
	       (r->l == L_LIG || r->l == f->l) && (r->mods >> mod & 1) &&
	       (r->reg == SEL_ANY || (unsigned)r->reg == reg) &&
	       (r->rm == SEL_ANY || (unsigned)r->rm == rm) && (r->vvvv == VVVV_ANY || f->no_vvvv);
}

/* Bytes of SIB and displacement after ModRM (64-bit mode, with or without 67). */
static size_t addressing_len(const uint8_t *b, size_t n, size_t at, uint8_t modrm, bool *cut)
{
	unsigned mod = modrm >> 6, rm = modrm & 7;
	size_t len = 0;

	*cut = false;
	if (mod == 3)
		return 0;
	if (rm == 4) {
		if (n <= at + 1) {
			*cut = true;
			return 0;
		}
		len = 1;
		if (mod == 0 && (b[at + 1] & 7) == 5)
			len += 4;
	} else if (mod == 0 && rm == 5) {
		len = 4; /* RIP-relative */
	}
	return len + (mod == 1 ? 1 : mod == 2 ? 4 : 0);
}

static void resolve(const char *names, struct featset *out)
{
	while (*names) {
		char name[48];
		size_t n = strcspn(names, " ");

		if (n && n < sizeof(name)) {
			int id;

			memcpy(name, names, n);
			name[n] = '\0';
			id = feature_lookup(name);
			if (id >= 0)
				featset_add(out, id);
		}
		names += n;
		names += strspn(names, " ");
	}
}

int isafallback_lookup(const uint8_t *bytes, size_t n, struct isafallback_match *out)
{
	const struct row *hit = NULL;
	bool candidate = false, cut;
	struct fields f;
	size_t len;
	uint8_t modrm;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!bytes)
		return -EINVAL;
	ret = parse_head(bytes, n, &f);
	if (ret)
		return ret;
	for (size_t i = 0; i < ARRAY_LEN(rows) && !candidate; i++)
		candidate =
			rows[i].enc == f.enc && rows[i].map == f.map && rows[i].opcode == f.opcode;
	if (!candidate)
		return -ENOENT;
	/* Every instruction in the table has a ModRM byte. */
	if (n <= f.modrm_at)
		return -EINVAL;
	modrm = bytes[f.modrm_at];
	for (size_t i = 0; i < ARRAY_LEN(rows) && !hit; i++)
		if (rows[i].enc == f.enc && rows[i].map == f.map && rows[i].opcode == f.opcode &&
		    row_matches(&rows[i], &f, modrm))
			hit = &rows[i];
	if (!hit)
		return -ENOENT;
	len = f.modrm_at + 1 + addressing_len(bytes, n, f.modrm_at, modrm, &cut) + hit->imm;
	if (cut || len > n || len > MAX_INSN_LEN)
		return -EINVAL;
	out->len = (unsigned)len;
	out->mnemonic = hit->mnemonic;
	out->isa_ext = hit->ext;
	out->isa_set = hit->set;
	out->names = hit->names;
	resolve(hit->names, &out->features);
	return 0;
}

int isafallback_row(int i, const char **mnemonic, const char **isa_set, const char **names)
{
	if (i < 0 || (size_t)i >= ARRAY_LEN(rows))
		return -ENOENT;
	*mnemonic = rows[i].mnemonic;
	*isa_set = rows[i].set;
	*names = rows[i].names;
	return 0;
}
