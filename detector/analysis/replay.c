// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/evidence.h"
#include "core/log.h"
#include "core/observe.h"
#include "analysis/replay.h"

void replay_opts_default(struct replay_opts *o)
{
	timing_thresholds_default(&o->th);
	verdict_opts_default(&o->vo);
}

struct run {
	struct verdict *vd;
	replay_cb cb;
	void *ctx;
	struct replay_stats *st;
};

/* Hand each new event to the caller and the verdict; events leave @l. */
static int drain(struct run *r, struct evlist *l)
{
	int ret = 0;

	for (size_t i = 0; i < l->n && !ret; i++) {
		struct event *m = NULL;

		r->st->events++;
		ret = r->cb(r->ctx, l->v[i]);
		if (!ret)
			ret = verdict_add(r->vd, l->v[i], &m);
		if (m) {
			r->st->events++;
			ret = r->cb(r->ctx, m);
			event__free(m);
		}
	}
	evlist_free(l);
	return ret;
}

int replay_stream(FILE *f, const char *name, const struct replay_opts *o, replay_cb cb, void *ctx,
		  struct replay_stats *st, struct errbuf *err)
{
	struct replay_opts def;
	struct replay_stats dummy;
	struct timing *tm;
	struct evidence *ev;
	struct evlist l = { 0 };
	struct run r = { .cb = cb, .ctx = ctx, .st = st ? st : &dummy };
	char *line = NULL;
	size_t cap = 0;
	int ret = 0;

	if (!o) {
		replay_opts_default(&def);
		o = &def;
	}
	memset(r.st, 0, sizeof(*r.st));
	tm = timing__new(&o->th);
	ev = evidence__new();
	r.vd = verdict__new(&o->vo);
	if (!tm || !ev || !r.vd) {
		ret = -ENOMEM;
		errbuf_set(err, "failed to replay %s: %s", name, strerror(ENOMEM));
		goto out;
	}
	while (!ret && getline(&line, &cap, f) > 0) {
		struct observation obs;
		struct errbuf eb;

		r.st->lines++;
		if (line[strspn(line, " \t\r\n")] == 0)
			continue;
		if (observe_parse_line(line, &obs, &eb)) {
			/* A bad line is reported and skipped: the rest of a recording still counts. */
			log_warn("%s:%ld: %s", name, r.st->lines, eb.msg);
			r.st->bad++;
			continue;
		}
		ret = timing_feed(tm, &obs, &l);
		if (!ret)
			ret = evidence_feed(ev, &obs, &l);
		if (!ret)
			ret = drain(&r, &l);
	}
	if (!ret)
		ret = timing_flush(tm, INT64_MAX, &l);
	if (!ret)
		ret = drain(&r, &l);
	if (!ret && ferror(f)) {
		ret = -EIO;
		errbuf_set(err, "failed to read %s: %s", name, strerror(EIO));
	} else if (ret < 0) {
		errbuf_set(err, "failed to replay %s: %s", name, strerror(-ret));
	}
out:
	evlist_free(&l);
	free(line);
	timing__free(tm);
	evidence__free(ev);
	verdict__free(r.vd);
	return ret;
}

int replay_file(const char *path, const struct replay_opts *o, replay_cb cb, void *ctx,
		struct replay_stats *st, struct errbuf *err)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	int ret;

	if (!f) {
		ret = -errno;
		errbuf_set(err, "failed to open %s: %s", path, strerror(errno));
		return ret;
	}
	ret = replay_stream(f, path, o, cb, ctx, st, err);
	if (f != stdin)
		fclose(f);
	return ret;
}
