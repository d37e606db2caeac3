// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cpudrift explain [--json] [--no-probe] HEXBYTES: decode instruction bytes offline and say
 * which CPU features they need, whether this machine advertises them and, through the
 * instruction probes, whether it executes them.
 *
 * JSON form (one object):
 *   {
 *     "bytes": "62f1744858c2",         the input, normalised to lower-case hex
 *     "decoded": true,                 false: the bytes are not one valid instruction
 *     "length": 6,                     instruction length (bytes beyond it are ignored)
 *     "mnemonic": "vaddps",
 *     "text": "vaddps zmm0, zmm1, zmm2",
 *     "isa_set": "AVX512F_512",        Zydis ISA set
 *     "isa_ext": "AVX512EVEX",         Zydis ISA extension
 *     "decoder": "zydis",              "fallback": Zydis does not know it; mnemonic and XED
 *                                      ISA set from the table of isafallback.def, no operands
 *     "deliberate_trap": false,        ud0/ud1/ud2
 *     "features": ["avx512f"],         required feature-table names (all of them)
 *     "machine": {
 *       "advertised": true,            every required feature is in CPUID here
 *       "os_enabled": true,            and XCR0 enables its state
 *       "executes": true,              the probes ran them all; null: not probed
 *       "per_feature": [{"name": "avx512f", "advertised": true, "os_enabled": true,
 *                        "probe": "ok"}]   probe: a probe_result name or null
 *     }
 *   }
 * Exit: 0 the machine can run it (or it needs nothing), 1 it cannot (a feature is not
 * advertised, not enabled or faults), 2 error (bad hex, undecodable, capture failed).
 */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "analysis/attrib.h"
#include "capture/capture.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "core/log.h"
#include "capture/probe.h"
#include "core/snapshot.h"

