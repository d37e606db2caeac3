// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cpudrift probe: execute one instruction per feature in a child and compare with CPUID.
 *
 * JSON (--json):
 *   {
 *     "probes": [
 *       { "feature": "avx2",          feature table name (/proc/cpuinfo spelling)
 *         "advertised": true,         CPUID says the CPU has it
 *         "xcr0_enabled": true,       XCR0 enables its state; null when it needs none
 *         "os_enabled": true,         XCR0 and the OS switch it needs (CR4 via ospke,
 *                                     osxsave, the kernel's flag) are on
 *         "result": "ok",             ok | mismatch | masked | absent | os-disabled |
 *                                     unprobeable | error
 *         "outcome": "executed",      executed | faulted | legacy | perm-refused |
 *                                     crashed | hung | not-run
 *         "signal": null,             "SIGILL", ... when it faulted or crashed the child
 *         "time_ns": 41,              time in the child, fault delivery included
 *         "instruction": "vpaddd %ymm0, %ymm0, %ymm0",   absent when unprobeable
 *         "reason": "..." },          only when unprobeable
 *       ...
 *     ],
 *     "shadow": { "features": ["abm", "sse4a"],   masked-but-executable, sorted
 *                 "hash": "0123456789abcdef" },   FNV-1a 64 of the names joined with ','
 *     "crashed_children": 0,
 *     "elapsed_ns": 812345            the whole run, forks included
 *   }
 * Exit status: 1 when any probe is a mismatch, 0 otherwise, 2 on error.
 */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "formats/dumpfmt.h"
#include "core/log.h"
#include "capture/probe.h"
#include "core/snapshot.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: cpudrift probe [--json] [--feature NAME]... [--cpuid FILE]\n\n"
		   "Execute one representative instruction per feature in a child process and\n"
		   "compare with what CPUID advertises: ok, mismatch (advertised but faults),\n"
		   "masked (not advertised but executes), absent, os-disabled, unprobeable.\n"
		   "The masked set is the shadow fingerprint of the hardware under the VM.\n\n"
		   "  --json          print JSON\n"
		   "  --feature NAME  probe only NAME (repeatable)\n"
		   "  --cpuid FILE    judge against a CPUID dump (any `cpudrift import` format)\n"
		   "                  instead of this machine's CPUID\n"
		   "  --timeout MS    bound on the whole run (default 5000)\n\n"
		   "Exit status: 1 when an advertised feature faults, 0 otherwise, 2 on error.\n");
}

static const char *sig_name(int sig)
{
	switch (sig) {
	case SIGILL:
		return "SIGILL";
	case SIGSEGV:
		return "SIGSEGV";
	case SIGBUS:
		return "SIGBUS";
	case SIGFPE:
		return "SIGFPE";
	case SIGKILL:
		return "SIGKILL";
	case SIGABRT:
		return "SIGABRT";
	default:
		return sig ? "signal" : NULL;
	}
}

static const char *xcr0_str(const struct probe_row *row, const struct snapshot *s)
{
	if (row->feature < 0 || !feature_table[row->feature].xstate)
		return "-";
	return feature_xstate_enabled(row->feature, s->has_xcr0, s->xcr0) ? "yes" : "no";
}

static struct json_object *report_json(const struct probe_report *r, const struct snapshot *s)
{
	struct json_object *root = json_object_new_object(), *arr = json_object_new_array();
	struct json_object *sh = json_object_new_object(), *names;
	char hash[17];

	for (size_t i = 0; i < r->n; i++) {
		const struct probe_row *row = &r->rows[i];
		struct json_object *o = json_object_new_object();
		const char *sn =
			row->obs.outcome == PROBE_FAULTED || row->obs.outcome == PROBE_CRASHED ?
				sig_name(row->obs.sig) :
				NULL;
		const char *x = xcr0_str(row, s);

		json_object_object_add(o, "feature", json_object_new_string(row->def->feature));
		json_object_object_add(o, "advertised", json_object_new_boolean(row->advertised));
		json_object_object_add(o, "xcr0_enabled",
				       strcmp(x, "-") ? json_object_new_boolean(!strcmp(x, "yes")) :
							NULL);
		json_object_object_add(o, "os_enabled", json_object_new_boolean(row->os_enabled));
		json_object_object_add(o, "result",
				       json_object_new_string(probe_result_name(row->result)));
		json_object_object_add(
			o, "outcome", json_object_new_string(probe_outcome_name(row->obs.outcome)));
		json_object_object_add(o, "signal", sn ? json_object_new_string(sn) : NULL);
		json_object_object_add(o, "time_ns", json_object_new_int64(row->obs.ns));
		if (row->def->fn)
			json_object_object_add(o, "instruction",
					       json_object_new_string(row->def->mnemonic));
		else
			json_object_object_add(o, "reason",
					       json_object_new_string(row->def->unprobeable));
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "probes", arr);
	names = featset_to_json(&r->shadow);
	featset_hash_str(&r->shadow, hash);
	json_object_object_add(sh, "features", names);
	json_object_object_add(sh, "hash", json_object_new_string(hash));
	json_object_object_add(root, "shadow", sh);
	json_object_object_add(root, "crashed_children", json_object_new_int(r->crashed));
	json_object_object_add(root, "elapsed_ns", json_object_new_int64((int64_t)r->elapsed_ns));
	return root;
}

