/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The cpudrift service (`cpudrift run`). */
#ifndef CPUDRIFT_DAEMON_H
#define CPUDRIFT_DAEMON_H

#include <stdbool.h>

/*
 * glibc picks AVX2/AVX-512 routines per process at start; masked here, the daemon keeps
 * x86-64-v2 code paths and survives a migration that takes the rest away.  The unit
 * (packaging/systemd/cpudrift.service) sets the same value; a test keeps them equal.
 * glibc 2.36 names; glibc ignores names it does not know.
 */
#define DAEMON_HWCAPS_TUNABLE                                                                  \
	"glibc.cpu.hwcaps=-AVX,-AVX2,-FMA,-FMA4,-BMI1,-BMI2,-LZCNT,-MOVBE,-AVX512F,-AVX512CD," \
	"-AVX512BW,-AVX512DQ,-AVX512VL,-AVX512ER,-AVX512PF,-AVX_Fast_Unaligned_Load,-XSAVEC"

struct daemon_opts {
	const char *config_path; /* NULL: /etc/cpudrift/cpudrift.conf if it exists */
	const char *state_dir; /* NULL: the configuration's */
	bool verbose_set; /* -v given: keep its log level over the configuration's */
	const char *replay_path; /* a recording in place of the live sources; NULL: live */
};

/*
 * `cpudrift run`'s exit status when the store was written by a newer cpudrift (a
 * downgrade): the file is left untouched, and the unit's RestartPreventExitStatus= names
 * this status, so systemd does not restart into the same refusal.
 */
#define DAEMON_EXIT_STORE_NEWER 3

/**
 * Run until SIGTERM/SIGINT (or, with replay_path, to the end of the recording).  0 on a
 * clean stop (a SIGTERM during the start included), a negative errno on a fatal error:
 * -EPROTO only when the store is newer than this build (DAEMON_EXIT_STORE_NEWER).
 */
int daemon_run(const struct daemon_opts *o);

#endif
