// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "formats/recording.h"
#include "formats/snapjson.h"

void rec_line_clear(struct rec_line *l)
{
	snapshot__free(l->snap);
	free(l->fault);
	memset(l, 0, sizeof(*l));
}

/* INT64_MAX is the end of a recording (engine_flush), never the time of a line. */
static bool is_time(int64_t ns)
{
	return ns >= 0 && ns != INT64_MAX;
}

static int get_time(struct json_object *j, const char *key, int64_t *out, struct errbuf *err)
{
	struct json_object *v;

	if (!json_object_object_get_ex(j, key, &v)) {
		*out = 0;
		return 0;
	}
	if (!json_object_is_type(v, json_type_int) || !is_time(json_object_get_int64(v))) {
		errbuf_set(err, "\"%s\" is not a time in ns", key);
		return -EINVAL;
	}
	*out = json_object_get_int64(v);
	return 0;
}

static int get_set(struct json_object *j, const char *key, struct featset *out, struct errbuf *err)
{
	struct json_object *v;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!json_object_object_get_ex(j, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_array)) {
		errbuf_set(err, "\"%s\" is not an array", key);
		return -EINVAL;
	}
	n = json_object_array_length(v);
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(v, i);
		int id;

		if (!json_object_is_type(s, json_type_string)) {
			errbuf_set(err, "\"%s\" item %zu is not a string", key, i);
			return -EINVAL;
		}
		/* Names from a newer feature table are skipped, not fatal. */
		id = feature_lookup(json_object_get_string(s));
		if (id >= 0)
			featset_add(out, id);
	}
	return 0;
}

static int parse_snapshot(struct json_object *j, struct rec_line *l, struct errbuf *err)
{
	struct json_object *v;
	int64_t mono, real;

	if (get_time(j, "mono_ns", &mono, err) || get_time(j, "real_ns", &real, err))
		return -EINVAL;
	if (!json_object_object_get_ex(j, "snapshot", &v)) {
		errbuf_set(err, "a \"cpuid\" line needs its \"snapshot\"");
		return -EINVAL;
	}
	if (snapshot_from_json(v, &l->snap, err))
		return -EINVAL;
	/* The line's times are when the daemon took it: they order the analysis. */
	if (mono) {
		l->snap->monotonic_ns = mono;
		l->snap->realtime_ns = real;
	} else if (!is_time(l->snap->monotonic_ns) || !is_time(l->snap->realtime_ns)) {
		/*
		 * Without them the snapshot's own order it, and must be times as the line's are:
		 * a "monotonic_ns" of -5 there was replayed, then written back as a line that
		 * reads as malformed (tests/fixtures/fuzz/recording/snapshot-time-negative).
		 */
		errbuf_set(err, "the snapshot's capture time is not a time in ns");
		return -EINVAL;
	}
	l->kind = REC_SNAPSHOT;
	return 0;
}

static int parse_probe(struct json_object *j, struct rec_line *l, struct errbuf *err)
{
	l->kind = REC_PROBE;
	return get_time(j, "mono_ns", &l->probe.mono_ns, err) ||
			       get_time(j, "real_ns", &l->probe.real_ns, err) ||
			       get_set(j, "shadow", &l->probe.shadow, err) ||
			       get_set(j, "mismatch", &l->probe.mismatch, err) ||
			       get_set(j, "os_disabled", &l->probe.os_disabled, err) ?
		       -EINVAL :
		       0;
}

static int parse_fault(struct json_object *j, struct rec_line *l, struct errbuf *err)
{
	struct json_object *v;
	int64_t mono, real;

	if (get_time(j, "mono_ns", &mono, err) || get_time(j, "real_ns", &real, err))
		return -EINVAL;
	if (!json_object_object_get_ex(j, "fault", &v)) {
		errbuf_set(err, "a \"fault\" line needs its \"fault\"");
		return -EINVAL;
	}
	l->fault = malloc(sizeof(*l->fault));
	if (!l->fault) {
		errbuf_set(err, "out of memory");
		return -ENOMEM;
	}
	if (fault_from_json(v, l->fault, err))
		return -EINVAL;
	l->fault->mono_ns = mono;
	l->fault->real_ns = real;
	l->kind = REC_FAULT;
	return 0;
}

int recording_parse_line(const char *line, struct rec_line *l, struct errbuf *err)
{
	enum json_tokener_error jerr;
	struct json_object *j, *src;
	const char *s;
	int ret;

	memset(l, 0, sizeof(*l));
	j = json_tokener_parse_verbose(line, &jerr);
	if (!j) {
		errbuf_set(err, "invalid JSON: %s", json_tokener_error_desc(jerr));
		return -EINVAL;
	}
	s = json_object_object_get_ex(j, "src", &src) &&
			    json_object_is_type(src, json_type_string) ?
		    json_object_get_string(src) :
		    "";
	if (!strcmp(s, "cpuid"))
		ret = parse_snapshot(j, l, err);
	else if (!strcmp(s, "probe"))
		ret = parse_probe(j, l, err);
	else if (!strcmp(s, "fault"))
		ret = parse_fault(j, l, err);
	else {
		l->kind = REC_OBSERVATION;
		ret = observe_from_json(j, &l->obs, err);
	}
	json_object_put(j);
	if (ret)
		rec_line_clear(l);
	return ret;
}

