/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What every BPF source of cpudrift shares with libbpf (capture): its messages routed
 * through our log, set up once for the process.
 */
#ifndef CPUDRIFT_KERNBPF_H
#define CPUDRIFT_KERNBPF_H

/**
 * Route libbpf's messages through core/log: warnings and info with -v, its debug output
 * (verifier logs) with -vv.  Idempotent; every BPF module calls it before opening.
 */
void kernbpf_init(void);

#endif
