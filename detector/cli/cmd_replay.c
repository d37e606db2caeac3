// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cpudrift replay: the daemon's analysis (tracker, timing rules, verdict) on a recording,
 * without the daemon: the events it would have raised, minus the processes at risk.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "core/escape.h"
#include "core/clock.h"
#include "core/log.h"
#include "formats/recording.h"

static int print_event(void *ctx, const struct event *e)
{
	bool json = *(bool *)ctx;
	struct json_object *o;
	char when[32];
	time_t t = e->realtime_ns / 1000000000;
	struct tm tm;

	if (json) {
		o = event_to_json(e);
		cli_print_json(stdout, o, true);
		json_object_put(o);
		return 0;
	}
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%s  %-20s %-8s %-10s %s\n", when, event_kind_names[e->kind], severity_name(e->sev),
	       str_esc(e->subject), str_esc(e->summary));
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: cpudrift replay [--json] [--window S] FILE\n\n"
		   "Run the daemon's analysis (snapshots, probe runs, faults, timing rules and\n"
		   "the migration verdict) on a recording made by `cpudrift record` (one JSON\n"
		   "object a line; \"-\" reads stdin) and print the events.  The processes at\n"
		   "risk are not listed: they belong to the machine that was recorded.\n"
		   "Exit status 1 when there are events, 0 when none.\n"
		   "  -j, --json       one event JSON object a line\n"
		   "  -w, --window S   verdict window in seconds (default 300)\n");
}

int cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },    { "window", required_argument, NULL, 'w' },
		{ "verbose", no_argument, NULL, 'v' }, ARGS_VERSION_OPTION,
		{ "help", no_argument, NULL, 'h' },    {},
	};
	struct engine_opts ro;
	struct recording_stats st;
	struct errbuf err = { "" };
	bool json = false;
	int c;

	engine_opts_default(&ro);
	while ((c = getopt_long(argc, argv, "jw:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'w':
			if (args_duration("--window", optarg, NSEC_PER_SEC, 1, INT64_MAX,
					  &ro.vo.window_ns)) {
				usage(stderr);
				return EXIT_ERROR;
			}
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
	if (optind != argc - 1) {
		usage(stderr);
		return EXIT_ERROR;
	}
	if (recording_replay(argv[optind], &ro, print_event, &json, &st, &err)) {
		log_err("%s", err.msg);
		return EXIT_ERROR;
	}
	if (st.bad)
		log_warn("%s: %ld malformed line(s) skipped", argv[optind], st.bad);
	return st.events ? EXIT_FOUND : EXIT_OK;
}
