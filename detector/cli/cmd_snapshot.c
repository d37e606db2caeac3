// SPDX-License-Identifier: GPL-2.0-or-later
/* cpudrift snapshot: capture this machine's CPUID and print it as a table or JSON. */
#include <getopt.h>
#include <sched.h>
#include <stdlib.h>

#include "capture/capture.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "core/log.h"
#include "formats/snapjson.h"
#include "formats/snapprint.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: cpudrift snapshot [--json] [-o FILE] [--cpu N]\n\n"
		   "Capture CPUID on every online vCPU (all standard, extended and hypervisor\n"
		   "leaves with their subleaves), XCR0, microcode and the kernel's flags, and\n"
		   "print identity, x86-64 level and the features advertised on every vCPU.\n\n"
		   "  --json       print the snapshot JSON (raw leaves included)\n"
		   "  -o FILE      write to FILE instead of stdout\n"
		   "  --cpu N      capture only vCPU N\n");
}

int cmd_snapshot(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "output", required_argument, NULL, 'o' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		ARGS_VERSION_OPTION,
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct capture_opts co = { .only_cpu = -1 };
	const char *outpath = NULL;
	struct snapshot *s = NULL;
	struct errbuf err = { "" };
	bool json = false;
	FILE *f;
	int c, ret;

	while ((c = getopt_long(argc, argv, "jo:c:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'o':
			outpath = optarg;
			break;
		case 'c':
			if (args_int32("--cpu", optarg, 0, CPU_SETSIZE - 1, &co.only_cpu)) {
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
	if (optind != argc) {
		usage(stderr);
		return EXIT_ERROR;
	}
	ret = capture_snapshot(&s, &co, &err);
	if (ret) {
		log_err("failed to capture snapshot: %s", err.msg);
		return EXIT_ERROR;
	}
	f = cli_open_out(outpath);
	if (!f) {
		snapshot__free(s);
		return EXIT_ERROR;
	}
	if (json)
		snapshot_write_json(s, f);
	else
		snapshot_print_table(s, f);
	ret = cli_close_out(f, outpath);
	snapshot__free(s);
	return ret ? EXIT_ERROR : EXIT_OK;
}
