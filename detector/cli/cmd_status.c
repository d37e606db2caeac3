// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cpudrift status: is the daemon running, in which mode and why, every source and whether
 * it runs (and why not), the last reload, the baseline, the last snapshot and verdict, the
 * counters.  Reads the store; works without the daemon.  The store's health (full, failing,
 * what waits in memory) comes from the running daemon's lock file, which it rewrites in
 * place even on a full disk; a daemon running without a store (a read-only state dir) is
 * read from its textfile.
 * Exit 0 running in full mode, 1 not running or degraded, 2 error.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "core/escape.h"
#include "formats/config.h"
#include "core/log.h"
#include "sinks/store.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cpudrift status [--json] [--state-dir DIR] [--config FILE]\n\n"
		"Whether the daemon runs (full or degraded mode, and why), each source it reads or\n"
		"writes and whether it runs (and why not), the last reload, the baseline, the last\n"
		"snapshot, the last verdict and the counters.\n\n"
		"Exit status: 0 running in full mode, 1 not running or degraded, 2 error.\n");
}

static void fmt_time(int64_t ns, char *buf, size_t size)
{
	time_t t = ns / 1000000000;
	struct tm tm;

	if (!ns) {
		snprintf(buf, size, "-");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static struct json_object *snap_json(struct store *s, enum snap_select sel)
{
	struct json_object *o;
	struct snapmeta m;
	char when[32];

	if (store_get_snapshot(s, sel, NULL, &m, NULL))
		return NULL;
	fmt_time(m.realtime_ns, when, sizeof(when));
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(m.id));
	json_object_object_add(o, "kind", json_object_new_string(snap_kind_name(m.kind)));
	json_object_object_add(o, "time", json_object_new_string(when));
	json_object_object_add(o, "boot_id", json_object_new_string(m.boot_id));
	json_object_object_add(o, "x86_64_level", json_object_new_int(m.level));
	json_object_object_add(o, "features", json_object_new_int(m.nfeatures));
	json_object_object_add(o, "vendor", json_object_new_string(m.vendor));
	json_object_object_add(o, "brand", json_object_new_string(m.brand));
	return o;
}

static int last_cb(int64_t id, const struct event *e, void *arg)
{
	struct json_object **o = arg;

	(void)id;
	json_object_put(*o);
	*o = event_to_json(e);
	return 0;
}

static int fault_cb(const char *class_, const char *feature, int64_t n, void *arg)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "class", json_object_new_string(class_ ? class_ : ""));
	json_object_object_add(o, "feature", json_object_new_string(feature ? feature : ""));
	json_object_object_add(o, "count", json_object_new_int64(n));
	json_object_array_add(arg, o);
	return 0;
}

static int incident_cb(struct json_object *inc, void *arg)
{
	json_object_array_add(arg, json_object_get(inc));
	return 0;
}

/*
 * The fault watcher's counters of the daemon's current run (exact, since it started):
 * faults, forged signals refused, faults no site held (untracked), records the ring
 * buffer dropped, faults of traced processes.
 */
static struct json_object *watcher_json(struct store *s)
{
	static const char *const keys[] = { "faults", "forged", "untracked", "drops", "traced" };
	struct json_object *o = json_object_new_object();
	char key[32], buf[32];

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(key, sizeof(key), "watcher_%s", keys[i]);
		if (!store_get_status(s, key, buf, sizeof(buf)))
			json_object_object_add(o, keys[i],
					       json_object_new_int64(strtoll(buf, NULL, 10)));
	}
	return o;
}

/* The store as the running daemon last wrote it in its lock file; NULL when it did not. */
static struct json_object *health_json(const char *dir, int running)
{
	struct store_health h;
	struct json_object *o;

	if (running != 1 || store_health_read(dir, &h))
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "state", json_object_new_string(store_health_state(&h)));
	json_object_object_add(o, "why", json_object_new_string(h.why));
	json_object_object_add(o, "errors", json_object_new_int64((int64_t)h.errors));
	json_object_object_add(o, "pending", json_object_new_int64((int64_t)h.pending));
	json_object_object_add(o, "dropped", json_object_new_int64((int64_t)h.dropped));
	json_object_object_add(o, "failing_since_ns", json_object_new_int64(h.failing_since_ns));
	return o;
}

static struct json_object *collect(struct store *s, const char *dir, int running, int pid)
{
	static const char *const keys[] = { "mode",	     "mode_reason",    "started",
					    "version",	     "config",	       "reload_seq",
					    "reload_result", "reload_message", "reload_time" };
	struct json_object *o = json_object_new_object(), *ev, *faults, *verdict = NULL;
	struct event_query q = { .kind = EV_MIGRATION_SUSPECTED, .limit = 1 };
	int64_t counts[EV__COUNT][SEV_CRITICAL + 1];
	char buf[8192];

