// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analysis/report.h"
#include "capture/procstat.h"
#include "cli/selection.h"
#include "core/escape.h"
#include "core/log.h"
#include "formats/snapjson.h"

static int on_event(int64_t id, const struct event *e, void *arg)
{
	(void)id;
	return report_add_event(arg, e);
}

static int on_snapshot(const struct snapmeta *m, void *arg)
{
	report_add_snapshot(arg, m->realtime_ns, m->id, m->level, m->nfeatures);
	return 0;
}

static int on_probe(int64_t id, int64_t realtime_ns, const char *json, void *arg)
{
	struct json_object *o = json_tokener_parse(json);

	(void)id;
	if (o)
		report_add_probe_run(arg, realtime_ns, o);
	json_object_put(o);
	return 0;
}

static int on_timing(int64_t id, int64_t realtime_ns, const char *json, void *arg)
{
	struct json_object *o = json_tokener_parse(json);
	struct observation obs;
	struct errbuf err;

	(void)id;
	(void)realtime_ns;
	/* Only the sources the picture draws are decoded; a bad row is skipped. */
	if (o && strstr(json, "\"src\":\"stall\"") == NULL && !strstr(json, "hostclock") &&
	    !strstr(json, "cpuid_latency")) {
		json_object_put(o);
		return 0;
	}
	if (o && !observe_from_json(o, &obs, &err))
		report_add_observation(arg, &obs);
	json_object_put(o);
	return 0;
}

static bool alive(int pid, int64_t start_boot_ns, void *ctx)
{
	(void)ctx;
	return procstat_alive("/proc", pid, start_boot_ns);
}

static struct snapshot *decode(const char *json, struct errbuf *err)
{
	struct json_object *o = json_tokener_parse(json);
	struct snapshot *s = NULL;

	if (!o || snapshot_from_json(o, &s, err))
		s = NULL;
	json_object_put(o);
	return s;
}

/* The snapshots on either side of the change at @at_ns. */
static void bracket(struct store *s, int64_t at_ns, struct selection *in)
{
	struct snapmeta ma, mb;
	struct errbuf err = { "" };

	if (store_snapshot_at(s, at_ns, NULL, &ma, &in->after_json))
		return;
	if (!store_snapshot_at(s, ma.realtime_ns - 1, ma.digest, &mb, &in->before_json))
		in->before = decode(in->before_json, &err);
	in->after = decode(in->after_json, &err);
	if (err.msg[0])
		log_warn("a stored snapshot is unreadable: %s", err.msg);
}

static int64_t get_i64(struct json_object *o, const char *key, int64_t dflt)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int) ?
		       json_object_get_int64(v) :
		       dflt;
}

static bool is_open(struct json_object *inc)
{
	struct json_object *v;

	return !json_object_object_get_ex(inc, "state", &v) ||
	       !json_object_is_type(v, json_type_string) ||
	       strcmp(json_object_get_string(v), "closed") != 0;
}

/*
 * The incident's own window (selection.h): from SELECTION_MARGIN_NS before its first
 * evidence, or from the snapshot before it when that is within the join window, to its
 * close, or while open to its newest evidence plus the join window, at most @now_ns.
 */
static void incident_window(struct store *s, struct json_object *inc, int64_t now_ns,
			    int64_t *since, int64_t *until)
{
	int64_t opened = get_i64(inc, "opened_real_ns", 0);
	int64_t first = get_i64(inc, "change_real_ns", opened);
	int64_t last = get_i64(inc, "last_real_ns", opened);
	int64_t join = get_i64(inc, "window_ns", 0);
	struct snapmeta m;

	/* The stored numbers bound nothing on their own: keep them ordered and sane. */
	if (first <= 0 || (opened > 0 && first > opened))
		first = opened;
	if (last < first)
		last = first;
	if (join < 0 || join > 24 * 3600 * 1000000000LL)
		join = 0;
	*since = first > SELECTION_MARGIN_NS ? first - SELECTION_MARGIN_NS : 0;
	if (!store_snapshot_at(s, first - 1, NULL, &m, NULL) && m.realtime_ns < *since &&
	    first - m.realtime_ns <= join)
		*since = m.realtime_ns;
	if (!is_open(inc))
		*until = get_i64(inc, "closed_real_ns", last);
	else
		*until = last > now_ns - join ? now_ns : last + join;
	if (*until < last)
		*until = last;
}

static int on_history(int64_t id, const struct event *e, void *arg)
{
	(void)id;
	return report_add_incident_event(arg, e);
}

static int on_open(struct json_object *inc, void *arg)
{
	report_add_open_incident(arg, inc);
	return 0;
}

