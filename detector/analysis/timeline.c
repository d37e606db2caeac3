// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/report.h"
#include "analysis/timeline.h"

#define COLS REPORT_COLUMNS

struct tick {
	int64_t t, a, b, c;
};

struct timeline {
	int64_t t0, t1;
	uint8_t ev_sev[EV__COUNT][COLS]; /* highest severity + 1; 0: none */
	uint32_t ev_n[EV__COUNT][COLS];
	int64_t ev_t[EV__COUNT][COLS]; /* the first event's time in the bin */
	int64_t stall[REPORT_MAX_VCPUS][COLS]; /* the worst lateness, ns; 0: none */
	int64_t host[COLS];
	bool host_has[COLS];
	char host_clock[OBS_TEXT_MAX];
	int64_t cpuid[COLS];
	bool cpuid_has[COLS];
	struct tick snaps[REPORT_MAX_TICKS], probes[REPORT_MAX_TICKS];
	size_t nsnaps, nprobes;
	struct {
		int64_t t;
		char conf[16];
		int sev;
	} verdicts[REPORT_MAX_LIST];
	size_t nverdicts;
};

struct timeline *timeline__new(int64_t t0_ns, int64_t t1_ns)
{
	struct timeline *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->t0 = t0_ns;
	t->t1 = t1_ns > t0_ns ? t1_ns : t0_ns + 1000000000;
	return t;
}

void timeline__free(struct timeline *t)
{
	free(t);
}

/* The bin of @ns; times outside the window go to its edges. */
static int col(const struct timeline *t, int64_t ns)
{
	__int128 c;

	if (ns <= t->t0)
		return 0;
	if (ns >= t->t1)
		return COLS - 1;
	c = (__int128)(ns - t->t0) * COLS / (t->t1 - t->t0);
	return c >= COLS ? COLS - 1 : (int)c;
}

static int64_t col_time(const struct timeline *t, int c)
{
	return t->t0 + (int64_t)((__int128)(t->t1 - t->t0) * (2 * c + 1) / (2 * COLS));
}

void timeline_add_event(struct timeline *t, const struct event *e)
{
	int c = col(t, e->realtime_ns);

	if ((unsigned)e->kind >= EV__COUNT)
		return;
	if (!t->ev_n[e->kind][c]++)
		t->ev_t[e->kind][c] = e->realtime_ns;
	if (e->sev + 1 > t->ev_sev[e->kind][c])
		t->ev_sev[e->kind][c] = (uint8_t)(e->sev + 1);
	if (e->kind == EV_MIGRATION_SUSPECTED && t->nverdicts < REPORT_MAX_LIST) {
		struct json_object *v;

		t->verdicts[t->nverdicts].t = e->realtime_ns;
		t->verdicts[t->nverdicts].sev = e->sev;
		if (json_object_object_get_ex(e->body, "confidence", &v))
			snprintf(t->verdicts[t->nverdicts].conf, sizeof(t->verdicts[0].conf), "%s",
				 json_object_get_string(v));
		t->nverdicts++;
	}
}

void timeline_add_observation(struct timeline *t, const struct observation *o)
{
	int c = col(t, o->real_ns);

	switch (o->src) {
	case OBS_STALL:
		if (o->stall.cpu >= 0 && o->stall.cpu < REPORT_MAX_VCPUS &&
		    o->stall.lateness_ns > t->stall[o->stall.cpu][c])
			t->stall[o->stall.cpu][c] = o->stall.lateness_ns;
		break;
	case OBS_HOSTCLOCK:
		/* One clock on the picture: the first one seen (rtc0 or a PTP clock). */
		if (!t->host_clock[0])
			snprintf(t->host_clock, sizeof(t->host_clock), "%s", o->text);
		if (strcmp(t->host_clock, o->text))
			break;
		t->host[c] = o->hostclock.offset_ns;
		t->host_has[c] = true;
		break;
	case OBS_CPUID_LAT:
		t->cpuid[c] = o->cpuid_lat.median_ns;
		t->cpuid_has[c] = true;
		break;
	default:
		break;
	}
}

void timeline_add_snapshot(struct timeline *t, int64_t realtime_ns, int64_t id, int level,
			   int nfeatures)
{
	if (t->nsnaps < REPORT_MAX_TICKS)
		t->snaps[t->nsnaps++] = (struct tick){ realtime_ns, id, level, nfeatures };
}

