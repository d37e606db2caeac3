// SPDX-License-Identifier: GPL-2.0-or-later
/* cpudrift features: the feature table, as text or JSON. */
#include <getopt.h>
#include <stdio.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "core/features.h"

static const char *const reg_names[] = { "eax", "ebx", "ecx", "edx" };

int cmd_features(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		ARGS_VERSION_OPTION,
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	bool json = false;
	int c;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case ARGS_OPT_VERSION:
			return args_version();
		case 'h':
			printf("usage: cpudrift features [--json]\n\n"
			       "List every feature cpudrift knows: name, CPUID leaf.subleaf,\n"
			       "register and bit, XCR0 state it needs, scope (user: a user-mode\n"
			       "program can use it; hint: user code may consult it but cannot\n"
			       "fault on it; sys: kernel, hypervisor, firmware), description.\n");
			return EXIT_OK;
		default:
			return EXIT_ERROR;
		}
	}
	if (json) {
		struct json_object *arr = json_object_new_array();

		for (int i = 0; i < FEAT__COUNT; i++) {
			const struct feature *f = &feature_table[i];
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "name", json_object_new_string(f->name));
			json_object_object_add(o, "leaf", json_object_new_int64(f->leaf));
			json_object_object_add(o, "subleaf", json_object_new_int64(f->subleaf));
			json_object_object_add(o, "register",
					       json_object_new_string(reg_names[f->reg]));
			json_object_object_add(o, "bit", json_object_new_int(f->bit));
			json_object_object_add(o, "xcr0",
					       json_object_new_int64((int64_t)f->xstate));
			json_object_object_add(
				o, "scope", json_object_new_string(feature_scope_name(f->scope)));
			json_object_object_add(o, "description", json_object_new_string(f->desc));
			json_object_array_add(arr, o);
		}
		cli_print_json(stdout, arr, false);
		json_object_put(arr);
		return EXIT_OK;
	}
	printf("%-22s %-14s %-4s %3s %-8s %-5s %s\n", "FEATURE", "LEAF", "REG", "BIT", "XCR0",
	       "SCOPE", "DESCRIPTION");
	for (int i = 0; i < FEAT__COUNT; i++) {
		const struct feature *f = &feature_table[i];
		char leaf[24], xs[20] = "-";

		snprintf(leaf, sizeof(leaf), "0x%08x.%u", f->leaf, f->subleaf);
		if (f->xstate)
			snprintf(xs, sizeof(xs), "0x%llx", (unsigned long long)f->xstate);
		printf("%-22s %-14s %-4s %3u %-8s %-5s %s\n", f->name, leaf, reg_names[f->reg],
		       f->bit, xs, feature_scope_name(f->scope), f->desc);
	}
	return EXIT_OK;
}
