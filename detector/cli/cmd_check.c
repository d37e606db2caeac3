// SPDX-License-Identifier: GPL-2.0-or-later
/* cpudrift check: would moving this VM (or another VM's snapshot) to TARGET take anything away? */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "analysis/atrisk.h"
#include "analysis/models.h"
#include "analysis/preflight.h"
#include "capture/capture.h"
#include "capture/proctable.h"
#include "core/clock.h"
#include "cli/cli.h"
#include "core/log.h"
#include "formats/dumpfmt.h"
#include "formats/fleetprint.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cpudrift check TARGET [--json] [--vm FILE]\n\n"
		"Would moving this VM onto TARGET take anything away?  TARGET is a snapshot or\n"
		"dump of the destination (any format 'import' reads) or qemu:MODEL (a named\n"
		"model, see 'cpudrift models').  Prints the features this VM has that TARGET\n"
		"lacks and the x86-64 level drop, the processes running now that would be at\n"
		"risk, and what would be gained.\n\n"
		"Only features a user-mode program can use decide the answer (the 'user' scope\n"
		"of 'cpudrift features'): kernel and hypervisor bits such as hypervisor, x2apic\n"
		"or vmx are shown apart, so a bare-metal host dump is a fair target.\n\n"
		"  --json      print JSON\n"
		"  --vm FILE   check another VM's snapshot instead of this one (no processes)\n\n"
		"Exit status: 0 safe, 1 a feature a program can use would be lost, 2 error.\n");
}

/* Processes listed in full in the JSON (the text shows the first CHECK_SHOWN). */
#define CHECK_LISTED 500
#define CHECK_SHOWN 20
/*
 * One pass over /proc: the table steps back to back for at most this long; listing reads
 * each listed process again, for at most CHECK_LIST_NS (the daemon keeps both short, so
 * that its loop never waits; a one-shot check can afford the whole list).
 */
#define CHECK_SCAN_NS (10 * NSEC_PER_SEC)
#define CHECK_LIST_NS (5 * NSEC_PER_SEC)

/*
 * Every process running now started before the move and chose its code paths for this
 * CPU: at risk when the target lacks a feature it can use.  NULL when nothing usable is
 * lost (no process can be at risk) or the scan failed (logged).
 */
static struct json_object *at_risk_now(const struct preflight *p)
{
	struct atrisk_query q = { .change_boot_ns = clock_boot_ns(), .level = p->level_target };
	struct proctable_stats st;
	struct proctable *t = NULL;
	struct json_object *o;
	int r;

	featset_scope(&q.lost, &p->lost, SCOPE_USER);
	if (!featset_count(&q.lost))
		return NULL;
	r = proctable__new(&(struct proctable_opts){ .list_ns = CHECK_LIST_NS }, &t);
	if (r) {
		log_err("failed to read the process table: %s", strerror(-r));
		return NULL;
	}
	r = proctable_refresh(t, CHECK_SCAN_NS);
	if (r)
		log_warn("the process scan did not finish in %d s: the list is partial",
			 (int)(CHECK_SCAN_NS / NSEC_PER_SEC));
	proctable_get_stats(t, &st);
	o = proctable_at_risk(
		t, &q,
		&(struct atrisk_json_opts){ .listed_max = CHECK_LISTED, .complete = st.complete });
	proctable__free(t);
	return o;
}

/* The target's features and level, and a name for it. */
static int load_target(const char *arg, struct featset *fs, int *level, char *name, size_t len)
{
	struct errbuf err = { "" };
	struct snapshot *s = NULL;

	if (!strncmp(arg, "qemu:", 5)) {
		const struct named_model *m = models_find(arg + 5);

		if (!m) {
			log_err("failed to find target model '%s' (cpudrift models lists them)",
				arg + 5);
			return -1;
		}
		models_features(m, fs);
		*level = models_level(m);
		snprintf(name, len, "qemu:%s (QEMU model %s)", arg + 5, m->name);
		return 0;
	}
	if (dump_import_file(arg, &s, &err)) {
		log_err("failed to read target: %s", err.msg);
		return -1;
	}
	*fs = s->features;
	*level = s->level;
	snprintf(name, len, "%s", arg);
	snapshot__free(s);
	return 0;
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "vm", required_argument, NULL, 'm' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	char target_name[512], vm_name[512];
	const char *vm_path = NULL;
	struct errbuf err = { "" };
	struct snapshot *vm = NULL;
	struct json_object *risk = NULL;
	struct featset target;
	struct preflight p;
	int c, level, ret;
	bool json = false;

	while ((c = getopt_long(argc, argv, "jm:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'm':
			vm_path = optarg;
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
	if (optind != argc - 1) {
		usage(stderr);
		return EXIT_ERROR;
	}
	if (load_target(argv[optind], &target, &level, target_name, sizeof(target_name)))
		return EXIT_ERROR;
	if (vm_path) {
		ret = dump_import_file(vm_path, &vm, &err);
		snprintf(vm_name, sizeof(vm_name), "%s", vm_path);
	} else {
		ret = capture_snapshot(&vm, NULL, &err);
		snprintf(vm_name, sizeof(vm_name), "this machine (live)");
	}
	if (ret) {
		log_err("failed to %s: %s", vm_path ? "read the VM's snapshot" : "capture this VM",
			err.msg);
		return EXIT_ERROR;
	}
	preflight_compare(&vm->features, vm->level, &target, level, &p);
	/* Another VM's snapshot: its processes are not here to look at. */
	risk = vm_path ? NULL : at_risk_now(&p);
	if (json) {
		struct json_object *o = preflight_to_json(&p);

		json_object_object_add(o, "vm", json_object_new_string(vm_name));
		json_object_object_add(o, "target", json_object_new_string(target_name));
		json_object_object_add(o, "at_risk", risk ? json_object_get(risk) : NULL);
		cli_print_json(stdout, o, false);
		json_object_put(o);
	} else {
		preflight_print(&p, vm_name, target_name, stdout);
		if (vm_path)
			printf("%-12s not looked at: the VM is another machine's snapshot\n",
			       "processes");
		else
			atrisk_print(risk, CHECK_SHOWN, stdout);
	}
	json_object_put(risk);
	snapshot__free(vm);
	return p.unsafe ? EXIT_FOUND : EXIT_OK;
}
