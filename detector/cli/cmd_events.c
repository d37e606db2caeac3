// SPDX-License-Identifier: GPL-2.0-or-later
/* cpudrift events: read the events back from the store, with or without the daemon. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "core/escape.h"
#include "formats/config.h"
#include "core/log.h"
#include "sinks/store.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cpudrift events [--since TIME] [--kind KIND] [--incident ID] [--limit N] [--json]\n"
		"                       [--follow] [--state-dir DIR] [--config FILE]\n\n"
		"Show the events in the evidence store, oldest first.\n\n"
		"  --since TIME   only events at or after TIME, as journalctl takes it: 03:00 (today),\n"
		"                 today, yesterday [HH:MM], YYYY-MM-DD [HH:MM[:SS]] (local time),\n"
		"                 ISO 8601 with an offset, -2h (relative), 2h (an age), @EPOCH\n"
		"  --kind KIND    only events of KIND (see `cpudrift events --kinds`)\n"
		"  --incident ID  only the issues of incident ID and its resolution (the ID is in\n"
		"                 `cpudrift status` and in each migration.* event)\n"
		"  --limit N      only the newest N\n"
		"  --json         one JSON object per line (the event JSON, plus \"id\")\n"
		"  --follow       keep printing new events as they are stored\n"
		"  --state-dir    the daemon's state dir (default: $CPUDRIFT_STATE_DIR, else the\n"
		"                 configuration's state_dir, else /var/lib/cpudrift)\n"
		"  --kinds        list the event kinds and exit\n");
}

struct printer {
	bool json;
	int64_t last_id;
	int n;
};

static int print_event(int64_t id, const struct event *e, void *arg)
{
	struct printer *p = arg;
	struct json_object *o = event_to_json(e);

	p->last_id = id;
	p->n++;
	if (!o)
		return -ENOMEM;
	if (p->json) {
		json_object_object_add(o, "id", json_object_new_int64(id));
		cli_print_json(stdout, o, true);
	} else {
		struct json_object *t, *inc = NULL;

		json_object_object_get_ex(o, "time", &t);
		/* An incident's issues name it, so that its ID can be asked for. */
		if (e->kind == EV_MIGRATION_SUSPECTED)
			json_object_object_get_ex(e->body, "incident_id", &inc);
		printf("%-24s %-8s %-21s %-16s %s%s%s%s\n", json_object_get_string(t),
		       severity_name(e->sev), event_kind_names[e->kind],
		       *e->subject ? str_esc(e->subject) : "-", inc ? "[" : "",
		       inc ? str_esc(json_object_get_string(inc)) : "", inc ? "] " : "",
		       str_esc(e->summary));
	}
	json_object_put(o);
	return 0;
}

int cmd_events(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "kind", required_argument, NULL, 'k' },
		{ "incident", required_argument, NULL, 'i' },
		{ "limit", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "follow", no_argument, NULL, 'f' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "kinds", no_argument, NULL, 'K' },
		{ "verbose", no_argument, NULL, 'v' },
		ARGS_VERSION_OPTION,
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct event_query q = { .kind = -1 };
	struct printer pr = { 0 };
	const char *state_dir = NULL, *config = NULL;
	char dir[PATH_MAX];
	struct errbuf err = { "" };
	struct store *s;
	bool follow = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "s:k:i:n:jfd:c:vh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (args_time("--since", optarg, &q.since_ns)) {
				usage(stderr);
				return EXIT_ERROR;
			}
			break;
		case 'k':
			q.kind = event_kind_lookup(optarg);
			if (q.kind < 0) {
				log_err("unknown event kind '%s' (see cpudrift events --kinds)",
					optarg);
				return EXIT_ERROR;
			}
			break;
		case 'i':
			q.incident = optarg;
			break;
		case 'n':
			if (args_int32("--limit", optarg, 1, INT_MAX, &q.limit)) {
				usage(stderr);
				return EXIT_ERROR;
			}
			break;
		case 'j':
			pr.json = true;
			break;
		case 'f':
			follow = true;
			break;
		case 'd':
			state_dir = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'K':
			for (int k = 0; k < EV__COUNT; k++)
				printf("%-22s %s\n", event_kind_names[k], event_kind_descs[k]);
			return EXIT_OK;
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
	if (config_state_dir(state_dir, config, dir, sizeof(dir), &err) ||
	    store__new(&s, dir, STORE_READONLY, &err)) {
		log_err("failed to open the evidence store: %s", err.msg);
		return EXIT_ERROR;
	}
	r = store_query_events(s, &q, print_event, &pr);
	while (!r && follow) {
		fflush(stdout);
		sleep(1);
		q.after_id = pr.last_id;
		q.limit = 0;
		r = store_query_events(s, &q, print_event, &pr);
	}
	store__free(s);
	if (r) {
		log_err("failed to read events: %s", strerror(-r));
		return EXIT_ERROR;
	}
	if (!pr.json && !pr.n)
		fprintf(stderr, "no events\n");
	return EXIT_OK;
}
