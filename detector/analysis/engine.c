// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/engine.h"

struct engine {
	struct engine_opts o;
	struct incident_opts io;
	struct tracker *tracker;
	struct timing *timing;
	struct incidents *incidents;
};

void engine_opts_default(struct engine_opts *o)
{
	struct incident_opts io;

	timing_thresholds_default(&o->th);
	verdict_opts_default(&o->vo);
	incident_opts_default(&io);
	o->quiet_ns = io.quiet_ns;
}

struct engine *engine__new(const struct engine_opts *o)
{
	struct engine *en = calloc(1, sizeof(*en));

	if (!en)
		return NULL;
	if (o)
		en->o = *o;
	else
		engine_opts_default(&en->o);
	en->io.vo = en->o.vo;
	en->io.window_ns = en->o.vo.window_ns;
	en->io.quiet_ns = en->o.quiet_ns;
	en->tracker = tracker__new();
	en->timing = timing__new(&en->o.th);
	en->incidents = incidents__new(&en->io);
	if (!en->tracker || !en->timing || !en->incidents) {
		engine__free(en);
		return NULL;
	}
	return en;
}

void engine__free(struct engine *en)
{
	if (!en)
		return;
	tracker__free(en->tracker);
	timing__free(en->timing);
	incidents__free(en->incidents);
	free(en);
}

struct tracker *engine_tracker(struct engine *en)
{
	return en->tracker;
}

int engine_set_thresholds(struct engine *en, const struct timing_thresholds *th)
{
	struct timing *t = timing__new(th);

	if (!t)
		return -ENOMEM;
	timing__free(en->timing);
	en->timing = t;
	en->o.th = *th;
	return 0;
}

/*
 * What identifies the CPU the latest snapshot describes, for an incident's "after": the
 * features, the XCR0 the OS enabled, the identity and the hypervisor (FNV-1a 64).  Raw
 * bits that differ per vCPU or per boot by design stay out.
 */
static uint64_t cpu_state(const struct engine *en)
{
	const struct snapshot *s = tracker_current(en->tracker);
	uint64_t h = 0xcbf29ce484222325ull;

	if (!s)
		return 0;
#define MIX(p, n)                           \
	for (size_t k_ = 0; k_ < (n); k_++) \
	h = (h ^ ((const uint8_t *)(p))[k_]) * 0x100000001b3ull
	MIX(&s->features, sizeof(s->features));
	MIX(&s->xcr0, sizeof(s->xcr0));
	MIX(&s->id.signature, sizeof(s->id.signature));
	MIX(s->id.vendor, strlen(s->id.vendor));
	MIX(s->id.brand, strlen(s->id.brand));
	MIX(s->hypervisor, strlen(s->hypervisor));
#undef MIX
	return h;
}

/* Move @l's events to @out, each followed by the incident issue it raised, if any. */
static int fuse(struct engine *en, struct evlist *l, int ret, struct evlist *out)
{
	for (size_t i = 0; i < l->n; i++) {
		struct event *e = l->v[i];

		l->v[i] = NULL;
		if (ret) {
			event__free(e);
			continue;
		}
		/* The list owns @e from here; it outlives this loop. */
		ret = evlist_push(out, e);
		if (!ret)
			ret = incidents_feed(en->incidents, e, cpu_state(en), out);
	}
	evlist_free(l);
	return ret;
}

/* Close what can no longer grow by @mono_ns: a stall episode, then quiet incidents. */
static int close_by(struct engine *en, int64_t mono_ns, struct evlist *l)
{
	int ret = timing_flush(en->timing, mono_ns, l);

	return ret ?: incidents_flush(en->incidents, mono_ns, l);
}

int engine_flush(struct engine *en, int64_t mono_ns, struct evlist *out)
{
	struct evlist l = { 0 };

	return fuse(en, &l, close_by(en, mono_ns, &l), out);
}

struct incidents *engine_incidents(struct engine *en)
{
	return en->incidents;
}

const struct incident_opts *engine_incident_opts(const struct engine *en)
{
	return &en->io;
}

int engine_at_risk(struct engine *en, const char *id, int64_t n, int64_t mono_ns,
		   struct evlist *out)
{
	return incidents_at_risk(en->incidents, id, n, mono_ns, out);
}

int engine_restore_incident(struct engine *en, struct json_object *j, const char *boot_id,
			    struct evlist *out)
{
	return incidents_restore(en->incidents, j, boot_id, out);
}

int engine_snapshot(struct engine *en, struct snapshot *s, struct evlist *out)
{
	struct evlist l = { 0 };
	int ret = close_by(en, s->monotonic_ns, &l);

	if (!ret)
		ret = tracker_snapshot(en->tracker, s, &l);
	else
		snapshot__free(s);
	return fuse(en, &l, ret, out);
}

int engine_boot_drift(struct engine *en, const struct snapshot *prev, const struct snapshot *now,
		      struct evlist *out)
{
	struct evlist l = { 0 };

	return fuse(en, &l, tracker_boot_drift(prev, now, &l), out);
}

int engine_probes(struct engine *en, const struct probe_summary *p, struct evlist *out)
{
	struct evlist l = { 0 };
	int ret = close_by(en, p->mono_ns, &l);

	if (!ret)
		ret = tracker_probes(en->tracker, p, &l);
	return fuse(en, &l, ret, out);
}

int engine_fault(struct engine *en, const struct fault *f, struct evlist *out)
{
	struct evlist l = { 0 };
	int ret = f->mono_ns ? close_by(en, f->mono_ns, &l) : 0;

	if (!ret)
		ret = tracker_fault(en->tracker, f, &l);
	return fuse(en, &l, ret, out);
}

int engine_observe(struct engine *en, const struct observation *o, struct evlist *out)
{
	struct evlist l = { 0 };

	int ret = incidents_flush(en->incidents, o->mono_ns, &l);

	return fuse(en, &l, ret ?: timing_feed(en->timing, o, &l), out);
}