void timeline_add_probe_run(struct timeline *t, int64_t realtime_ns, int mismatch, int shadow)
{
	if (t->nprobes < REPORT_MAX_TICKS)
		t->probes[t->nprobes++] = (struct tick){ realtime_ns, mismatch, shadow, 0 };
}

static struct json_object *point(int64_t t, double v)
{
	struct json_object *p = json_object_new_array();

	json_object_array_add(p, json_object_new_int64(t));
	json_object_array_add(p, json_object_new_double(v));
	return p;
}

static struct json_object *ticks(const struct tick *v, size_t n, int width)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		struct json_object *p = json_object_new_array();

		json_object_array_add(p, json_object_new_int64(v[i].t));
		json_object_array_add(p, json_object_new_int64(v[i].a));
		json_object_array_add(p, json_object_new_int64(v[i].b));
		if (width > 3)
			json_object_array_add(p, json_object_new_int64(v[i].c));
		json_object_array_add(a, p);
	}
	return a;
}

struct json_object *timeline_to_json(const struct timeline *t)
{
	struct json_object *o = json_object_new_object(), *a, *s;

	json_object_object_add(o, "t0_ns", json_object_new_int64(t->t0));
	json_object_object_add(o, "t1_ns", json_object_new_int64(t->t1));
	json_object_object_add(o, "columns", json_object_new_int(COLS));
	a = json_object_new_array();
	for (int k = 0; k < EV__COUNT; k++)
		for (int c = 0; c < COLS; c++) {
			if (!t->ev_n[k][c])
				continue;
			s = json_object_new_object();
			json_object_object_add(s, "kind",
					       json_object_new_string(event_kind_names[k]));
			json_object_object_add(s, "t_ns", json_object_new_int64(t->ev_t[k][c]));
			json_object_object_add(
				s, "severity",
				json_object_new_string(severity_name(t->ev_sev[k][c] - 1)));
			json_object_object_add(s, "count", json_object_new_int64(t->ev_n[k][c]));
			json_object_array_add(a, s);
		}
	json_object_object_add(o, "events", a);
	a = json_object_new_array();
	for (int v = 0; v < REPORT_MAX_VCPUS; v++) {
		struct json_object *pts = NULL;

		for (int c = 0; c < COLS; c++) {
			if (!t->stall[v][c])
				continue;
			if (!pts)
				pts = json_object_new_array();
			json_object_array_add(pts, point(col_time(t, c), t->stall[v][c] / 1e6));
		}
		if (!pts)
			continue;
		s = json_object_new_object();
		json_object_object_add(s, "vcpu", json_object_new_int(v));
		json_object_object_add(s, "points", pts);
		json_object_array_add(a, s);
	}
	json_object_object_add(o, "stall", a);
	s = json_object_new_object();
	json_object_object_add(s, "clock", json_object_new_string(t->host_clock));
	a = json_object_new_array();
	for (int c = 0; c < COLS; c++)
		if (t->host_has[c])
			json_object_array_add(a, point(col_time(t, c), t->host[c] / 1e6));
	json_object_object_add(s, "points", a);
	json_object_object_add(o, "hostclock", s);
	s = json_object_new_object();
	a = json_object_new_array();
	for (int c = 0; c < COLS; c++)
		if (t->cpuid_has[c])
			json_object_array_add(a, point(col_time(t, c), t->cpuid[c] / 1e3));
	json_object_object_add(s, "points", a);
	json_object_object_add(o, "cpuid_latency", s);
	json_object_object_add(o, "snapshots", ticks(t->snaps, t->nsnaps, 4));
	json_object_object_add(o, "probe_runs", ticks(t->probes, t->nprobes, 3));
	a = json_object_new_array();
	for (size_t i = 0; i < t->nverdicts; i++) {
		s = json_object_new_object();
		json_object_object_add(s, "t_ns", json_object_new_int64(t->verdicts[i].t));
		json_object_object_add(s, "confidence",
				       json_object_new_string(t->verdicts[i].conf));
		json_object_object_add(s, "severity",
				       json_object_new_string(severity_name(t->verdicts[i].sev)));
		json_object_array_add(a, s);
	}
	json_object_object_add(o, "verdicts", a);
	return o;
}
