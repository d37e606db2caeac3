// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The probe functions are top-level assembly in a section of their own: three labels per
 * probe (entry, the probed instruction, its end) give the runner something to call and the
 * tests the exact bytes to decode.  Top-level asm is assembled whatever -march says, so the
 * program stays baseline x86-64 while its probes use any extension.  The section's name is
 * a C identifier, so the linker keeps it apart and defines __start_cpudrift_probes and
 * __stop_cpudrift_probes: the fault watcher knows a probe's fault by that range of the
 * running binary (capture/selfcode.h), not by who ran it.
 */
#include <stddef.h>

#include "probes/probes.h"

#define P(sym, name, setup, ins, after, fl, osf, osk)                            \
	__asm__(".pushsection cpudrift_probes,\"ax\",@progbits\n\t"              \
		".p2align 4\n"                                                   \
		"cpudrift_probe_" #sym ":\n\t" setup "\n"                        \
		"cpudrift_probe_" #sym "_insn:\n\t" ins "\n"                     \
		"cpudrift_probe_" #sym "_end:\n\t" after "\n\t"                  \
		"ret\n\t"                                                        \
		".type cpudrift_probe_" #sym ", @function\n\t"                   \
		".size cpudrift_probe_" #sym ", . - cpudrift_probe_" #sym "\n\t" \
		".popsection\n");                                                \
	int cpudrift_probe_##sym(void *scratch);                                 \
	extern const uint8_t cpudrift_probe_##sym##_insn[], cpudrift_probe_##sym##_end[];
#define U(name, why)
#include "probes/probes.def"
#undef P
#undef U

const struct probe_def probe_table[] = {
#define P(sym, name, setup, ins, after, fl, osf, osk) \
	{ .feature = name,                            \
	  .fn = cpudrift_probe_##sym,                 \
	  .insn = cpudrift_probe_##sym##_insn,        \
	  .insn_end = cpudrift_probe_##sym##_end,     \
	  .mnemonic = ins,                            \
	  .os_feature = osf,                          \
	  .os_kflag = osk,                            \
	  .flags = fl },
#define U(name, why) { .feature = name, .unprobeable = why },
#include "probes/probes.def"
#undef P
#undef U
};

const size_t probe_table_len = sizeof(probe_table) / sizeof(probe_table[0]);