/* Every issue of the incident and its resolution, whatever the window (retention aside). */
static int add_history(struct store *s, const char *id, int64_t since_ns, struct report *r)
{
	struct event_query q = { .since_ns = since_ns,
				 .incident = id,
				 .kind = EV_MIGRATION_SUSPECTED };
	int ret = store_query_events(s, &q, on_history, r);

	q.kind = EV_MIGRATION_RESOLVED;
	return ret ?: store_query_events(s, &q, on_history, r);
}

/* Resolve the selected incident and narrow its window by --since/--until. */
static int select_incident(struct store *s, const struct selection_spec *spec, int64_t now_ns,
			   struct selection *out, struct errbuf *err)
{
	int64_t since, until;
	int ret = store_get_incident(s, spec->incident, &out->incident);
	char a[40], b[40];

	if (ret == -ENOENT) {
		errbuf_set(err,
			   "no incident '%s' in the store (`cpudrift status` lists the open ones, "
			   "`cpudrift events --kind migration.suspected` names every one)",
			   str_esc(spec->incident));
		return ret;
	}
	if (ret) {
		errbuf_set(err, "failed to read incident '%s' from the store: %s",
			   str_esc(spec->incident), strerror(-ret));
		return ret;
	}
	incident_window(s, out->incident, now_ns, &since, &until);
	out->since_ns = spec->since_ns > since ? spec->since_ns : since;
	out->until_ns = spec->until_ns && spec->until_ns < until ? spec->until_ns : until;
	if (out->until_ns < out->since_ns) {
		report_time_iso(since, a, sizeof(a));
		report_time_iso(until, b, sizeof(b));
		errbuf_set(err, "incident %s (%s to %s) lies outside --since/--until",
			   str_esc(spec->incident), a, b);
		return -EINVAL;
	}
	return 0;
}

int selection_load(struct store *s, const struct selection_spec *spec, struct selection *out,
		   struct errbuf *err)
{
	struct event_query q = { .kind = -1 };
	struct report_window w = { 0 };
	struct incident_query open = { .open_only = true };
	struct report *r = NULL;
	struct timespec now;
	int64_t at, now_ns;
	int ret;

	memset(out, 0, sizeof(*out));
	clock_gettime(CLOCK_REALTIME, &now);
	now_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	if (spec->incident) {
		ret = select_incident(s, spec, now_ns, out, err);
		if (ret) {
			selection_clear(out);
			return ret;
		}
	} else {
		out->since_ns = spec->since_ns;
		out->until_ns = spec->until_ns ? spec->until_ns : now_ns;
	}
	if (out->until_ns < out->since_ns) {
		errbuf_set(err, "the window ends before it starts (--until is before --since)");
		return -EINVAL;
	}
	ret = store_window_span(s, out->since_ns, out->until_ns, &out->first_ns, &out->last_ns);
	if (ret == -ENOENT) {
		out->first_ns = out->since_ns ? out->since_ns : out->until_ns - 3600000000000LL;
		out->last_ns = out->until_ns;
	} else if (ret) {
		errbuf_set(err, "failed to read the store: %s", strerror(-ret));
		selection_clear(out);
		return ret;
	}
	w.since_ns = out->first_ns;
	w.until_ns = out->last_ns;
	w.incident = spec->incident;
	ret = report__new(&w, &r);
	if (ret)
		goto fail;
	if (out->incident) {
		report_set_incident(r, out->incident);
		ret = add_history(s, spec->incident,
				  get_i64(out->incident, "change_real_ns", 0) - SELECTION_MARGIN_NS,
				  r);
	} else if (store_query_incidents(s, &open, on_open, r)) {
		/* A store from before incidents has none to point to: the report stands. */
		log_debug("no open incidents read from the store");
	}
	q.since_ns = out->since_ns;
	q.until_ns = out->until_ns;
	ret = ret ?: store_query_events(s, &q, on_event, r);
	if (!ret && report_change_time(r, &at))
		bracket(s, at, out);
	if (!ret)
		ret = report_set_change(r, out->before, out->after);
	if (!ret)
		ret = store_window_snapshots(s, out->since_ns, out->until_ns, on_snapshot, r);
	if (!ret)
		ret = store_window_rows(s, "probe_runs", out->since_ns, out->until_ns, on_probe, r);
	if (!ret)
		ret = store_window_rows(s, "timing_samples", out->since_ns, out->until_ns,
					on_timing, r);
	if (ret)
		goto fail;
	out->report = report_to_json(r, alive, NULL);
	report__free(r);
	if (!out->report) {
		ret = -ENOMEM;
		goto fail_cleared;
	}
	return 0;
fail:
	report__free(r);
fail_cleared:
	errbuf_set(err, "failed to read the window from the store: %s", strerror(-ret));
	selection_clear(out);
	return ret;
}

void selection_clear(struct selection *sel)
{
	json_object_put(sel->incident);
	json_object_put(sel->report);
	snapshot__free(sel->before);
	snapshot__free(sel->after);
	free(sel->before_json);
	free(sel->after_json);
	memset(sel, 0, sizeof(*sel));
}