	json_object_object_add(o, "state_dir", json_object_new_string(dir));
	json_object_object_add(o, "running", json_object_new_boolean(running == 1));
	if (running == 1 && pid > 0)
		json_object_object_add(o, "pid", json_object_new_int(pid));
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!store_get_status(s, keys[i], buf, sizeof(buf)))
			json_object_object_add(o, keys[i], json_object_new_string(buf));
	/* Written by the daemon as JSON; shown as it is, or not at all. */
	if (!store_get_status(s, "sources", buf, sizeof(buf))) {
		struct json_object *src = json_tokener_parse(buf);

		if (json_object_is_type(src, json_type_object))
			json_object_object_add(o, "sources", src);
		else
			json_object_put(src);
	}
	json_object_object_add(o, "baseline", snap_json(s, SEL_BASELINE));
	/* Until a person accepts one, drift is measured from a stand-in (store.h). */
	if (!store_get_status(s, STORE_PROVISIONAL_KEY, buf, sizeof(buf)))
		json_object_object_add(o, "baseline_provisional", json_object_new_string(buf));
	json_object_object_add(o, "store", health_json(dir, running));
	json_object_object_add(o, "last_snapshot", snap_json(s, SEL_LATEST));
	store_query_events(s, &q, last_cb, &verdict);
	json_object_object_add(o, "last_verdict", verdict);
	/* Every open incident, with all its reasons, casualties and survivors. */
	ev = json_object_new_array();
	store_query_incidents(s, &(struct incident_query){ .open_only = true }, incident_cb, ev);
	json_object_object_add(o, "incidents", ev);
	ev = json_object_new_object();
	if (!store_event_counts(s, counts))
		for (int k = 0; k < EV__COUNT; k++) {
			int64_t n = 0;

			for (int v = 0; v <= SEV_CRITICAL; v++)
				n += counts[k][v];
			if (n)
				json_object_object_add(ev, event_kind_names[k],
						       json_object_new_int64(n));
		}
	json_object_object_add(o, "events", ev);
	faults = json_object_new_array();
	store_fault_counters(s, fault_cb, faults);
	json_object_object_add(o, "faults", faults);
	json_object_object_add(o, "watcher", watcher_json(s));
	json_object_object_add(o, "store_bytes", json_object_new_int64(store_size(s)));
	return o;
}

/* Every value printed comes through here, escaped: summaries carry process names. */
static const char *str(struct json_object *o, const char *key, const char *def)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && v ? str_esc(json_object_get_string(v)) :
							    def;
}

static void print_snap(const char *label, struct json_object *o)
{
	if (!o) {
		printf("%-14s none\n", label);
		return;
	}
	printf("%-14s %s  %s %s, x86-64-v%s, %s features (snapshot %s)\n", label,
	       str(o, "time", "?"), str(o, "vendor", "?"), str(o, "brand", ""),
	       str(o, "x86_64_level", "?"), str(o, "features", "?"), str(o, "id", "?"));
}

static void print_source(const char *name, struct json_object *src)
{
	bool on = json_object_get_boolean(json_object_object_get(src, "active"));

	printf("  %-14s %-8s %s\n", name, on ? "running" : "off", str(src, "detail", ""));
}

static void print_procs(const char *label, struct json_object *list)
{
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		struct json_object *p = json_object_array_get_idx(list, i), *t;
		char when[32];

		json_object_object_get_ex(p, "realtime_ns", &t);
		fmt_time(t ? json_object_get_int64(t) : 0, when, sizeof(when));
		printf("%-14s   %s %s[%s] %s needed %s, %s\n", "", label, str(p, "comm", "?"),
		       str(p, "pid", "?"), str(p, "exe", ""), str(p, "feature", "?"), when);
	}
}

/* An open incident: when it opened, what it says, every reason, and its processes. */
static void print_incident(struct json_object *inc)
{
	struct json_object *tally, *reasons = NULL, *t;
	char opened[32];

	json_object_object_get_ex(inc, "opened_real_ns", &t);
	fmt_time(t ? json_object_get_int64(t) : 0, opened, sizeof(opened));
	printf("%-14s %s opened %s, %s confidence (%s), %s processes at risk\n",
	       "incident:", str(inc, "id", "?"), opened, str(inc, "confidence", "?"),
	       str(inc, "severity", "?"),
	       json_object_get_int64(json_object_object_get(inc, "at_risk")) < 0 ?
		       "?" :
		       str(inc, "at_risk", "?"));
	if (json_object_object_get_ex(inc, "tally", &tally))
		json_object_object_get_ex(tally, "reasons", &reasons);
	for (size_t i = 0; reasons && i < json_object_array_length(reasons); i++) {
		struct json_object *r = json_object_array_get_idx(reasons, i);

		printf("%-14s   reason %s x%s: %s\n", "", str(r, "reason", "?"),
		       str(r, "count", "1"), str(r, "summary", ""));
	}
	print_procs("casualty", json_object_object_get(inc, "casualties"));
	print_procs("survived", json_object_object_get(inc, "survived"));
}

