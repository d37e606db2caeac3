// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cpudrift evidence -o FILE.tar.gz [--incident ID] [--since T] [--until T] [--redact]
 *                   [--max-size SIZE]
 * cpudrift evidence verify FILE
 * One archive for a ticket (formats/bundle.h): the report (summary.md, report.html,
 * report.json), the snapshots before and after (JSON and libcpuid raw) and their diff,
 * every event of the window, probe runs, timing observations, verdicts and the processes
 * at risk, system facts, cpudrift's configuration and status, the journal lines, the
 * selected incident as stored (incident.json), and a manifest with the SHA-256 of every
 * member.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "capture/journalread.h"
#include "capture/sysfacts.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/selection.h"
#include "core/escape.h"
#include "core/log.h"
#include "formats/bundle.h"
#include "formats/config.h"
#include "formats/lcdump.h"
#include "formats/redact.h"
#include "formats/reporthtml.h"
#include "formats/reporttext.h"
#include "formats/snapjson.h"
#include "formats/timearg.h"

/* Journal lines kept at most (their share of the bound is small by design). */
#define JOURNAL_MAX_ENTRIES 20000
#define JOURNAL_MAX_BYTES (4 << 20)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cpudrift evidence -o FILE.tar.gz [--incident ID] [--since TIME]\n"
		"                         [--until TIME] [--redact] [--max-size SIZE]\n"
		"                         [--state-dir DIR] [--config FILE]\n"
		"       cpudrift evidence verify FILE\n\n"
		"Write one archive for a support ticket: the report (summary.md, report.html),\n"
		"the snapshots before and after the change (JSON and libcpuid raw) and their\n"
		"diff, every event of the window, probe runs, timing observations, verdicts and\n"
		"processes at risk, system facts, cpudrift's configuration and status, the\n"
		"journal lines, the selected incident (incident.json), and manifest.json with\n"
		"the SHA-256 of every member.\n"
		"Environments and command lines are never collected.\n\n"
		"  -o FILE        the archive to write (replaced atomically)\n"
		"  --incident ID  one stored incident and its window (as `cpudrift report\n"
		"                 --incident`); --since and --until narrow it\n"
		"  --since TIME   start of the window (default: the first thing stored)\n"
		"  --until TIME   end of the window (default: now)\n"
		"                 TIME as journalctl takes it: %s\n"
		"  --redact       replace host and user names (also in /home/NAME/ paths)\n"
		"  --max-size N   bound on the members (default 20M); what was cut is in the\n"
		"                 manifest\n\n"
		"verify: check every member against the manifest; exit 1 on any mismatch, a\n"
		"missing member or a damaged archive.\n",
		timearg_forms);
}

struct ev {
	struct bundle_writer *b;
	struct redactor *red;
	struct json_object *collected; /* member -> what it holds */
};

/* Add @text as member @name, redacted when asked. */
static int add(struct ev *x, const char *name, const char *text, size_t len)
{
	size_t n;
	char *r = redact_text(x->red, text, len, &n);
	int ret;

	if (!r)
		return -ENOMEM;
	ret = bundle_add(x->b, name, r, n);
	free(r);
	return ret;
}

static int add_json(struct ev *x, const char *name, struct json_object *o)
{
	const char *t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
								  JSON_C_TO_STRING_SPACED |
								  JSON_C_TO_STRING_NOSLASHESCAPE);

	return add(x, name, t, strlen(t));
}

/* What a FILE* writer produces, as a member. */
static int add_written(struct ev *x, const char *name, int (*fn)(void *, FILE *), void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	int ret;

	if (!m)
		return -ENOMEM;
	ret = fn(arg, m);
	fclose(m);
	if (!ret)
		ret = add(x, name, buf ? buf : "", len);
	free(buf);
	return ret;
}

static int w_text(void *r, FILE *f)
{
	return reporttext_write(r, f);
}

