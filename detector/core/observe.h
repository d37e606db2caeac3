/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Observations: the raw facts timing sources hand to the analysis.  Plain structs with one
 * JSON form, one line each in a recording (formats/recording.h, which also carries
 * snapshots, probe runs and faults), so a recording drives exactly the analysis the live
 * daemon runs.  Observations never decide anything; analysis/timing.c does.
 */
#ifndef CPUDRIFT_OBSERVE_H
#define CPUDRIFT_OBSERVE_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "core/event.h"

struct errbuf;

/* X(ID, "json name", "meaning") */
#define OBS_SOURCES(X)                                                                \
	X(STALL, "stall", "an hrtimer ran late on one vCPU (BPF)")                    \
	X(CLOCK_STEP, "clock_step", "CLOCK_REALTIME was set (timerfd cancel-on-set)") \
	X(HOSTCLOCK, "hostclock",                                                     \
	  "offset of a host-following clock (RTC, PTP) from CLOCK_REALTIME")          \
	X(TSC, "tsc", "TSC rate over one interval, against CLOCK_MONOTONIC_RAW")      \
	X(CLOCKSOURCE, "clocksource", "the kernel's current clocksource")             \
	X(KMSG, "kmsg", "a kernel clocksource or TSC watchdog message")               \
	X(STEAL, "steal", "steal time over one interval (/proc/stat)")                \
	X(CPUID_LAT, "cpuid_latency", "median cost of one CPUID exit")                \
	X(HRE, "hre", "Hyper-V reenlightenment interrupt count (/proc/interrupts)")

enum obs_source {
#define X(id, name, desc) OBS_##id,
	OBS_SOURCES(X)
#undef X
		OBS__COUNT
};

/* Longest text an observation carries (kernel messages are cut here). */
#define OBS_TEXT_MAX 200

struct observation {
	enum obs_source src;
	int64_t mono_ns; /* CLOCK_MONOTONIC when observed */
	int64_t real_ns; /* CLOCK_REALTIME when observed */
	union {
		struct {
			int64_t cpu;
			int64_t lateness_ns; /* the timer ran this late; it was due at mono_ns - this */
			int64_t online; /* online vCPUs when observed */
		} stall;
		struct {
			int64_t step_ns; /* change of CLOCK_REALTIME - CLOCK_BOOTTIME at the set */
		} clock_step;
		struct {
			int64_t offset_ns; /* host clock - CLOCK_REALTIME; text: "rtc0", "ptp0" */
			int64_t err_ns; /* uncertainty of that offset */
		} hostclock;
		struct {
			int64_t hz; /* measured TSC rate over the interval */
			int64_t interval_ns; /* CLOCK_MONOTONIC_RAW length of the interval */
			int64_t ref_hz; /* advertised rate (CPUID 0x15/0x16/0x40000010), 0 if none */
		} tsc;
		struct {
			int64_t steal_ns; /* steal time of all vCPUs together in the interval */
			int64_t interval_ns; /* length of the interval */
			int64_t ncpu;
		} steal;
		struct {
			int64_t median_ns;
			int64_t p90_ns;
			int64_t n; /* CPUID instructions timed */
		} cpuid_lat;
		struct {
			int64_t count; /* summed over CPUs */
		} hre;
		int64_t v[3];
	};
	char text[OBS_TEXT_MAX];
};

extern const char *const obs_source_names[OBS__COUNT];
/** -1 when unknown. */
int observe_source_lookup(const char *name);

/** Zero @o and set its source and both clocks to now. */
void observe_init(struct observation *o, enum obs_source src);

/**
 * One JSON object: {"src", "mono_ns", "real_ns", the source's value fields by name, its text
 * under the source's key ("clock", "name", "msg")}.
 */
struct json_object *observe_to_json(const struct observation *o);
/** Inverse of observe_to_json.  -EINVAL with @err filled on malformed input. */
int observe_from_json(struct json_object *j, struct observation *o, struct errbuf *err);

/**
 * A new event stamped with @o's clocks rather than now: the event happened when it was
 * observed, which matters on replay.  NULL on allocation failure.
 */
struct event *observe_event(const struct observation *o, enum event_kind kind, enum severity sev,
			    const char *subject, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#endif
