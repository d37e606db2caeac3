// SPDX-License-Identifier: GPL-2.0-or-later
/* cpudrift diff A B: what changed between two snapshots.  Exit 0 none, 1 drift, 2 error. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/snapsrc.h"
#include "core/escape.h"
#include "analysis/diff.h"
#include "formats/dumpfmt.h"
#include "core/log.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: cpudrift diff [--json] A B\n"
		   "       cpudrift diff [--json] BUNDLE\n\n"
		   "Compare snapshot A (before) with B (after).  Each of A and B is a file\n"
		   "(cpudrift JSON, libcpuid raw, AIDA64/InstLatx64 or `cpuid -r` output),\n"
		   "'-' for standard input, 'live' for a capture of this machine now, or\n"
		   "BUNDLE:before / BUNDLE:after from an evidence bundle.  With one BUNDLE,\n"
		   "compares its before and after.\n\n"
		   "Exit status: 0 no drift, 1 drift, 2 error.\n");
}

static struct snapshot *load(const char *what)
{
	struct errbuf err = { "" };
	struct snapshot *s = NULL;
	int ret;

	if (!strcmp(what, "live"))
		ret = capture_snapshot(&s, NULL, &err);
	else
		ret = snapsrc_load(what, &s, &err);
	if (ret) {
		log_err("failed to load %s: %s", what, err.msg);
		return NULL;
	}
	return s;
}

static void print_text(const struct diff *d)
{
	if (!d->n) {
		printf("no drift\n");
		return;
	}
	printf("%-9s %-16s %-28s %-12s %s\n", "SEVERITY", "KIND", "FIELD", "BEFORE", "AFTER");
	for (size_t i = 0; i < d->n; i++) {
		const struct change *c = &d->v[i];
		char field[80];

		if (c->vcpu >= 0)
			snprintf(field, sizeof(field), "%s (vCPU %d)", c->field, c->vcpu);
		else
			snprintf(field, sizeof(field), "%s", c->field);
		printf("%-9s %-16s %-28s %-12s %s\n", severity_name(c->sev),
		       change_kind_name(c->kind), str_esc(field), str_esc(c->before),
		       str_esc(c->after));
	}
}

int cmd_diff(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		ARGS_VERSION_OPTION,
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct snapshot *a = NULL, *b = NULL;
	struct diff d = { 0 };
	bool json = false;
	int c, ret = EXIT_ERROR;

	while ((c = getopt_long(argc, argv, "jvh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
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
	if (argc - optind == 1 && snapsrc_is_bundle(argv[optind])) {
		char *bb = NULL, *ba = NULL;

		if (asprintf(&bb, "%s:before", argv[optind]) < 0 ||
		    asprintf(&ba, "%s:after", argv[optind]) < 0) {
			free(bb);
			return EXIT_ERROR;
		}
		a = load(bb);
		b = a ? load(ba) : NULL;
		free(bb);
		free(ba);
		if (!a || !b)
			goto out;
		goto compare;
	}
	if (argc - optind != 2) {
		usage(stderr);
		return EXIT_ERROR;
	}
	if (!strcmp(argv[optind], "-") && !strcmp(argv[optind + 1], "-")) {
		log_err("only one of A and B can be standard input");
		return EXIT_ERROR;
	}
	a = load(argv[optind]);
	b = a ? load(argv[optind + 1]) : NULL;
	if (!a || !b)
		goto out;
compare:
	if (diff_snapshots(a, b, &d)) {
		log_err("failed to compare snapshots: out of memory");
		goto out;
	}
	if (json) {
		struct json_object *o = diff_to_json(&d);

		cli_print_json(stdout, o, false);
		json_object_put(o);
	} else {
		print_text(&d);
	}
	ret = d.n ? EXIT_FOUND : EXIT_OK;
	diff_free(&d);
out:
	snapshot__free(a);
	snapshot__free(b);
	return ret;
}