static int w_html(void *r, FILE *f)
{
	return reporthtml_write(r, f);
}

static int w_raw(void *s, FILE *f)
{
	return lcdump_export(s, -1, f);
}

static int w_config(void *c, FILE *f)
{
	config_write(c, f);
	return 0;
}

/* JSON-lines rows of one table, redacted row by row, up to the room left. */
struct rows {
	struct ev *x;
	char *buf;
	size_t len, cap;
	int64_t room, kept;
	bool full;
};

static int on_row(int64_t id, int64_t realtime_ns, const char *json, void *arg)
{
	struct rows *r = arg;
	size_t n;
	char *t;

	(void)id;
	(void)realtime_ns;
	if (r->full)
		return 0;
	t = redact_text(r->x->red, json, strlen(json), &n);
	if (!t)
		return -ENOMEM;
	if ((int64_t)(r->len + n + 1) > r->room) {
		r->full = true;
		free(t);
		return 0;
	}
	if (r->len + n + 2 > r->cap) {
		size_t cap = (r->len + n + 2) * 2;
		char *p = realloc(r->buf, cap);

		if (!p) {
			free(t);
			return -ENOMEM;
		}
		r->buf = p;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, t, n);
	r->len += n;
	r->buf[r->len++] = '\n';
	r->kept++;
	free(t);
	return 0;
}

static int add_rows(struct ev *x, struct store *s, const struct selection *in, const char *table,
		    const char *name)
{
	struct rows r = { .x = x, .room = bundle_room(x->b) };
	int64_t total = store_window_count(s, table, in->since_ns, in->until_ns);
	int ret = store_window_rows(s, table, in->since_ns, in->until_ns, on_row, &r);

	if (!ret && r.full)
		bundle_note_cut(x->b, name, table, r.kept, total);
	/* Rows were redacted one by one: add them as they are. */
	if (!ret)
		ret = bundle_add(x->b, name, r.buf ? r.buf : "", r.len);
	free(r.buf);
	return ret;
}

static struct json_object *status_json(struct store *s, const char *dir)
{
	static const char *const keys[] = { "mode", "mode_reason", "started", "version", "config" };
	struct json_object *o = json_object_new_object(), *ev = json_object_new_object();
	int64_t counts[EV__COUNT][SEV_CRITICAL + 1];
	char buf[1024];
	int pid = 0, running = store_lock_held(dir, &pid);

	json_object_object_add(o, "state_dir", json_object_new_string(dir));
	json_object_object_add(o, "running", json_object_new_boolean(running == 1));
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!store_get_status(s, keys[i], buf, sizeof(buf)))
			json_object_object_add(o, keys[i], json_object_new_string(buf));
	if (!store_event_counts(s, counts))
		for (int k = 0; k < EV__COUNT; k++)
			for (int v = 0; v <= SEV_CRITICAL; v++)
				if (counts[k][v]) {
					snprintf(buf, sizeof(buf), "%s/%s", event_kind_names[k],
						 severity_name(v));
					json_object_object_add(ev, buf,
							       json_object_new_int64(counts[k][v]));
				}
	json_object_object_add(o, "events_total", ev);
	json_object_object_add(o, "store_bytes", json_object_new_int64(store_size(s)));
	return o;
}

static int redact_cb(const char *name, const char *with, void *ctx)
{
	return redact_add(ctx, name, with);
}

