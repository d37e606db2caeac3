// SPDX-License-Identifier: GPL-2.0-or-later
/* cpudrift export: write a snapshot in libcpuid's raw format for `cpuid_tool --load`. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "formats/dumpfmt.h"
#include "formats/lcdump.h"
#include "core/log.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: cpudrift export [FILE|live] [--vcpu N|all] [-o FILE]\n\n"
		   "Write the CPUID leaves of one vCPU in libcpuid's raw format, which\n"
		   "'cpuid_tool --load' and cpuid_deserialize_raw_data() read.  The source is a\n"
		   "dump or snapshot JSON that 'cpudrift import' reads ('-' for standard input),\n"
		   "or 'live' (the default): a capture of this machine now.\n\n"
		   "  --vcpu N     the N-th vCPU of the snapshot (default 0); 'all' writes every\n"
		   "               vCPU in the multi-CPU form of cpuid_tool --save\n"
		   "  -o FILE      write to FILE instead of stdout\n\n"
		   "libcpuid's format holds leaves 0-0x1F and 0x80000000-0x8000001F, subleaf 0\n"
		   "only except leaves 4, 0xB, 0x12, 0x14 and 0x8000001D: the rest is left out.\n");
}

static int parse_vcpu(const char *arg, int *vcpu)
{
	if (!strcmp(arg, "all")) {
		*vcpu = -1;
		return 0;
	}
	return args_int32("--vcpu", arg, 0, DUMP_MAX_VCPUS, vcpu);
}

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vcpu", required_argument, NULL, 'c' },
		{ "output", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		ARGS_VERSION_OPTION,
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *outpath = NULL, *src = "live";
	struct capture_opts co = { .only_cpu = -1, .skip_extra = true };
	struct snapshot *s = NULL;
	struct errbuf err = { "" };
	int c, ret, vcpu = 0;
	FILE *f;

	while ((c = getopt_long(argc, argv, "c:o:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (parse_vcpu(optarg, &vcpu)) {
				usage(stderr);
				return EXIT_ERROR;
			}
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
	if (optind < argc - 1) {
		usage(stderr);
		return EXIT_ERROR;
	}
	if (optind == argc - 1)
		src = argv[optind];
	if (!strcmp(src, "live")) {
		ret = capture_snapshot(&s, &co, &err);
		if (ret) {
			log_err("failed to capture snapshot: %s", err.msg);
			return EXIT_ERROR;
		}
	} else {
		ret = dump_import_file(src, &s, &err);
		if (ret) {
			log_err("failed to import %s", err.msg);
			return EXIT_ERROR;
		}
	}
	if (vcpu >= s->nvcpus) {
		log_err("failed to export: no vCPU index %d (the snapshot has %d)", vcpu,
			s->nvcpus);
		snapshot__free(s);
		return EXIT_ERROR;
	}
	f = cli_open_out(outpath);
	if (!f) {
		snapshot__free(s);
		return EXIT_ERROR;
	}
	ret = lcdump_export(s, vcpu, f);
	ret = cli_close_out(f, outpath) ?: ret;
	snapshot__free(s);
	return ret ? EXIT_ERROR : EXIT_OK;
}
