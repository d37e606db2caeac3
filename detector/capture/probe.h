/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Instruction probes: run the probe table (probes/) in a forked child and judge each
 * outcome against what a snapshot advertises.  probe_execute() gathers facts (it forks);
 * probe_classify() and the shadow functions are pure.
 */
#ifndef CPUDRIFT_PROBE_H
#define CPUDRIFT_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analysis/classify.h"
#include "core/features.h"
#include "core/snapshot.h"
#include "probes/probes.h"

struct snapshot;
struct errbuf;

/* What happened when the child ran one probe. */
enum probe_outcome {
	PROBE_NOT_RUN, /* not selected, unprobeable, or the run's deadline passed */
	PROBE_EXECUTED, /* ran and behaved as the feature */
	PROBE_FAULTED, /* SIGILL (or SIGSEGV/SIGBUS/SIGFPE) inside the guard */
	PROBE_LEGACY, /* ran, but as an older instruction (LZCNT as BSR) */
	PROBE_PERM_REFUSED, /* the kernel refused ARCH_REQ_XCOMP_PERM for AMX */
	PROBE_CRASHED, /* the child died while running it */
	PROBE_HUNG, /* the child stopped making progress while running it */
};

enum probe_result {
	PROBE_R_OK, /* advertised, executes */
	PROBE_R_MISMATCH, /* advertised, faults: the smoking gun of a bad migration */
	PROBE_R_MASKED, /* not advertised, executes: the shadow set */
	PROBE_R_ABSENT, /* not advertised, faults */
	PROBE_R_OS_DISABLED, /* the OS has not enabled it (XCR0, CR4, AMX permission) */
	PROBE_R_UNPROBEABLE, /* no user-mode instruction can tell */
	PROBE_R_ERROR, /* the probe crashed, hung or was not run */
	PROBE_R__COUNT
};

/* Raw observation for one table row; filled by probe_execute(). */
struct probe_obs {
	enum probe_outcome outcome;
	int sig; /* signal for FAULTED and CRASHED */
	uint32_t ns; /* time the probe took in the child, fault delivery included */
};

struct probe_exec_opts {
	int timeout_ms; /* the whole run; 0: 5000 */
	int stall_ms; /* longest a single probe may take before it counts as hung; 0: 1000 */
};

/**
 * Run the probes of @table whose @select entry is true (NULL: all) in forked children and
 * fill @obs[0..n).  A child that crashes or hangs is reported on the probe it was running
 * and a fresh child carries on after it.  Returns the number of children that died
 * (0 on a clean run) or a negative errno: -EINTR when a child was killed from outside
 * (SIGTERM, SIGINT, SIGHUP, SIGQUIT, a SIGKILL not of ours): the run is no result.
 */
int probe_execute(const struct probe_def *table, size_t n, const bool *select,
		  struct probe_obs *obs, const struct probe_exec_opts *o);

/** Pure: the verdict for one probe. */
enum probe_result probe_classify(bool probeable, bool advertised, bool os_enabled,
				 enum probe_outcome outcome);

const char *probe_result_name(enum probe_result r);
const char *probe_outcome_name(enum probe_outcome o);

/* One judged row. */
struct probe_row {
	const struct probe_def *def;
	int feature; /* feature table id, -1 when the table lacks the name */
	bool advertised; /* by the snapshot */
	bool os_enabled; /* XCR0 state and OS switch, per the snapshot */
	struct probe_obs obs;
	enum probe_result result;
};

struct probe_report {
	size_t n;
	struct probe_row *rows;
	struct featset shadow; /* features judged masked */
	int crashed; /* children lost to crashes or hangs */
	uint64_t elapsed_ns; /* the whole run, forks included */
};

struct probe_opts {
	const struct probe_def *table; /* NULL: probe_table */
	size_t n;
	const struct featset *only; /* NULL: every probe; else probes of these features */
	struct probe_exec_opts exec;
};

/**
 * Run the probes and judge them against @s (its features and XCR0 are taken as what the
 * CPU advertises, so a snapshot imported from elsewhere simulates another CPUID view).
 * 0 or a negative errno with @err filled (-EINTR: interrupted from outside, no result).
 */
int probe_run(const struct snapshot *s, const struct probe_opts *o, struct probe_report **out,
	      struct errbuf *err);
void probe_report__free(struct probe_report *r);

/** What @r says per feature, for the analysis (a mismatch outranks a success). */
void probe_summarize(const struct probe_report *r, struct probe_summary *out);

/** True when @r has a mismatch. */
bool probe_report_has_mismatch(const struct probe_report *r);

/**
 * Whether the OS enabled what probe @p needs: XCR0 state and the CPUID bit that mirrors a
 * CR4 switch (osxsave, ospke) as @s reports them, its kernel flags, and @hwcap2 (the
 * AT_HWCAP2 of the kernel the probes ran under) for FSGSBASE.  Pure.
 */
bool probe_os_enabled(const struct probe_def *p, int feature, const struct snapshot *s,
		      unsigned long hwcap2);

#endif