static int parse_hex(int argc, char **argv, uint8_t *out, size_t max)
{
	size_t n = 0;
	int hi = -1;

	for (int i = 0; i < argc; i++) {
		for (const char *p = argv[i]; *p; p++) {
			int v;

			/* Accept "0f 0b", "0f0b", "0x0f,0x0b" and "\x0f\x0b". */
			if ((p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && hi < 0) ||
			    (p[0] == '\\' && p[1] == 'x')) {
				p++;
				continue;
			}
			if (strchr(" ,:;\t", *p))
				continue;
			if (!isxdigit((unsigned char)*p))
				return -1;
			v = isdigit((unsigned char)*p) ? *p - '0' : tolower(*p) - 'a' + 10;
			if (hi < 0) {
				hi = v;
				continue;
			}
			if (n == max)
				return -1;
			out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	return hi >= 0 ? -1 : (int)n;
}

struct verdict {
	bool advertised, enabled, probed, executes;
};

static struct json_object *machine_json(const struct attribution *a, const struct snapshot *s,
					const struct probe_report *pr, struct verdict *v)
{
	struct json_object *m = json_object_new_object(), *per = json_object_new_array();
	int id;

	v->advertised = v->enabled = v->executes = true;
	v->probed = pr != NULL;
	featset_for_each (id, &a->features) {
		struct json_object *o = json_object_new_object();
		bool adv = featset_has(&s->features, id);
		bool en = feature_xstate_enabled(id, s->has_xcr0, s->xcr0);
		const char *res = NULL;

		for (size_t i = 0; pr && i < pr->n; i++)
			if (pr->rows[i].feature == id &&
			    pr->rows[i].result != PROBE_R_UNPROBEABLE &&
			    pr->rows[i].result != PROBE_R_ERROR)
				res = probe_result_name(pr->rows[i].result);
		if (!res)
			v->probed = false;
		else if (strcmp(res, probe_result_name(PROBE_R_OK)) &&
			 strcmp(res, probe_result_name(PROBE_R_MASKED)))
			v->executes = false;
		v->advertised &= adv;
		v->enabled &= en;
		json_object_object_add(o, "name", json_object_new_string(feature_table[id].name));
		json_object_object_add(o, "advertised", json_object_new_boolean(adv));
		json_object_object_add(o, "os_enabled", json_object_new_boolean(en));
		json_object_object_add(o, "probe", res ? json_object_new_string(res) : NULL);
		json_object_array_add(per, o);
	}
	json_object_object_add(m, "advertised", json_object_new_boolean(v->advertised));
	json_object_object_add(m, "os_enabled", json_object_new_boolean(v->enabled));
	json_object_object_add(m, "executes",
			       v->probed || !v->executes ? json_object_new_boolean(v->executes) :
							   NULL);
	json_object_object_add(m, "per_feature", per);
	return m;
}

static struct json_object *explain_json(const uint8_t *b, int n, const struct attribution *a)
{
	struct json_object *o = json_object_new_object();
	char hex[2 * 64 + 1] = "";

	for (int i = 0; i < n && i < 64; i++)
		snprintf(hex + 2 * i, 3, "%02x", b[i]);
	json_object_object_add(o, "bytes", json_object_new_string(hex));
	json_object_object_add(o, "decoded", json_object_new_boolean(a->decoded));
	if (!a->decoded)
		return o;
	json_object_object_add(o, "length", json_object_new_int(a->len));
	json_object_object_add(o, "mnemonic", json_object_new_string(a->mnemonic));
	json_object_object_add(o, "text", json_object_new_string(a->text));
	json_object_object_add(o, "isa_set", json_object_new_string(a->isa_set));
	json_object_object_add(o, "isa_ext", json_object_new_string(a->isa_ext));
	json_object_object_add(o, "decoder", json_object_new_string(a->decoder));
	json_object_object_add(o, "deliberate_trap", json_object_new_boolean(a->deliberate_trap));
	json_object_object_add(o, "features", featset_to_json(&a->features));
	return o;
}

static void print_text(struct json_object *o)
{
	struct json_object *m, *per, *f;

	if (!json_object_get_boolean(json_object_object_get(o, "decoded"))) {
		printf("%s: does not decode as one x86-64 instruction\n",
		       json_object_get_string(json_object_object_get(o, "bytes")));
		return;
	}
	printf("instruction: %s\n", json_object_get_string(json_object_object_get(o, "text")));
	printf("ISA set:     %s (%s)\n",
	       json_object_get_string(json_object_object_get(o, "isa_set")),
	       json_object_get_string(json_object_object_get(o, "isa_ext")));
	if (!strcmp(json_object_get_string(json_object_object_get(o, "decoder")), "fallback"))
		printf("note:        Zydis does not know it; named from Intel XED's patterns\n");
	if (json_object_get_boolean(json_object_object_get(o, "deliberate_trap")))
		printf("note:        a deliberate trap: it always faults\n");
	m = json_object_object_get(o, "machine");
	per = m ? json_object_object_get(m, "per_feature") : NULL;
	if (!per || !json_object_array_length(per)) {
		printf("features:    none (base x86-64)\n");
		return;
	}
	printf("features:    %-20s %-10s %-10s %s\n", "NAME", "ADVERTISED", "OS-ENABLED", "PROBE");
	for (size_t i = 0; i < json_object_array_length(per); i++) {
		const char *probe;

		f = json_object_array_get_idx(per, i);
		probe = json_object_get_string(json_object_object_get(f, "probe"));
		printf("             %-20s %-10s %-10s %s\n",
		       json_object_get_string(json_object_object_get(f, "name")),
		       json_object_get_boolean(json_object_object_get(f, "advertised")) ? "yes" :
											  "no",
		       json_object_get_boolean(json_object_object_get(f, "os_enabled")) ? "yes" :
											  "no",
		       probe ? probe : "-");
	}
}

int cmd_explain(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "no-probe", no_argument, NULL, 'P' },
		ARGS_VERSION_OPTION,
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	bool json = false, probe = true;
	struct capture_opts co = { .only_cpu = -1, .skip_extra = true };
	struct probe_report *pr = NULL;
	struct snapshot *s = NULL;
	struct attribution a;
	struct errbuf err = { "" };
	struct verdict v = { 0 };
	struct json_object *o;
	uint8_t bytes[64];
	int c, n, ret = EXIT_ERROR;

	while ((c = getopt_long(argc, argv, "jPh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'P':
			probe = false;
			break;
		case ARGS_OPT_VERSION:
			return args_version();
		case 'h':
			printf("usage: cpudrift explain [--json] [--no-probe] HEXBYTES\n\n"
			       "Decode instruction bytes (e.g. 62f1744858c2 or \"0f 0b\") and say which\n"
			       "CPU features they need, whether this machine advertises and enables\n"
			       "them, and (unless --no-probe) whether it executes them.\n");
			return EXIT_OK;
		default:
			return EXIT_ERROR;
		}
	}
	n = parse_hex(argc - optind, argv + optind, bytes, sizeof(bytes));
	if (n <= 0) {
		log_err("failed to parse instruction bytes: give hex digits, e.g. 0f0b");
		return EXIT_ERROR;
	}
	attrib_decode(bytes, n, &a);
	o = explain_json(bytes, n, &a);
	if (!a.decoded)
		goto out;
	if (capture_snapshot(&s, &co, &err)) {
		log_err("%s", err.msg[0] ? err.msg : "failed to capture CPUID");
		goto out;
	}
	if (probe && featset_count(&a.features)) {
		struct probe_opts po = { .only = &a.features };

		if (probe_run(s, &po, &pr, &err))
			log_warn("%s", err.msg[0] ? err.msg : "failed to run the probes");
	}
	json_object_object_add(o, "machine", machine_json(&a, s, pr, &v));
	ret = v.advertised && v.enabled && v.executes ? EXIT_OK : EXIT_FOUND;
out:
	if (json)
		cli_print_json(stdout, o, false);
	else
		print_text(o);
	json_object_put(o);
	probe_report__free(pr);
	snapshot__free(s);
	return ret;
}
