// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cpudrift report [--incident ID] [--since T] [--until T] [--json]: the incident in plain
 * words, from the store (the daemon need not run).  Exit 1 when the window holds a critical event or a
 * process at risk still runs, 0 otherwise, 2 on error.
 */
#include <getopt.h>
#include <limits.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/selection.h"
#include "core/log.h"
#include "formats/config.h"
#include "formats/reporttext.h"
#include "formats/timearg.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cpudrift report [--incident ID] [--since TIME] [--until TIME] [--json]\n"
		"                       [--state-dir DIR] [--config FILE]\n\n"
		"The incident in plain words: the verdicts and their reasons, what changed\n"
		"(features, level, identity, microcode, hypervisor, XCR0, before -> after),\n"
		"the faults, the timing evidence, and the processes at risk and the casualties\n"
		"grouped by systemd unit and container, with what to restart.\n\n"
		"  --incident ID  one stored incident (its ID is in `cpudrift status` and\n"
		"                 `cpudrift events`): its window, from a minute before its first\n"
		"                 evidence to its close, and its own reasons, casualties,\n"
		"                 survivors and confidence history; --since and --until narrow it\n"
		"  --since TIME   start of the window (default: the first thing stored)\n"
		"  --until TIME   end of the window (default: now)\n"
		"                 TIME as journalctl takes it: %s\n"
		"  --json         the report model as JSON\n"
		"  --state-dir    the store (default: $CPUDRIFT_STATE_DIR, the configuration's\n"
		"                 state_dir, /var/lib/cpudrift)\n\n"
		"Exit status: 1 when the window holds a critical event or a process at risk\n"
		"still runs, 0 otherwise, 2 on error.\n",
		timearg_forms);
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "incident", required_argument, NULL, 'i' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		ARGS_VERSION_OPTION,
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct selection_spec spec = { 0 };
	const char *state_dir = NULL, *config = NULL;
	struct errbuf err = { "" };
	struct selection sel;
	char dir[PATH_MAX];
	struct store *s;
	bool json = false;
	int c, ret;

	while ((c = getopt_long(argc, argv, "i:s:u:jd:c:vh", opts, NULL)) != -1) {
		switch (c) {
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
	if (config_state_dir(state_dir, config, dir, sizeof(dir), &err) ||
	    store__new(&s, dir, STORE_READONLY, &err)) {
		log_err("failed to open the evidence store: %s", err.msg);
		return EXIT_ERROR;
	}
	ret = selection_load(s, &spec, &sel, &err);
	store__free(s);
	if (ret) {
		log_err("%s", err.msg);
		return EXIT_ERROR;
	}
	if (json)
		cli_print_json(stdout, sel.report, false);
	else
		reporttext_write(sel.report, stdout);
	ret = json_object_get_int(
		json_object_object_get(json_object_object_get(sel.report, "exit"), "status"));
	selection_clear(&sel);
	if (cli_close_out(stdout, NULL))
		return EXIT_ERROR;
	return ret ? EXIT_FOUND : EXIT_OK;
}
