// SPDX-License-Identifier: GPL-2.0-or-later
/* cpudrift fleet: the CPU features a fleet has in common, and how to mask a VM to them. */
#include <getopt.h>

#include "analysis/fleet.h"
#include "cli/cli.h"
#include "core/log.h"
#include "formats/fleetprint.h"
#include "formats/fleetread.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cpudrift fleet FILE... [--json] [--qemu VERSION] [-o FILE]\n\n"
		"Read snapshots or dumps of several hosts or guests (any format 'import' reads)\n"
		"and print the features they all have and its x86-64 level, what each input has\n"
		"beyond that, the newest named CPU models inside it, and configuration that masks\n"
		"a VM to it: a QEMU -cpu string and a libvirt <cpu mode='custom'> element.\n"
		"Inputs from different vendors are allowed and reported.\n\n"
		"  --json          print JSON\n"
		"  --qemu VERSION  base the -cpu string on a model QEMU VERSION defines (e.g. 7.2)\n"
		"  -o FILE         write to FILE instead of stdout\n");
}

int cmd_fleet(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "qemu", required_argument, NULL, 'q' },
		{ "output", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *outpath = NULL, *qemu = NULL;
	struct errbuf err = { "" };
	struct fleet_report r;
	struct fleet *fl = NULL;
	bool json = false;
	int c, ret = EXIT_ERROR;
	FILE *f;

	while ((c = getopt_long(argc, argv, "jq:o:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'q':
			qemu = optarg;
			break;
		case 'o':
			outpath = optarg;
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
	if (optind >= argc) {
		usage(stderr);
		return EXIT_ERROR;
	}
	fl = fleet__new();
	if (!fl) {
		log_err("failed to start a fleet: out of memory");
		return EXIT_ERROR;
	}
	if (fleet_read_files(fl, argv + optind, (size_t)(argc - optind), 0, &err)) {
		log_err("failed to read fleet input: %s", err.msg);
		goto out;
	}
	if (fleet_analyse(fl, qemu, &r)) {
		log_err("failed to analyse the fleet: out of memory");
		goto out;
	}
	f = cli_open_out(outpath);
	if (!f)
		goto out;
	if (json) {
		struct json_object *o = fleet_to_json(&r);

		cli_print_json(f, o, false);
		json_object_put(o);
	} else {
		fleet_print(&r, f);
	}
	ret = cli_close_out(f, outpath) ? EXIT_ERROR : EXIT_OK;
out:
	fleet__free(fl);
	return ret;
}
