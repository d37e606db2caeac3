// SPDX-License-Identifier: GPL-2.0-or-later
/* cpudrift: in-guest CPU feature-drift detector.  Dispatches to the subcommands. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "core/log.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
#define CMD(n, s) { #n, cmd_##n, s },
#include "cli/commands.def"
#undef CMD
};

static void usage(FILE *f)
{
	fprintf(f, "usage: cpudrift [-v] COMMAND [ARGS]\n       cpudrift --version\n\n"
		   "In-guest CPU feature-drift detector.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'cpudrift COMMAND --help' describes each command.\n");
}

int main(int argc, char **argv)
{
	int i = 1;

	cli_argv = argv;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			cli_verbose();
		} else if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
			return args_version();
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return EXIT_OK;
		} else {
			fprintf(stderr, "cpudrift: unknown option %s\n", argv[i]);
			usage(stderr);
			return EXIT_ERROR;
		}
	}
	if (i == argc) {
		usage(stderr);
		return EXIT_ERROR;
	}
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
		if (!strcmp(argv[i], commands[c].name))
			return commands[c].fn(argc - i, argv + i);
	fprintf(stderr, "cpudrift: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return EXIT_ERROR;
}
