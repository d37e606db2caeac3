// SPDX-License-Identifier: GPL-2.0-or-later
/* cpudrift import: read a CPUID dump taken elsewhere and decode it like a live capture. */
#include <getopt.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/snapsrc.h"
#include "formats/dumpfmt.h"
#include "core/log.h"
#include "formats/snapjson.h"
#include "formats/snapprint.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cpudrift import FILE [--json] [-o FILE]\n"
		"       cpudrift import BUNDLE[:before|:after] [--json] [-o FILE]\n\n"
		"Read a CPUID dump taken on another machine ('-' for standard input) and\n"
		"decode it like a live capture.  The format is detected:\n"
		"  libcpuid   cpuid_tool --save (basic_cpuid[N]=... lines)\n"
		"  aida64     AIDA64/InstLatx64 'CPUID 00000007: EAX-EBX-ECX-EDX [SL 01]' lines\n"
		"  cpuid-r    output of the Debian 'cpuid -r' tool\n"
		"  json       a cpudrift snapshot JSON ('cpudrift snapshot --json')\n"
		"  bundle     an evidence bundle: its snapshot before or after the change\n"
		"             (default: after), checked against its manifest\n\n"
		"  --json       print the snapshot JSON instead of the table\n"
		"  -o FILE      write to FILE instead of stdout\n");
}

int cmd_import(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },    { "output", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' }, ARGS_VERSION_OPTION,
		{ "help", no_argument, NULL, 'h' },    {},
	};
	const char *outpath = NULL;
	struct snapshot *s = NULL;
	struct errbuf err = { "" };
	bool json = false;
	FILE *f;
	int c, ret;

	while ((c = getopt_long(argc, argv, "jo:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'o':
			outpath = optarg;
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
	ret = snapsrc_load(argv[optind], &s, &err);
	if (ret) {
		log_err("failed to import %s", err.msg);
		return EXIT_ERROR;
	}
	f = cli_open_out(outpath);
	if (!f) {
		snapshot__free(s);
		return EXIT_ERROR;
	}
	if (json)
		ret = snapshot_write_json(s, f);
	else
		snapshot_print_table(s, f);
	ret = cli_close_out(f, outpath) ?: ret;
	snapshot__free(s);
	return ret ? EXIT_ERROR : EXIT_OK;
}
