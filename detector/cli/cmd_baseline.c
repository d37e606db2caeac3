// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cpudrift baseline show|accept: show the baseline snapshot, or take the newest stored
 * snapshot (or --id N) as the new baseline once a person has looked at the drift.  The
 * running daemon is told with SIGUSR1 (re-read the baseline, nothing else) and this waits
 * until its status says it took it; a daemon that cannot be signalled notices the change
 * by itself within a minute.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
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
		"usage: cpudrift baseline show [--json] [--state-dir DIR] [--config FILE]\n"
		"       cpudrift baseline accept [--id N] [--state-dir DIR] [--config FILE]\n\n"
		"show:    the baseline snapshot (--json: its full snapshot JSON)\n"
		"accept:  make the newest stored snapshot (or snapshot N) the baseline; the old\n"
		"         one is kept as an old baseline.  A running daemon takes it at once\n"
		"         (told with SIGUSR1), or by itself within a minute.\n");
}

static void print_meta(const char *what, const struct snapmeta *m)
{
	time_t t = m->realtime_ns / 1000000000;
	char when[32];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%s: snapshot %lld taken %s (boot %s)\n  %s %s, x86-64-v%d, %d features\n", what,
	       (long long)m->id, when, str_esc(m->boot_id), str_esc(m->vendor), str_esc(m->brand),
	       m->level, m->nfeatures);
}

static int show(struct store *s, bool json)
{
	struct snapmeta m;
	char *text = NULL;
	int r = store_get_snapshot(s, SEL_BASELINE, NULL, &m, json ? &text : NULL);

	if (r == -ENOENT) {
		log_err("no baseline yet: the daemon takes one at its first start");
		return EXIT_ERROR;
	}
	if (r) {
		log_err("failed to read the baseline: %s", strerror(-r));
		return EXIT_ERROR;
	}
	if (json)
		printf("%s\n", text);
	else
		print_meta("baseline", &m);
	free(text);
	return EXIT_OK;
}

/* The daemon takes the baseline when told; it says so with status baseline_id. */
static void tell_daemon(struct store *s, const char *dir, int64_t id)
{
	char buf[32];
	int pid = 0;

	if (store_lock_held(dir, &pid) != 1 || pid <= 0)
		return;
	if (kill(pid, SIGUSR1)) {
		log_warn("failed to tell the daemon (pid %d): %s; it takes the new baseline by "
			 "itself within a minute",
			 pid, strerror(errno));
		return;
	}
	for (int i = 0; i < 100; i++) {
		if (!store_get_status(s, "baseline_id", buf, sizeof(buf)) && atoll(buf) == id) {
			printf("the running daemon (pid %d) uses it now\n", pid);
			return;
		}
		usleep(100000);
	}
	log_warn("the daemon (pid %d) did not confirm the new baseline within 10 s; it takes it "
		 "by itself within a minute",
		 pid);
}

static int accept_one(struct store *s, const char *dir, int64_t id)
{
	struct snapmeta m;
	int r;

	if (id <= 0) {
		r = store_get_snapshot(s, SEL_LATEST, NULL, &m, NULL);
		if (r) {
			log_err("failed to find a snapshot to accept: %s",
				r == -ENOENT ? "the store has none" : strerror(-r));
			return EXIT_ERROR;
		}
		id = m.id;
	}
	r = store_set_baseline(s, id);
	if (r) {
		log_err("failed to accept snapshot %lld: %s", (long long)id,
			r == -ENOENT ? "no such snapshot" : strerror(-r));
		return EXIT_ERROR;
	}
	if (store_get_snapshot(s, SEL_BASELINE, NULL, &m, NULL))
		return EXIT_OK;
	print_meta("new baseline", &m);
	tell_daemon(s, dir, m.id);
	return EXIT_OK;
}

int cmd_baseline(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "id", required_argument, NULL, 'i' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		ARGS_VERSION_OPTION,
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *state_dir = NULL, *config = NULL, *action;
	struct errbuf err = { "" };
	char dir[PATH_MAX];
	struct store *s;
	bool json = false;
	int64_t id = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "ji:d:c:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'i':
			if (args_int("--id", optarg, 1, INT64_MAX, &id)) {
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
	if (optind != argc - 1 ||
	    (strcmp(argv[optind], "show") && strcmp(argv[optind], "accept"))) {
		usage(stderr);
		return EXIT_ERROR;
	}
	action = argv[optind];
	if (config_state_dir(state_dir, config, dir, sizeof(dir), &err)) {
		log_err("failed to read the configuration: %s", err.msg);
		return EXIT_ERROR;
	}
	/* Read-only first: accept must not create a store where there is none. */
	if (store__new(&s, dir, STORE_READONLY, &err)) {
		log_err("failed to open the evidence store: %s", err.msg);
		return EXIT_ERROR;
	}
	if (!strcmp(action, "accept")) {
		store__free(s);
		s = NULL;
	}
	if (!s && store__new(&s, dir, 0, &err)) {
		log_err("failed to open the evidence store: %s", err.msg);
		return EXIT_ERROR;
	}
	r = !strcmp(action, "show") ? show(s, json) : accept_one(s, dir, id);
	store__free(s);
	return r;
}
