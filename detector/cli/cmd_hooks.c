// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cpudrift hooks run: run every hook for each event the daemon spooled, in order, and
 * remember how far it got (sink_hooks.h).  What cpudrift-hooks.service runs.
 * Exit 0 every hook succeeded (or nothing waited), 1 a hook failed, 2 error.
 */
#include <getopt.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"
#include "formats/config.h"
#include "sinks/sink_hooks.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cpudrift hooks run [--config FILE] [--state-dir DIR] [--hooks-dir DIR]\n"
		"                          [--cursor FILE] [--timeout S] [-v]\n\n"
		"Run every hook (executable files of the hooks folder named [A-Za-z0-9_-]+, owned\n"
		"by root and writable by nobody else) for each event the daemon spooled in\n"
		"STATE_DIR/spool, oldest first, with the event's JSON on stdin and CPUDRIFT_*\n"
		"variables in the environment; record the last event done in the cursor file.\n"
		"Runs until no spooled event is left.  cpudrift-hooks.service runs it, as its own\n"
		"user, when cpudrift-hooks.path sees the spool change.\n\n"
		"  --config FILE     configuration (default %s if present)\n"
		"  --state-dir DIR   the daemon's state dir (default: state_dir)\n"
		"  --hooks-dir DIR   the hooks (default: hooks_dir)\n"
		"  --cursor FILE     the cursor file (default: hook_cursor)\n"
		"  --timeout S       seconds a hook may run (default: hook_timeout)\n\n"
		"Exit status: 0 every hook succeeded or nothing waited, 1 a hook failed, timed\n"
		"out or was refused, 2 error (the events stay in the spool).\n",
		CONFIG_DEFAULT_PATH);
}

int cmd_hooks(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "hooks-dir", required_argument, NULL, 'H' },
		{ "cursor", required_argument, NULL, 'C' },
		{ "timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	/* Options override the file whatever their order: applied after it is read. */
	const char *keys[4] = { 0 },
		   *names[4] = { "state_dir", "hooks_dir", "hook_cursor", "hook_timeout" };
	const char *config = NULL;
	struct errbuf err = { "" };
	struct hooks_stats st;
	struct hooks_opts ho;
	struct config cfg;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:s:H:C:t:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 's':
			keys[0] = optarg;
			break;
		case 'H':
			keys[1] = optarg;
			break;
		case 'C':
			keys[2] = optarg;
			break;
		case 't':
			keys[3] = optarg;
			break;
		case 'v':
			cli_verbose();
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_ERROR;
		}
	}
	if (optind != argc - 1 || strcmp(argv[optind], "run")) {
		usage(stderr);
		return EXIT_ERROR;
	}
	config_defaults(&cfg);
	if (config_load(&cfg, config ? config : CONFIG_DEFAULT_PATH, !config, &err)) {
		log_err("%s", err.msg);
		return EXIT_ERROR;
	}
	if (log_get_level() == LOG_LVL_WARN)
		log_set_level(cfg.log_level);
	for (int i = 0; i < 4; i++) {
		char where[32];

		snprintf(where, sizeof(where), "--%s", opts[i + 1].name);
		if (keys[i] && config_set(&cfg, names[i], keys[i], where, &err)) {
			log_err("%s", err.msg);
			return EXIT_ERROR;
		}
	}
	ho = (struct hooks_opts){
		.state_dir = cfg.state_dir,
		.hooks_dir = cfg.hooks_dir,
		.cursor_path = cfg.hook_cursor,
		.timeout_ms = (unsigned)cfg.hook_timeout_s * 1000,
	};
	r = hooks_run_spool(&ho, &st, &err);
	if (r < 0) {
		log_err("%s", err.msg);
		return EXIT_ERROR;
	}
	log_info("%llu spooled events done (%llu skipped): %llu hooks run, %llu failed",
		 (unsigned long long)st.events, (unsigned long long)st.skipped,
		 (unsigned long long)st.runs, (unsigned long long)st.failed);
	return r ? EXIT_FOUND : EXIT_OK;
}
