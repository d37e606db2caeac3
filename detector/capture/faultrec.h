/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fault watcher's records, made into the shared vocabulary (capture): a kernel fault
 * record or a site of the sites map into a struct fault, a forged-signal record into a
 * struct forged_signal, and the /proc enrichment that is only done while the pid still
 * names the process that faulted (its start time is checked through one /proc/PID
 * directory descriptor, so a reused pid is never read).
 */
#ifndef CPUDRIFT_FAULTREC_H
#define CPUDRIFT_FAULTREC_H

#include <linux/types.h>

#include "bpf/faultwatch.h"
#include "core/fault.h"

/** A detail record of the kernel into @f (kind FAULT_DETAIL; count and delta are the caller's). */
void faultrec_from_event(struct fault *f, const struct fw_fault_rec *e);

/** A site of the sites map into @f (kind FAULT_FLUSH; no paths: the kernel kept none). */
void faultrec_from_site(struct fault *f, const struct fw_key *k, const struct fw_site *s,
			__u32 variant);

/** A forged-signal record into @s. */
void faultrec_forged(struct forged_signal *s, const struct fw_forged_rec *e);

/** The name of a rejection reason ("sent-by-another-task", ...). */
const char *faultrec_reject_name(unsigned reason);

/**
 * What /proc adds to @f: the cgroup path, and the mapping when the kernel could not read
 * it (its mmap lock was busy).  Nothing when the process is gone or the pid names another
 * process now (start time differs).
 */
void faultrec_enrich(struct fault *f);

/**
 * 1 when @pid is alive and started at @start_ns (CLOCK_BOOTTIME ns, the kernel's
 * start_boottime), 0 when it is gone or another process has the pid now, negative errno
 * when that cannot be told.
 */
int faultrec_proc_alive(int pid, uint64_t start_ns);

#endif
