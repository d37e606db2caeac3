// SPDX-License-Identifier: GPL-2.0-or-later
/* cpudrift run: the service.  Parses arguments, guards glibc's dispatch, runs the daemon. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "daemon/daemon.h"
#include "core/log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cpudrift run [--config FILE] [--state-dir DIR] [--replay FILE] [-v]\n\n"
		"Run the cpudrift service in the foreground: snapshots and probes every\n"
		"interval, the eBPF fault watcher, the timing sources, the migration verdict;\n"
		"events go to the store in the state dir, the journal, hooks and the\n"
		"Prometheus textfile.  SIGHUP reloads the configuration, SIGTERM stops.\n\n"
		"  --config FILE     configuration (default %s if present)\n"
		"  --state-dir DIR   evidence store folder (default from the configuration)\n"
		"  --replay FILE     a recording (`cpudrift record`) in place of the live\n"
		"                    sources: its events go to the sinks, then cpudrift exits\n"
		"  -v                more log output (repeat for debug)\n\n"
		"Exit status: 0 stopped cleanly, 2 error (a bad configuration, a second daemon on\n"
		"the state dir), 3 the store was written by a newer cpudrift (left untouched).\n",
		"/etc/cpudrift/cpudrift.conf");
}

/*
 * Re-execute with the glibc hwcaps mask when it is missing, so that a migration that
 * takes AVX2 away cannot kill cpudrift in memcpy.  Returns only when no re-exec happened.
 */
static void guard_glibc_dispatch(void)
{
	const char *cur = getenv("GLIBC_TUNABLES");
	char *val, self[PATH_MAX];
	ssize_t n;

	if (cur && strstr(cur, DAEMON_HWCAPS_TUNABLE))
		return;
	if (getenv("CPUDRIFT_REEXECED")) {
		log_warn("GLIBC_TUNABLES was not applied; running with glibc's own dispatch");
		return;
	}
	if (asprintf(&val, "%s%s%s", cur ? cur : "", cur && *cur ? ":" : "",
		     DAEMON_HWCAPS_TUNABLE) < 0)
		return;
	setenv("GLIBC_TUNABLES", val, 1);
	setenv("CPUDRIFT_REEXECED", "1", 1);
	free(val);
	/* The real path, not /proc/self/exe: that would name the process "exe". */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return;
	self[n] = 0;
	execv(self, cli_argv);
	log_warn("failed to re-execute with GLIBC_TUNABLES: %s", strerror(errno));
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "replay", required_argument, NULL, 'r' },
		{ "verbose", no_argument, NULL, 'v' },
		ARGS_VERSION_OPTION,
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct daemon_opts o = { 0 };
	int c;

	while ((c = getopt_long(argc, argv, "c:s:r:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.config_path = optarg;
			break;
		case 's':
			o.state_dir = optarg;
			break;
		case 'r':
			o.replay_path = optarg;
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
	o.verbose_set = log_get_level() != LOG_LVL_WARN;
	guard_glibc_dispatch();
	c = daemon_run(&o);
	if (c == -EPROTO)
		return DAEMON_EXIT_STORE_NEWER;
	return c ? EXIT_ERROR : EXIT_OK;
}
