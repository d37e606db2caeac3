// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cpudrift reload: ask the running daemon to reload its configuration (SIGHUP) and wait for
 * its answer in the store's status: the new file applied whole, or refused whole with the
 * old one still in force.  What the unit's ExecReload= runs, so that a refused file fails
 * `systemctl reload`.  Exit 0 applied, 1 refused, 2 error (no daemon, no answer).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/clock.h"
#include "core/log.h"
#include "formats/config.h"
#include "sinks/store.h"

#define POLL_MS 100

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cpudrift reload [--config FILE] [--state-dir DIR] [--timeout S] [-v]\n\n"
		"Tell the running daemon (the pid in STATE_DIR's lock) to reload its configuration\n"
		"and wait for its answer: every key applied, or the new file refused whole and the\n"
		"old one kept.  Prints the daemon's message.  The state dir comes from --state-dir,\n"
		"else from the file's state_dir line (read even when the rest of the file is bad).\n\n"
		"  --timeout S   seconds to wait for the answer (default 60)\n\n"
		"Exit status: 0 applied, 1 refused (the old configuration stays), 2 error (no daemon\n"
		"on that state dir, no answer in time, not allowed to signal it).\n");
}

static uint64_t reload_seq(struct store *s)
{
	char buf[32];

	return store_get_status(s, "reload_seq", buf, sizeof(buf)) ? 0 : strtoull(buf, NULL, 10);
}

int cmd_reload(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *config = NULL, *state_dir = NULL;
	char dir[PATH_MAX], result[32] = "", msg[1024] = "";
	struct errbuf err = { "" };
	int c, pid = 0, held, timeout_s = 60;
	struct store *s;
	uint64_t before;
	int64_t end;

	while ((c = getopt_long(argc, argv, "c:s:t:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 's':
			state_dir = optarg;
			break;
		case 't':
			timeout_s = atoi(optarg);
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
	if (optind != argc || timeout_s <= 0) {
		usage(stderr);
		return EXIT_ERROR;
	}
	if (state_dir) {
		snprintf(dir, sizeof(dir), "%s", state_dir);
	} else {
		int r = config_peek_state_dir(config ? config : CONFIG_DEFAULT_PATH, dir,
					      sizeof(dir));

		if (r) {
			log_err("failed to read %s: %s", config ? config : CONFIG_DEFAULT_PATH,
				strerror(-r));
			return EXIT_ERROR;
		}
	}
	held = store_lock_held(dir, &pid);
	if (held != 1 || pid <= 0) {
		log_err("no cpudrift daemon runs on state dir %s%s%s (a changed state_dir takes a "
			"restart, not a reload)",
			dir, held < 0 ? ": " : "", held < 0 ? strerror(-held) : "");
		return EXIT_ERROR;
	}
	if (store__new(&s, dir, STORE_READONLY, &err)) {
		log_err("failed to open the evidence store: %s", err.msg);
		return EXIT_ERROR;
	}
	before = reload_seq(s);
	if (kill(pid, SIGHUP)) {
		log_err("failed to signal the daemon (pid %d): %s", pid, strerror(errno));
		store__free(s);
		return EXIT_ERROR;
	}
	end = clock_mono_ns() + (int64_t)timeout_s * NSEC_PER_SEC;
	while (reload_seq(s) <= before) {
		if (clock_mono_ns() > end || (kill(pid, 0) && errno == ESRCH)) {
			log_err("the daemon (pid %d) %s", pid,
				kill(pid, 0) && errno == ESRCH ? "exited before it answered" :
								 "did not answer in time");
			store__free(s);
			return EXIT_ERROR;
		}
		usleep(POLL_MS * 1000);
	}
	store_get_status(s, "reload_result", result, sizeof(result));
	store_get_status(s, "reload_message", msg, sizeof(msg));
	store__free(s);
	if (!strcmp(result, "applied")) {
		printf("configuration applied: %s\n", msg);
		return EXIT_OK;
	}
	log_err("configuration refused, the old one stays in force: %s", msg);
	return EXIT_FOUND;
}
