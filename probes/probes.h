/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The instruction probe table: for each feature, one user-mode instruction that raises
 * #UD when the silicon lacks the feature, wrapped in a tiny function that sets up harmless
 * operands and undoes any state it touched.  The rows live in probes.def; the runner is
 * detector/probe.c.
 */
#ifndef CPUDRIFT_PROBES_H
#define CPUDRIFT_PROBES_H

#include <stddef.h>
#include <stdint.h>

/*
 * Each probe function gets a zeroed, page-aligned scratch area of PROBE_SCRATCH_SIZE bytes
 * (its memory operands point there) and returns 1 when the instruction behaved as the
 * feature defines it, 0 when it ran as some older instruction (LZCNT without ABM runs as
 * BSR).
 */
#define PROBE_SCRATCH_SIZE 8192
typedef int (*probe_fn)(void *scratch);

enum probe_flags {
	PROBE_AMX = 1 << 0, /* needs arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA) first */
	PROBE_DECODER_GAP = 1 << 1, /* Zydis 4.0 predates this instruction */
	PROBE_OS_FSGSBASE = 1 << 2, /* needs CR4.FSGSBASE: AT_HWCAP2 bit HWCAP2_FSGSBASE */
};

struct probe_def {
	const char *feature; /* feature table name (/proc/cpuinfo spelling) */
	probe_fn fn; /* NULL: unprobeable */
	const uint8_t *insn; /* the probed instruction's bytes inside fn */
	const uint8_t *insn_end;
	const char *mnemonic; /* as written in probes.def, for people */
	const char *os_feature; /* CPUID bit that says the OS enabled it (osxsave, ospke) */
	const char *os_kflag; /* /proc/cpuinfo flag the kernel shows only when it enabled it */
	unsigned flags; /* enum probe_flags */
	const char *unprobeable; /* why no probe can tell (fn == NULL) */
};

extern const struct probe_def probe_table[];
extern const size_t probe_table_len;

static inline size_t probe_insn_len(const struct probe_def *p)
{
	return p->insn ? (size_t)(p->insn_end - p->insn) : 0;
}

#endif
