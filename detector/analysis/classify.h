/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fault classification (pure): given what an instruction needs (attrib.h) and what this
 * VM advertises, advertised earlier, enables and executes, say why the fault happened.
 */
#ifndef CPUDRIFT_CLASSIFY_H
#define CPUDRIFT_CLASSIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "analysis/attrib.h"
#include "core/fault.h"
#include "core/features.h"
#include "core/snapshot.h"

/* X(ID, "name", "meaning") */
#define FAULT_CLASSES(X)                                                                           \
	X(ADVERTISED_BUT_FAULTING, "advertised-but-faulting",                                      \
	  "CPUID says yes, the CPU says no: a mismatched migration")                               \
	X(FEATURE_LOST, "feature-lost", "advertised at the baseline or at process start, not now") \
	X(NEVER_ADVERTISED, "never-advertised",                                                    \
	  "the program used a feature this VM never had: a dispatch or build bug")                 \
	X(OS_DISABLED, "os-disabled", "advertised, but XCR0 or the AMX permission keeps it off")   \
	X(NOT_FEATURE_RELATED, "not-feature-related",                                              \
	  "a deliberate trap (ud2) or a fault no CPU feature explains")                            \
	X(UNDECODABLE, "undecodable", "the bytes at the fault IP do not decode")                   \
	X(PROBE, "probe", "one of cpudrift's own instruction probes")

enum fault_class {
#define X(id, name, desc) FC_##id,
	FAULT_CLASSES(X)
#undef X
		FC__COUNT
};

const char *fault_class_name(enum fault_class c);
const char *fault_class_desc(enum fault_class c);
/** -1 when unknown. */
int fault_class_lookup(const char *name);
/** The classes that mean "this VM lost a feature its programs use": a migration's damage. */
bool fault_class_is_migration(const char *name);

/*
 * cpudrift's instruction probe child calls itself this (prctl PR_SET_NAME), for people
 * reading ps.  A name proves nothing: probes are recognised by where their code lives.
 */
#define PROBE_COMM "cpudrift-probe"

struct classify_input {
	const struct attribution *attr; /* NULL or !decoded: undecodable */
	int sig; /* SIGILL, SIGSEGV, ... */
	unsigned trap_nr; /* x86 vector: 6 #UD, 7 #NM (XFD), 13 #GP */
	const char *comm; /* for people; never what makes a probe */
	const struct fault *fault; /* where the IP lies, as the kernel saw it; NULL: unknown */
	/* the running cpudrift's probe code: a fault there is FC_PROBE (NULL: none known) */
	const struct code_range *probe_code;
	const struct featset *advertised; /* CPUID now */
	bool has_xcr0;
	uint64_t xcr0;
	const struct featset *baseline; /* NULL when there is none */
	const struct featset *at_start; /* advertised when the process started; NULL: unknown */
	const struct probe_summary *probe; /* NULL: no probe run */
	int amx_permitted; /* 1 granted, 0 not granted, -1 unknown */
};

struct classification {
	enum fault_class cls;
	struct featset missing; /* needed, not advertised now */
	struct featset lost; /* of those, advertised at the baseline or at process start */
	struct featset disabled; /* advertised, but the OS keeps them off */
	bool probe_confirms; /* a probe saw the same feature fault */
	char reason[200];
};

/** Classify one fault.  Never fails; @out is always filled. */
void classify_fault(const struct classify_input *in, struct classification *out);

#endif
