// SPDX-License-Identifier: GPL-2.0-or-later
/* cpudrift models: the named CPU model table (QEMU's -cpu models), or one model. */
#include <getopt.h>
#include <string.h>

#include "analysis/models.h"
#include "cli/cli.h"
#include "core/log.h"
#include "formats/fleetprint.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: cpudrift models [NAME] [--json]\n\n"
		   "List QEMU's named x86 CPU models (every version, with its alias, vendor,\n"
		   "family/model/stepping, x86-64 level and the QEMU release that defines it), or\n"
		   "show one model and its features.  NAME is a version (Haswell-v4) or an alias\n"
		   "(Haswell-noTSX-IBRS).\n\n"
		   "  --json   print JSON\n");
}

int cmd_models(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const struct named_model *m = NULL;
	bool json = false;
	int c;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_ERROR;
		}
	}
	if (argc - optind > 1) {
		usage(stderr);
		return EXIT_ERROR;
	}
	if (optind < argc) {
		m = models_find(argv[optind]);
		if (!m) {
			log_err("failed to find model: no model or alias is named '%s' (cpudrift "
				"models lists them)",
				argv[optind]);
			return EXIT_ERROR;
		}
	}
	if (json) {
		struct json_object *o;

		if (m) {
			o = models_to_json(m, true);
		} else {
			o = json_object_new_array();
			for (size_t i = 0; i < models_count; i++)
				json_object_array_add(o, models_to_json(&models_table[i], false));
		}
		cli_print_json(stdout, o, false);
		json_object_put(o);
	} else if (m) {
		models_print_one(m, stdout);
	} else {
		models_print_list(stdout);
	}
	return EXIT_OK;
}