static int build(struct ev *x, struct store *s, const char *dir, const char *config_path,
		 const struct selection *in, struct json_object *extra)
{
	struct json_object *r = in->report, *o, *ch = json_object_object_get(r, "change");
	struct config cfg;
	struct errbuf err = { "" };
	char *jbuf = NULL;
	size_t jlen = 0, jn = 0;
	int ret, jr;

	ret = add_written(x, "summary.md", w_text, r);
	ret = ret ?: add_written(x, "report.html", w_html, r);
	ret = ret ?: add_json(x, "report.json", r);
	if (!ret && in->incident)
		ret = add_json(x, "incident.json", in->incident);
	if (!ret && in->before_json)
		ret = add(x, "snapshots/before.json", in->before_json, strlen(in->before_json));
	if (!ret && in->after_json)
		ret = add(x, "snapshots/after.json", in->after_json, strlen(in->after_json));
	if (!ret && in->before)
		ret = add_written(x, "snapshots/before.raw", w_raw, in->before);
	if (!ret && in->after)
		ret = add_written(x, "snapshots/after.raw", w_raw, in->after);
	if (!ret && json_object_object_get(ch, "full_diff"))
		ret = add_json(x, "diff.json", json_object_object_get(ch, "full_diff"));
	if (!ret) {
		o = json_object_new_object();
		json_object_object_add(o, "verdict",
				       json_object_get(json_object_object_get(r, "verdict")));
		json_object_object_add(o, "verdicts",
				       json_object_get(json_object_object_get(r, "verdicts")));
		ret = add_json(x, "verdicts.json", o);
		json_object_put(o);
	}
	if (!ret) {
		o = json_object_new_object();
		json_object_object_add(o, "at_risk",
				       json_object_get(json_object_object_get(r, "at_risk")));
		json_object_object_add(o, "casualties",
				       json_object_get(json_object_object_get(r, "casualties")));
		json_object_object_add(o, "survived",
				       json_object_get(json_object_object_get(r, "survived")));
		json_object_object_add(o, "remedy",
				       json_object_get(json_object_object_get(r, "remedy")));
		ret = add_json(x, "at_risk.json", o);
		json_object_put(o);
	}
	if (!ret) {
		o = sysfacts_collect("");
		if (in->after)
			json_object_object_add(json_object_object_get(o, "hypervisor"), "cpuid",
					       json_object_new_string(in->after->hypervisor));
		ret = add_json(x, "system.json", o);
		json_object_put(o);
	}
	config_defaults(&cfg);
	if (!config_load(&cfg, config_path ? config_path : CONFIG_DEFAULT_PATH, !config_path, &err))
		ret = ret ?: add_written(x, "config.txt", w_config, &cfg);
	else
		json_object_object_add(extra, "config", json_object_new_string(err.msg));
	if (!ret) {
		o = status_json(s, dir);
		ret = add_json(x, "status.json", o);
		json_object_put(o);
	}
	jr = journalread_window(in->since_ns, in->until_ns, JOURNAL_MAX_ENTRIES, JOURNAL_MAX_BYTES,
				&jbuf, &jlen, &jn, &err);
	if (!ret && !jr)
		ret = add(x, "journal.jsonl", jbuf ? jbuf : "", jlen);
	if (jr == -ENOENT || jr)
		snprintf(err.msg, sizeof(err.msg), "%s",
			 jr == -ENOENT ? "no journal on this machine: not collected" : err.msg);
	else
		snprintf(err.msg, sizeof(err.msg), "%zu entries%s", jn,
			 jn == JOURNAL_MAX_ENTRIES ? ", cut at the entry bound" : "");
	json_object_object_add(extra, "journal", json_object_new_string(err.msg));
	free(jbuf);
	ret = ret ?: add_rows(x, s, in, "events", "events.jsonl");
	ret = ret ?: add_rows(x, s, in, "probe_runs", "probe_runs.jsonl");
	ret = ret ?: add_rows(x, s, in, "timing_samples", "timing.jsonl");
	return ret;
}

static int verify(const char *path)
{
	struct bundle_check c;
	struct errbuf err = { "" };
	int r = bundle_verify(path, &c, &err);

	if (r < 0) {
		log_err("%s", err.msg);
		return EXIT_ERROR;
	}
	if (r) {
		printf("%s: NOT intact: %s\n", str_esc(path), str_esc(c.problem));
		return EXIT_FOUND;
	}
	printf("%s: intact, %d members match the manifest\n", str_esc(path), c.verified);
	return EXIT_OK;
}

