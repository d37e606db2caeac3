/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fault watcher (capture): loads the signal_generate BPF program, polls its ring
 * buffer and hands each fault to a callback, enriched with what /proc still knows about
 * the process (executable, the mapping that holds the IP, cgroup).  It gathers facts;
 * attribution and classification are done by the caller (attrib.h, classify.h).
 */
#ifndef CPUDRIFT_FAULTWATCH_H
#define CPUDRIFT_FAULTWATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "core/fault.h"

struct errbuf;

struct faultwatch_opts {
	uint64_t sig_mask; /* 1 << signo; 0: SIGILL only */
	enum fault_variant variant; /* FAULT_VARIANT_AUTO: tp_btf, then raw_tp, then tracepoint */
	uint32_t burst; /* detail events a site may emit at once; 0: 5 */
	uint64_t interval_ns; /* one more detail event per site per interval; 0: 1 s */
};

/** Called for each fault; a non-zero return stops faultwatch_poll() with that value. */
typedef int (*faultwatch_cb)(const struct fault *f, void *ctx);

struct faultwatch;

/**
 * Open, configure, load and attach.  With FAULT_VARIANT_AUTO the variants are tried in order
 * and the first that loads and attaches wins.  0 or a negative errno with @err filled.
 */
int faultwatch__new(const struct faultwatch_opts *o, faultwatch_cb cb, void *ctx,
		    struct faultwatch **out, struct errbuf *err);
void faultwatch__free(struct faultwatch *fw);

/** The variant in use. */
enum fault_variant faultwatch_variant(const struct faultwatch *fw);
/** Ring buffer epoll fd, for a caller's own event loop (then call faultwatch_consume). */
int faultwatch_fd(const struct faultwatch *fw);
/** Wait up to @timeout_ms and deliver events.  Number delivered or a negative errno. */
int faultwatch_poll(struct faultwatch *fw, int timeout_ms);
/** Watch the signals of @sig_mask (0: SIGILL) from now on, without reloading the program. */
void faultwatch_set_sig_mask(struct faultwatch *fw, uint64_t sig_mask);
/** The loaded program's fd (for bpf_stats run time and count). */
int faultwatch_prog_fd(const struct faultwatch *fw);
/** Deliver what is ready, without waiting. */
int faultwatch_consume(struct faultwatch *fw);

struct faultwatch_stats {
	uint64_t faults; /* every synchronous fault of a watched signal */
	uint64_t events; /* detail events submitted */
	uint64_t suppressed; /* rate-limited */
	uint64_t drops; /* ring buffer full */
	uint64_t untracked; /* site table full: counted in faults only */
};

int faultwatch_stats(const struct faultwatch *fw, struct faultwatch_stats *out);
/** The exact number of faults at (@pid, @ip); -ENOENT when none was seen or pruned. */
int faultwatch_site_count(const struct faultwatch *fw, int pid, uint64_t ip, uint64_t *count);
/** Forget sites of processes that no longer exist.  Number removed or a negative errno. */
int faultwatch_prune(struct faultwatch *fw);

/** Fill the /proc enrichment of @f (exe, mapping, cgroup) as far as the process allows. */
void faultwatch_enrich(struct fault *f);

#endif