static void report_print(const struct probe_report *r, const struct snapshot *s, FILE *f)
{
	const char *names[FEAT__COUNT];
	char hash[17];
	int n;

	fprintf(f, "%-20s %-4s %-4s %-12s %8s  %s\n", "FEATURE", "ADV", "XCR0", "RESULT", "TIME",
		"DETAIL");
	for (size_t i = 0; i < r->n; i++) {
		const struct probe_row *row = &r->rows[i];
		char detail[160] = "";

		if (!row->def->fn)
			snprintf(detail, sizeof(detail), "%s", row->def->unprobeable);
		else if (row->obs.outcome == PROBE_FAULTED || row->obs.outcome == PROBE_CRASHED)
			snprintf(detail, sizeof(detail), "%s %s",
				 probe_outcome_name(row->obs.outcome),
				 sig_name(row->obs.sig) ?: "");
		else if (row->obs.outcome != PROBE_EXECUTED)
			snprintf(detail, sizeof(detail), "%s",
				 probe_outcome_name(row->obs.outcome));
		fprintf(f, "%-20s %-4s %-4s %-12s %6uns  %s\n", row->def->feature,
			row->advertised ? "yes" : "no", xcr0_str(row, s),
			probe_result_name(row->result), row->obs.ns, detail);
	}
	n = featset_names(&r->shadow, names);
	featset_hash_str(&r->shadow, hash);
	fprintf(f, "\nshadow (masked but executable): %d feature%s, hash %s\n", n,
		n == 1 ? "" : "s", hash);
	for (int i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? "," : "  ", names[i]);
	if (n)
		fputc('\n', f);
	if (r->crashed)
		fprintf(f, "%d probe child%s crashed or hung\n", r->crashed,
			r->crashed == 1 ? "" : "ren");
}

int cmd_probe(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "feature", required_argument, NULL, 'f' },
		{ "cpuid", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		ARGS_VERSION_OPTION,
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct capture_opts co = { .only_cpu = -1 };
	struct probe_opts po = { 0 };
	struct featset only = { 0 };
	struct probe_report *r = NULL;
	struct snapshot *s = NULL;
	struct errbuf err = { "" };
	const char *cpuid_path = NULL;
	bool json = false, filter = false;
	int c, ret;

	while ((c = getopt_long(argc, argv, "jf:c:t:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'f': {
			int id = feature_lookup(optarg);

			if (id < 0) {
				log_err("failed to select probe: unknown feature '%s'", optarg);
				return EXIT_ERROR;
			}
			featset_add(&only, id);
			filter = true;
			break;
		}
		case 'c':
			cpuid_path = optarg;
			break;
		case 't':
			if (args_int32("--timeout", optarg, 1, 3600000, &po.exec.timeout_ms)) {
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
	if (cpuid_path)
		ret = dump_import_file(cpuid_path, &s, &err);
	else
		ret = capture_snapshot(&s, &co, &err);
	if (ret) {
		log_err("failed to %s: %s", cpuid_path ? "import CPUID dump" : "capture CPUID",
			err.msg);
		return EXIT_ERROR;
	}
	if (filter)
		po.only = &only;
	ret = probe_run(s, &po, &r, &err);
	if (ret) {
		log_err("%s", err.msg);
		snapshot__free(s);
		return EXIT_ERROR;
	}
	if (json) {
		struct json_object *o = report_json(r, s);

		cli_print_json(stdout, o, false);
		json_object_put(o);
	} else {
		report_print(r, s, stdout);
	}
	ret = probe_report_has_mismatch(r) ? EXIT_FOUND : EXIT_OK;
	if (cli_close_out(stdout, NULL))
		ret = EXIT_ERROR;
	probe_report__free(r);
	snapshot__free(s);
	return ret;
}
