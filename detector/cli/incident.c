// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analysis/report.h"
#include "capture/procstat.h"
#include "cli/incident.h"
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
static void bracket(struct store *s, int64_t at_ns, struct incident *in)
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

int incident_load(struct store *s, const struct incident_sel *sel, struct incident *out,
		  struct errbuf *err)
{
	struct event_query q = { .kind = -1 };
	struct report_window w = { 0 };
	struct report *r = NULL;
	struct timespec now;
	int64_t at;
	int ret;

	memset(out, 0, sizeof(*out));
	clock_gettime(CLOCK_REALTIME, &now);
	out->since_ns = sel->since_ns;
	out->until_ns =
		sel->until_ns ? sel->until_ns : (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
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
		return ret;
	}
	w.since_ns = out->first_ns;
	w.until_ns = out->last_ns;
	w.incident = sel->incident;
	ret = report__new(&w, &r);
	if (ret)
		goto fail;
	q.since_ns = out->since_ns;
	q.until_ns = out->until_ns;
	ret = store_query_events(s, &q, on_event, r);
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
	incident_clear(out);
	return ret;
}

void incident_clear(struct incident *in)
{
	json_object_put(in->report);
	snapshot__free(in->before);
	snapshot__free(in->after);
	free(in->before_json);
	free(in->after_json);
	memset(in, 0, sizeof(*in));
}
