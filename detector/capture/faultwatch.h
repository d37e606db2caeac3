/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fault watcher (capture): loads the signal_generate BPF program, polls its ring
 * buffer and hands each fault to a callback, enriched with what /proc still knows about
 * the process (executable, the mapping that holds the IP, cgroup).  It gathers facts;
 * attribution and classification are done by the caller (attrib.h, classify.h).
 */
#ifndef CPUDRIFT_FAULTWATCH_H
#define CPUDRIFT_FAULTWATCH_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

struct errbuf;

enum faultwatch_variant {
	FAULTWATCH_AUTO = 0, /* tp_btf, then raw_tp, then tracepoint */
	FAULTWATCH_TP_BTF = 1,
	FAULTWATCH_RAW_TP = 2,
	FAULTWATCH_TRACEPOINT = 3,
};

/** "tp_btf", "raw_tp", "tracepoint" ("auto" for FAULTWATCH_AUTO). */
const char *faultwatch_variant_name(enum faultwatch_variant v);
/** -1 when unknown. */
int faultwatch_variant_lookup(const char *name);

/** "ILL", "SEGV", "BUS", "FPE", "TRAP" for the signals the watcher can follow; NULL else. */
const char *faultwatch_signal_name(int sig);
/** Signal number for "ILL"/"SIGILL" (any case), or -1. */
int faultwatch_signal_lookup(const char *name);
/**
 * Parse a list such as "SIGILL,SIGSEGV" or "ILL SEGV" into a mask (1 << signo).  0, or
 * -EINVAL for an empty list or an unknown name (copied into @bad when not NULL).
 */
int faultwatch_signals_parse(const char *list, uint64_t *mask, char *bad, size_t badlen);
/** "SIGILL,SIGSEGV" for a mask. */
void faultwatch_signals_format(uint64_t mask, char *buf, size_t len);

struct faultwatch_opts {
	uint64_t sig_mask; /* 1 << signo; 0: SIGILL only */
	enum faultwatch_variant variant;
	uint32_t burst; /* detail events a site may emit at once; 0: 5 */
	uint64_t interval_ns; /* one more detail event per site per interval; 0: 1 s */
};

struct faultwatch_fault {
	/* from the kernel */
	uint64_t boot_ns; /* CLOCK_BOOTTIME of the fault */
	uint64_t ip;
	uint64_t addr; /* si_addr; 0 when the variant cannot see it */
	uint64_t start_ns; /* process start, CLOCK_BOOTTIME ns */
	uint64_t cgroup_id;
	uint64_t count; /* faults at (pid, ip) so far, this one included */
	uint64_t suppressed; /* faults at (pid, ip) rate-limited since the previous event */
	int pid, tid;
	int sig, si_code;
	unsigned trap_nr;
	unsigned nbytes;
	uint8_t bytes[16];
	char comm[16];
	enum faultwatch_variant variant;

	/* enrichment from /proc; empty strings when the process was already gone */
	char exe[PATH_MAX];
	char map_path[PATH_MAX]; /* file mapping that holds ip, "[anon]" or "[stack]"... */
	uint64_t map_offset; /* file offset of ip within map_path */
	bool has_map;
	char cgroup[256];
};

/** Called for each fault; a non-zero return stops faultwatch_poll() with that value. */
typedef int (*faultwatch_cb)(const struct faultwatch_fault *f, void *ctx);

struct faultwatch;

/**
 * Open, configure, load and attach.  With FAULTWATCH_AUTO the variants are tried in order
 * and the first that loads and attaches wins.  0 or a negative errno with @err filled.
 */
int faultwatch__new(const struct faultwatch_opts *o, faultwatch_cb cb, void *ctx,
		    struct faultwatch **out, struct errbuf *err);
void faultwatch__free(struct faultwatch *fw);

/** The variant in use. */
enum faultwatch_variant faultwatch_variant(const struct faultwatch *fw);
/** Ring buffer epoll fd, for a caller's own event loop (then call faultwatch_consume). */
int faultwatch_fd(const struct faultwatch *fw);
/** Wait up to @timeout_ms and deliver events.  Number delivered or a negative errno. */
int faultwatch_poll(struct faultwatch *fw, int timeout_ms);
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
void faultwatch_enrich(struct faultwatch_fault *f);

#endif