static void print_store(struct json_object *st)
{
	const char *state = str(st, "state", "?");
	struct json_object *t;
	char since[32];

	if (!strcmp(state, "ok")) {
		printf("%-14s ok\n", "store:");
		return;
	}
	json_object_object_get_ex(st, "failing_since_ns", &t);
	fmt_time(t ? json_object_get_int64(t) : 0, since, sizeof(since));
	printf("%-14s %s since %s (%s): %s writes refused, %s events waiting in memory, %s "
	       "dropped (counted)\n",
	       "store:", state, since, str(st, "why", ""), str(st, "errors", "?"),
	       str(st, "pending", "?"), str(st, "dropped", "?"));
}

static void print_text(struct json_object *o)
{
	struct json_object *v, *ev, *faults, *incs;
	const char *reason;

	if (json_object_get_boolean(json_object_object_get(o, "running")))
		printf("%-14s running (pid %s) since %s\n", "daemon:", str(o, "pid", "?"),
		       str(o, "started", "?"));
	else
		printf("%-14s not running\n", "daemon:");
	reason = str(o, "mode_reason", "");
	printf("%-14s %s%s%s\n", "mode:", str(o, "mode", "unknown"), *reason ? ": " : "", reason);
	printf("%-14s %s\n", "state dir:", str(o, "state_dir", "?"));
	v = json_object_object_get(o, "sources");
	if (v) {
		printf("sources:\n");
		json_object_object_foreach(v, name, src)
		{
			print_source(name, src);
		}
	}
	if (*str(o, "reload_result", ""))
		printf("%-14s %s (#%s): %s\n", "last reload:", str(o, "reload_result", ""),
		       str(o, "reload_seq", "?"), str(o, "reload_message", ""));
	v = json_object_object_get(o, "store");
	if (v)
		print_store(v);
	print_snap("baseline:", json_object_object_get(o, "baseline"));
	if (json_object_object_get(o, "baseline_provisional"))
		printf("%-14s PROVISIONAL: %s; drift is measured from it only; check it, then "
		       "`cpudrift baseline accept`\n",
		       "", str(o, "baseline_provisional", ""));
	print_snap("last snapshot:", json_object_object_get(o, "last_snapshot"));
	v = json_object_object_get(o, "last_verdict");
	printf("%-14s %s%s%s\n", "last verdict:", v ? str(v, "time", "?") : "none", v ? "  " : "",
	       v ? str(v, "summary", "") : "");
	incs = json_object_object_get(o, "incidents");
	if (!incs || !json_object_array_length(incs))
		printf("%-14s none open\n", "incidents:");
	for (size_t i = 0; incs && i < json_object_array_length(incs); i++)
		print_incident(json_object_array_get_idx(incs, i));
	ev = json_object_object_get(o, "events");
	printf("%-14s", "events:");
	if (!json_object_object_length(ev))
		printf(" none");
	json_object_object_foreach(ev, k, n)
		printf(" %s=%s", str_esc(k), json_object_get_string(n));
	printf("\n");
	v = json_object_object_get(o, "watcher");
	printf("%-14s", "watcher:");
	if (!json_object_object_length(v))
		printf(" not running");
	json_object_object_foreach(v, wk, wn) printf(" %s=%s", wk, json_object_get_string(wn));
	printf("\n");
	faults = json_object_object_get(o, "faults");
	printf("%-14s", "faults:");
	if (!json_object_array_length(faults))
		printf(" none");
	for (size_t i = 0; i < json_object_array_length(faults); i++) {
		struct json_object *f = json_object_array_get_idx(faults, i);

		printf(" %s/%s=%s", str(f, "class", "?"),
		       *str(f, "feature", "") ? str(f, "feature", "") : "-", str(f, "count", "?"));
	}
	printf("\n");
}

/* The value of the first line of @text that starts with @name ("name value"), or NULL. */
static const char *metric(const char *text, const char *name)
{
	size_t len = strlen(name);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, name, len) && (l[len] == ' ' || l[len] == '{'))
			return l + len;
	return NULL;
}

/*
 * What the textfile of the configuration says of the store: 0 with its state ("ok",
 * "full", "read-only", ...) and path, or -ENOENT (no textfile, or no such line).
 */
