// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdlib.h>

#include "analysis/engine.h"

struct engine {
	struct engine_opts o;
	struct tracker *tracker;
	struct timing *timing;
	struct verdict *verdict;
};

void engine_opts_default(struct engine_opts *o)
{
	timing_thresholds_default(&o->th);
	verdict_opts_default(&o->vo);
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
	en->tracker = tracker__new();
	en->timing = timing__new(&en->o.th);
	en->verdict = verdict__new(&en->o.vo);
	if (!en->tracker || !en->timing || !en->verdict) {
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
	verdict__free(en->verdict);
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

/* Move @l's events to @out, each followed by the verdict it raised, if any. */
static int fuse(struct engine *en, struct evlist *l, int ret, struct evlist *out)
{
	for (size_t i = 0; i < l->n && !ret; i++) {
		struct event *e = l->v[i], *v = NULL;

		l->v[i] = NULL;
		if (e->kind != EV_MIGRATION_SUSPECTED)
			ret = verdict_add(en->verdict, e, &v);
		if (!ret)
			ret = evlist_push(out, e);
		else
			event__free(e);
		if (!ret && v)
			ret = evlist_push(out, v);
	}
	evlist_free(l);
	return ret;
}

int engine_flush(struct engine *en, int64_t mono_ns, struct evlist *out)
{
	struct evlist l = { 0 };

	return fuse(en, &l, timing_flush(en->timing, mono_ns, &l), out);
}

int engine_snapshot(struct engine *en, struct snapshot *s, struct evlist *out)
{
	struct evlist l = { 0 };
	int ret = timing_flush(en->timing, s->monotonic_ns, &l);

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
	int ret = timing_flush(en->timing, p->mono_ns, &l);

	if (!ret)
		ret = tracker_probes(en->tracker, p, &l);
	return fuse(en, &l, ret, out);
}

int engine_fault(struct engine *en, const struct fault *f, struct evlist *out)
{
	struct evlist l = { 0 };
	int ret = f->mono_ns ? timing_flush(en->timing, f->mono_ns, &l) : 0;

	if (!ret)
		ret = tracker_fault(en->tracker, f, &l);
	return fuse(en, &l, ret, out);
}

int engine_observe(struct engine *en, const struct observation *o, struct evlist *out)
{
	struct evlist l = { 0 };

	return fuse(en, &l, timing_feed(en->timing, o, &l), out);
}
