/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Events: the only thing sinks (store, journald, hooks, textfile, CLI) ever see.
 * One struct, one JSON form (event_to_json), one table of kinds.
 */
#ifndef CPUDRIFT_EVENT_H
#define CPUDRIFT_EVENT_H

#include <stdint.h>

#include <json-c/json.h>

enum severity { SEV_INFO, SEV_NOTICE, SEV_WARNING, SEV_CRITICAL };

const char *severity_name(enum severity s);
/** -1 when unknown. */
int severity_lookup(const char *name);

/* X(ID, "kind", "one-line meaning") */
#define EVENT_KINDS(X)                                                                             \
	X(CPUID_DRIFT, "cpuid.drift",                                                              \
	  "CPUID-visible features or identity changed within this boot")                           \
	X(CPUID_BOOT_DRIFT, "cpuid.boot_drift",                                                    \
	  "the VM booted with a different CPUID than last boot")                                   \
	X(CPUID_VCPU_MISMATCH, "cpuid.vcpu_mismatch", "vCPUs disagree")                            \
	X(PROBE_MISMATCH, "probe.mismatch", "an advertised feature faults on execution")           \
	X(PROBE_SHADOW_DRIFT, "probe.shadow_drift", "the masked-but-executable set changed")       \
	X(FAULT_SIGILL, "fault.sigill", "a classified illegal-instruction fault")                  \
	X(TIMING_STALL, "timing.stall", "the VM (or a vCPU) stood still")                          \
	X(TIMING_TSC_RATE, "timing.tsc_rate", "the TSC rate changed")                              \
	X(TIMING_CLOCK_STEP, "timing.clock_step", "CLOCK_REALTIME or a host clock stepped")        \
	X(TIMING_CLOCKSOURCE, "timing.clocksource", "the clocksource changed or was distrusted")   \
	X(TIMING_STEAL, "timing.steal", "steal time jumped")                                       \
	X(TIMING_CPUID_LATENCY, "timing.cpuid_latency", "the cost of a CPUID exit shifted")        \
	X(MIGRATION_SUSPECTED, "migration.suspected", "the fused verdict: this VM probably moved") \
	X(MIGRATION_RESOLVED, "migration.resolved",                                                \
	  "an incident closed: quiet for long, or nothing at risk any more")                       \
	X(WATCHER_FORGED, "watcher.forged",                                                        \
	  "a watched signal that was not a CPU fault: sent or injected, never evidence")           \
	X(WATCHER_LOSS, "watcher.loss",                                                            \
	  "the fault watcher could not keep or detail every fault (counts stay exact)")            \
	X(STORE_RECOVERED, "store.recovered",                                                      \
	  "the evidence store was corrupt: moved aside, a new one started")

enum event_kind {
#define X(id, name, desc) EV_##id,
	EVENT_KINDS(X)
#undef X
		EV__COUNT
};

extern const char *const event_kind_names[EV__COUNT];
extern const char *const event_kind_descs[EV__COUNT];
/** -1 when unknown. */
int event_kind_lookup(const char *name);

struct event {
	enum event_kind kind;
	enum severity sev;
	int64_t realtime_ns;
	int64_t monotonic_ns;
	char boot_id[40];
	char subject[64]; /* feature, comm, vCPU, clock... whatever the event is about */
	int pid; /* 0 when not about a process */
	char summary[200]; /* one human line */
	struct json_object *body; /* the evidence; owned by the event */
};

/** A new event stamped with the current clocks and boot id; body is an empty object. */
struct event *event__new(enum event_kind kind, enum severity sev);
void event__free(struct event *e);
/** {"kind", "severity", "time", "realtime_ns", "monotonic_ns", "boot_id", "subject", "pid",
 *  "summary", "body"} — a new reference. */
struct json_object *event_to_json(const struct event *e);
/** Inverse of event_to_json; NULL on malformed input. */
struct event *event_from_json(struct json_object *o);

/* A growable list of owned events. */
struct evlist {
	size_t n, cap;
	struct event **v;
};

/** Append @e (ownership moves to the list, also on failure).  0 or -ENOMEM. */
int evlist_push(struct evlist *l, struct event *e);
/** Free every event and the array. */
void evlist_free(struct evlist *l);

/** The kernel's boot id (/proc/sys/kernel/random/boot_id), cached; "" if unreadable. */
const char *event_boot_id(void);

#endif