static int textfile_store_state(const char *config, char *state, size_t size, char *path,
				size_t psize)
{
	struct errbuf err = { "" };
	struct config c;
	const char *v;
	char *text = NULL, fmt[32];
	size_t len = 0;
	FILE *f;

	config_defaults(&c);
	if (config_load(&c, config ? config : CONFIG_DEFAULT_PATH, !config, &err) ||
	    !c.textfile_path[0] || !(f = fopen(c.textfile_path, "re")))
		return -ENOENT;
	if (getdelim(&text, &len, 0, f) < 0) {
		free(text);
		text = NULL;
	}
	fclose(f);
	/* Only a running daemon's word counts: a clean stop wrote cpudrift_up 0. */
	v = text ? metric(text, "cpudrift_up") : NULL;
	if (!v || strncmp(v, " 1", 2)) {
		free(text);
		return -ENOENT;
	}
	v = metric(text, "cpudrift_store_up");
	snprintf(fmt, sizeof(fmt), "{state=\"%%%zu[a-z-]\"", size - 1);
	if (!v || sscanf(v, fmt, state) != 1) {
		free(text);
		return -ENOENT;
	}
	snprintf(path, psize, "%s", c.textfile_path);
	free(text);
	return 0;
}

/*
 * The daemon runs without a store (a read-only state dir): what its textfile says.  0 when
 * it says so, -ENOENT when it does not.
 */
static int without_store(const char *dir, const char *config, int pid, bool json)
{
	struct json_object *o, *st;
	char state[32], path[PATH_MAX];

	if (textfile_store_state(config, state, sizeof(state), path, sizeof(path)) ||
	    (strcmp(state, "read-only") && strcmp(state, "offline")))
		return -ENOENT;
	o = json_object_new_object();
	json_object_object_add(o, "state_dir", json_object_new_string(dir));
	json_object_object_add(o, "running", json_object_new_boolean(true));
	if (pid > 0)
		json_object_object_add(o, "pid", json_object_new_int(pid));
	json_object_object_add(o, "mode", json_object_new_string("degraded"));
	json_object_object_add(o, "mode_reason", json_object_new_string("no evidence store"));
	st = json_object_new_object();
	json_object_object_add(st, "state", json_object_new_string(state));
	json_object_object_add(st, "from", json_object_new_string(path));
	json_object_object_add(o, "store", st);
	if (json) {
		cli_print_json(stdout, o, false);
	} else {
		if (pid > 0)
			printf("%-14s running (pid %d)\n", "daemon:", pid);
		else
			printf("%-14s running, as its textfile says (no lock file to ask)\n",
			       "daemon:");
		printf("%-14s degraded: no evidence store\n", "mode:");
		printf("%-14s %s\n", "state dir:", str_esc(dir));
		printf("%-14s %s: no store, nothing is stored (so says the textfile %s); events "
		       "reach the journal, the textfile and the log\n",
		       "store:", state, str_esc(path));
	}
	json_object_put(o);
	return 0;
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		ARGS_VERSION_OPTION,
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *state_dir = NULL, *config = NULL;
	struct errbuf err = { "" };
	struct json_object *o;
	char dir[PATH_MAX];
	struct store *s;
	bool json = false, ok;
	int c, running, pid = 0;

	while ((c = getopt_long(argc, argv, "jd:c:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'd':
			state_dir = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'v':
			cli_verbose();
			break;
		case ARGS_OPT_VERSION:
			return args_version();
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_ERROR;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_ERROR;
	}
	if (config_state_dir(state_dir, config, dir, sizeof(dir), &err)) {
		log_err("failed to read the configuration: %s", err.msg);
		return EXIT_ERROR;
	}
	running = store_lock_held(dir, &pid);
	if (running < 0)
		log_warn("cannot tell whether the daemon runs: %s", strerror(-running));
	/* A daemon without a store: what an old database there says is not news. */
	if (running == 1 && !without_store(dir, config, pid, json))
		return EXIT_FOUND;
	if (store__new(&s, dir, STORE_READONLY, &err)) {
		/* No lock file either when the state dir never could be written. */
		if (running != 1 && !without_store(dir, config, 0, json))
			return EXIT_FOUND;
		log_err("failed to open the evidence store: %s", err.msg);
		return EXIT_ERROR;
	}
	o = collect(s, dir, running, pid);
	store__free(s);
	if (json)
		cli_print_json(stdout, o, false);
	else
		print_text(o);
	ok = running == 1 && !strcmp(str(o, "mode", ""), "full");
	json_object_put(o);
	return ok ? EXIT_OK : EXIT_FOUND;
}