int cmd_evidence(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "incident", required_argument, NULL, 'i' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "redact", no_argument, NULL, 'R' },
		{ "max-size", required_argument, NULL, 'm' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		ARGS_VERSION_OPTION,
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct selection_spec spec = { 0 };
	const char *state_dir = NULL, *config = NULL, *out = NULL;
	struct ev x = { 0 };
	struct errbuf err = { "" };
	struct json_object *extra, *w;
	struct selection in;
	int64_t max = BUNDLE_DEFAULT_MAX;
	char dir[PATH_MAX];
	struct store *s;
	bool redact = false;
	int c, ret;

	if (argc >= 2 && !strcmp(argv[1], "verify")) {
		if (argc != 3) {
			usage(stderr);
			return EXIT_ERROR;
		}
		return verify(argv[2]);
	}
	while ((c = getopt_long(argc, argv, "o:i:s:u:Rm:d:c:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'i':
			if (args_incident(optarg, &spec.incident)) {
				usage(stderr);
				return EXIT_ERROR;
			}
			break;
		case 's':
		case 'u':
			if (args_time(c == 's' ? "--since" : "--until", optarg,
				      c == 's' ? &spec.since_ns : &spec.until_ns)) {
				usage(stderr);
				return EXIT_ERROR;
			}
			break;
		case 'R':
			redact = true;
			break;
		case 'm':
			if (args_size("--max-size", optarg, 1 << 20, BUNDLE_MAX_TOTAL, &max)) {
				usage(stderr);
				return EXIT_ERROR;
			}
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
	if (optind != argc || !out) {
		if (!out)
			log_err("failed to start: -o FILE names the archive to write");
		usage(stderr);
		return EXIT_ERROR;
	}
	if (config_state_dir(state_dir, config, dir, sizeof(dir), &err) ||
	    store__new(&s, dir, STORE_READONLY, &err)) {
		log_err("failed to open the evidence store: %s", err.msg);
		return EXIT_ERROR;
	}
	ret = selection_load(s, &spec, &in, &err);
	if (ret) {
		store__free(s);
		log_err("%s", err.msg);
		return EXIT_ERROR;
	}
	if (redact) {
		x.red = redact__new();
		if (!x.red || sysfacts_private_names("", redact_cb, x.red)) {
			log_err("failed to prepare the redaction");
			ret = -ENOMEM;
			goto out;
		}
	}
	ret = bundle_writer__new(out, max, &x.b, &err);
	if (ret) {
		log_err("%s", err.msg);
		goto out;
	}
	extra = json_object_new_object();
	json_object_object_add(extra, "cpudrift_version", json_object_new_string(CPUDRIFT_VERSION));
	w = json_object_new_object();
	json_object_object_add(w, "since_ns", json_object_new_int64(in.since_ns));
	json_object_object_add(w, "until_ns", json_object_new_int64(in.until_ns));
	json_object_object_add(w, "incident",
			       spec.incident ? json_object_new_string(spec.incident) : NULL);
	json_object_object_add(extra, "window", w);
	json_object_object_add(extra, "created_ns",
			       json_object_new_int64(in.until_ns > 0 ? in.until_ns : 0));
	json_object_object_add(extra, "redacted", json_object_new_boolean(redact));
	ret = build(&x, s, dir, config, &in, extra);
	if (!ret)
		ret = bundle_finish(x.b, extra, &err);
	json_object_put(extra);
	if (ret) {
		log_err("failed to write %s: %s", out, err.msg[0] ? err.msg : strerror(-ret));
		goto out;
	}
	fprintf(stderr, "cpudrift: wrote %s\n", str_esc(out));
out:
	bundle_writer__free(x.b);
	redact__free(x.red);
	selection_clear(&in);
	store__free(s);
	return ret ? EXIT_ERROR : EXIT_OK;
}