/* --- writing ------------------------------------------------------------------------------ */

static int put(FILE *f, struct json_object *j)
{
	int err = 0;

	if (!j)
		return -ENOMEM;
	if (fprintf(f, "%s\n",
		    json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
							      JSON_C_TO_STRING_NOSLASHESCAPE)) < 0)
		err = -errno ?: -EIO;
	json_object_put(j);
	return err;
}

static struct json_object *head(const char *src, int64_t mono, int64_t real)
{
	struct json_object *j = json_object_new_object();

	if (!j)
		return NULL;
	json_object_object_add(j, "src", json_object_new_string(src));
	json_object_object_add(j, "mono_ns", json_object_new_int64(mono));
	json_object_object_add(j, "real_ns", json_object_new_int64(real));
	return j;
}

int recording_write_observation(FILE *f, const struct observation *o)
{
	return put(f, observe_to_json(o));
}

int recording_write_snapshot(FILE *f, const struct snapshot *s)
{
	struct json_object *j = head("cpuid", s->monotonic_ns, s->realtime_ns);

	if (j)
		json_object_object_add(j, "snapshot", snapshot_to_json(s));
	return put(f, j);
}

struct json_object *recording_probe_json(const struct probe_summary *p)
{
	struct json_object *j = head("probe", p->mono_ns, p->real_ns);

	if (j) {
		json_object_object_add(j, "shadow", featset_to_json(&p->shadow));
		json_object_object_add(j, "mismatch", featset_to_json(&p->mismatch));
		json_object_object_add(j, "os_disabled", featset_to_json(&p->os_disabled));
	}
	return j;
}

int recording_write_probe(FILE *f, const struct probe_summary *p)
{
	return put(f, recording_probe_json(p));
}

int recording_write_fault(FILE *f, const struct fault *fa)
{
	struct json_object *j = head("fault", fa->mono_ns, fa->real_ns);

	if (j)
		json_object_object_add(j, "fault", fault_to_json(fa));
	return put(f, j);
}

/* --- reading a file ----------------------------------------------------------------------- */

int recording_read(const char *path, recording_cb cb, void *ctx, struct recording_stats *st,
		   struct errbuf *err)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	struct recording_stats dummy;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int ret = 0;

	if (!st)
		st = &dummy;
	memset(st, 0, sizeof(*st));
	if (!f) {
		ret = -errno;
		errbuf_set(err, "failed to open %s: %s", path, strerror(errno));
		return ret;
	}
	while (!ret && (len = getline(&line, &cap, f)) > 0) {
		struct rec_line l;
		struct errbuf eb;

		st->lines++;
		if (line[strspn(line, " \t\r\n")] == 0)
			continue;
		if (len > RECORDING_MAX_LINE) {
			log_warn("%s:%ld: line longer than %d bytes, skipped", path, st->lines,
				 RECORDING_MAX_LINE);
			st->bad++;
			continue;
		}
		if (recording_parse_line(line, &l, &eb)) {
			/* A bad line is reported and skipped: the rest of a recording still counts. */
			log_warn("%s:%ld: %s", path, st->lines, eb.msg);
			st->bad++;
			continue;
		}
		ret = cb(ctx, &l);
		rec_line_clear(&l);
	}
	if (!ret && ferror(f)) {
		ret = -EIO;
		errbuf_set(err, "failed to read %s: %s", path, strerror(EIO));
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return ret;
}

struct replay {
	struct engine *en;
	replay_cb cb;
	void *ctx;
	struct recording_stats *st;
};

static int hand_over(struct replay *r, struct evlist *l, int ret)
{
	for (size_t i = 0; i < l->n && !ret; i++) {
		r->st->events++;
		ret = r->cb(r->ctx, l->v[i]);
	}
	evlist_free(l);
	return ret;
}

static int replay_line(void *ctx, struct rec_line *l)
{
	struct replay *r = ctx;
	struct evlist out = { 0 };
	int ret = 0;

	switch (l->kind) {
	case REC_OBSERVATION:
		ret = engine_observe(r->en, &l->obs, &out);
		break;
	case REC_SNAPSHOT:
		ret = engine_snapshot(r->en, l->snap, &out);
		l->snap = NULL;
		break;
	case REC_PROBE:
		ret = engine_probes(r->en, &l->probe, &out);
		break;
	case REC_FAULT:
		ret = engine_fault(r->en, l->fault, &out);
		break;
	}
	return hand_over(r, &out, ret);
}

int recording_replay(const char *path, const struct engine_opts *o, replay_cb cb, void *ctx,
		     struct recording_stats *st, struct errbuf *err)
{
	struct recording_stats dummy;
	struct replay r = { .cb = cb, .ctx = ctx, .st = st ? st : &dummy };
	struct evlist out = { 0 };
	int ret;

	r.en = engine__new(o);
	if (!r.en) {
		errbuf_set(err, "failed to replay %s: %s", path, strerror(ENOMEM));
		return -ENOMEM;
	}
	ret = recording_read(path, replay_line, &r, r.st, err);
	if (!ret)
		ret = hand_over(&r, &out, engine_flush(r.en, INT64_MAX, &out));
	else if (ret < 0 && !err->msg[0])
		errbuf_set(err, "failed to replay %s: %s", path, strerror(-ret));
	engine__free(r.en);
	return ret;
}
