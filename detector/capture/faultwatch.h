/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fault watcher (capture): loads the signal_generate BPF program, which keeps only
 * the signals the kernel raised from a CPU exception (see bpf/faultwatch.bpf.c), and turns
 * what it reports into struct fault records: one per detailed fault, and flushes of the
 * faults the kernel counted without detailing.  Every fault is counted exactly once on
 * the records' "delta", whatever the kernel could detail or store.  It gathers facts;
 * attribution and classification are done by the caller (faultevent.h).
 */
#ifndef CPUDRIFT_FAULTWATCH_H
#define CPUDRIFT_FAULTWATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/fault.h"

struct errbuf;

/** Called for each fault record; a non-zero return stops the delivery with that value. */
typedef int (*faultwatch_cb)(const struct fault *f, void *ctx);
/** Called for each forged-signal record (the kernel rate-limits them). */
typedef int (*faultwatch_forged_cb)(const struct forged_signal *s, void *ctx);

#define FAULTWATCH_RING_DEFAULT (512u * 1024)
#define FAULTWATCH_RING_MAX (256u * 1024 * 1024)

struct faultwatch_opts {
	uint64_t sig_mask; /* 1 << signo; 0: SIGILL only */
	enum fault_variant variant; /* FAULT_VARIANT_AUTO: tp_btf, then raw_tp */
	uint32_t burst; /* detail records a site may emit at once; 0: 5 */
	uint64_t interval_ns; /* one more detail record per site per interval; 0: 1 s */
	uint32_t max_sites; /* sites one process may hold; 0: 64 */
	uint32_t detail_burst; /* detail records of all sites at once; 0: 64 */
	uint64_t detail_interval_ns; /* one more per interval; 0: 1/32 s */
	uint64_t ring_bytes; /* the ring buffer, rounded up to a power-of-two number of pages;
				 0: 512 KiB */
	faultwatch_forged_cb on_forged; /* NULL: forged signals are only counted */
};

struct faultwatch;

/**
 * Open, configure, load and attach.  With FAULT_VARIANT_AUTO the variants are tried in order
 * and the first that loads and attaches wins.  FAULT_VARIANT_TRACEPOINT is refused
 * (-EOPNOTSUPP): its record has no si_addr.  0 or a negative errno with @err filled.
 */
int faultwatch__new(const struct faultwatch_opts *o, faultwatch_cb cb, void *ctx,
		    struct faultwatch **out, struct errbuf *err);
void faultwatch__free(struct faultwatch *fw);

/** The variant in use. */
enum fault_variant faultwatch_variant(const struct faultwatch *fw);
/** Ring buffer epoll fd, for a caller's own event loop (then call faultwatch_consume). */
int faultwatch_fd(const struct faultwatch *fw);
/** Watch the signals of @sig_mask (0: SIGILL) from now on, without reloading the program. */
void faultwatch_set_sig_mask(struct faultwatch *fw, uint64_t sig_mask);
/** The loaded signal_generate program's fd (bpf_stats run time and count). */
int faultwatch_prog_fd(const struct faultwatch *fw);
/** The sched_process_exit program's fd. */
int faultwatch_exit_prog_fd(const struct faultwatch *fw);

/** Wait up to @timeout_ms and deliver every record ready.  Number delivered or -errno. */
int faultwatch_poll(struct faultwatch *fw, int timeout_ms);
/**
 * Deliver at most @budget records (0: all) without waiting.  Number delivered or -errno;
 * *@more (may be NULL) says records remain.
 */
int faultwatch_consume(struct faultwatch *fw, unsigned budget, bool *more);

/**
 * Deliver what the kernel counted and no record carried yet: a FAULT_FLUSH record for
 * each site whose faults have been pending for @min_age_ns (0: every site), a
 * FAULT_UNTRACKED record for each catch-all with new faults.  Processes that exited are
 * flushed whatever the age, then forgotten.  At most @budget records (0: no limit);
 * *@more (may be NULL) says the budget stopped it.  Number delivered or -errno.
 */
int faultwatch_flush(struct faultwatch *fw, int64_t min_age_ns, unsigned budget, bool *more);
/** Whether an exit since the last flush asks for one now. */
bool faultwatch_flush_wanted(const struct faultwatch *fw);

/** The kernel's counters, summed over CPUs. */
int faultwatch_stats(const struct faultwatch *fw, struct watcher_counts *out);
/** The exact number of faults at (@pid, @ip) in its newest image; -ENOENT when none. */
int faultwatch_site_count(const struct faultwatch *fw, int pid, uint64_t ip, uint64_t *count);

#endif
