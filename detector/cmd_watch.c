// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cpudrift watch [--json] [--signals ILL,SEGV,...] [--variant tp_btf|raw_tp|tracepoint]
 *                [--duration S] [--pid PID] [--no-probe]
 * Stream classified faults live, like sigsnoop but with an answer.
 *
 * JSON form: one object per line.  A fault:
 *   {"kind": "fault.sigill",           the event kind (for every watched signal)
 *    "boot_ns": 123,                   CLOCK_BOOTTIME of the fault
 *    "pid": 4242, "tid": 4242, "comm": "java",
 *    "exe": "/usr/bin/java",           "" when the process was gone before we looked
 *    "start_boottime_ns": 100,         process start (CLOCK_BOOTTIME)
 *    "cgroup": "/system.slice/x.service", "cgroup_id": 1234,
 *    "signal": "ILL", "si_code": 2, "trap_nr": 6,
 *    "ip": "0x7f0011223344",
 *    "mapping": {"path": "/usr/lib/libfoo.so", "offset": "0x1234"},   null if unknown
 *    "bytes": "62f1744858c2",          what was readable at ip (up to 16 bytes)
 *    "mnemonic": "vaddps", "text": "vaddps zmm0, zmm1, zmm2",
 *    "isa_set": "AVX512F_512",
 *    "decoder": "zydis",               "fallback": Zydis does not know it (see explain)
 *    "features": ["avx512f"],          what the instruction needs
 *    "missing": ["avx512f"],           needed but not advertised now
 *    "class": "never-advertised",      see classify.h FAULT_CLASSES
 *    "reason": "never advertised here: avx512f",
 *    "probe_confirms": false,
 *    "count": 3,                       faults at (pid, ip) so far, exact
 *    "suppressed": 0,                  faults at (pid, ip) rate-limited since the last line
 *    "variant": "tp_btf"}
 * (mnemonic, text, isa_set, decoder are absent when the bytes do not decode.)
 * On exit, one summary line:
 *   {"kind": "watch.summary", "variant": "tp_btf", "faults": 10, "events": 6,
 *    "suppressed": 4, "drops": 0, "untracked": 0}
 * Exit: 0 no fault seen, 1 faults seen, 2 error.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attrib.h"
#include "capture.h"
#include "classify.h"
#include "cli.h"
#include "faultevent.h"
#include "faultwatch.h"
#include "log.h"
#include "probe.h"
#include "snapshot.h"

struct watch {
	bool json;
	int pid;
	const struct snapshot *snap;
	const struct classify_probe *probe;
	unsigned long seen;
};

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static int on_fault(const struct faultwatch_fault *f, void *ctx)
{
	struct watch *w = ctx;
	struct classification c;
	struct attribution a;
	struct classify_input in = {
		.advertised = &w->snap->features,
		.has_xcr0 = w->snap->has_xcr0,
		.xcr0 = w->snap->xcr0,
		.probe = w->probe,
		.amx_permitted = -1,
	};

	struct featset now;

	if (w->pid && f->pid != w->pid)
		return 0;
	w->seen++;
	/* Judge against CPUID now: the snapshot taken at start may predate a migration. */
	if (f->sig == SIGILL && !capture_features_now(&now, 1000000000ll) &&
	    (featset_and(&now, &now, &w->snap->features),
	     !featset_equal(&now, &w->snap->features))) {
		in.advertised = &now;
		in.at_start = &w->snap->features;
	}
	faultevent_classify(f, &in, &a, &c);
	if (w->json) {
		struct event *e = faultevent_new(f, &a, &c);

		if (e)
			cli_print_json(stdout, e->body, true);
		event__free(e);
	} else {
		const char *sig = faultwatch_signal_name(f->sig);

		printf("%s pid %d (%s) SIG%s at 0x%llx %s%s%s: %s [%s] x%llu\n",
		       f->exe[0] ? f->exe : "?", f->pid, f->comm, sig ? sig : "?",
		       (unsigned long long)f->ip, a.decoded ? a.text : "(undecodable)",
		       f->has_map ? " in " : "", f->has_map ? f->map_path : "",
		       fault_class_name(c.cls), c.reason, (unsigned long long)f->count);
	}
	fflush(stdout);
	return 0;
}

static int parse_signals(const char *list, uint64_t *mask)
{
	char bad[64] = "";

	if (!faultwatch_signals_parse(list, mask, bad, sizeof(bad)))
		return 0;
	log_err("failed to parse --signals: %s%s%s (ILL, SEGV, BUS, FPE, TRAP)",
		bad[0] ? "unknown signal '" : "empty list", bad, bad[0] ? "'" : "");
	return -EINVAL;
}

static void print_summary(struct faultwatch *fw, bool json)
{
	struct faultwatch_stats st;

	if (faultwatch_stats(fw, &st))
		return;
	if (json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "kind", json_object_new_string("watch.summary"));
		json_object_object_add(
			o, "variant",
			json_object_new_string(faultwatch_variant_name(faultwatch_variant(fw))));
		json_object_object_add(o, "faults", json_object_new_int64((int64_t)st.faults));
		json_object_object_add(o, "events", json_object_new_int64((int64_t)st.events));
		json_object_object_add(o, "suppressed",
				       json_object_new_int64((int64_t)st.suppressed));
		json_object_object_add(o, "drops", json_object_new_int64((int64_t)st.drops));
		json_object_object_add(o, "untracked",
				       json_object_new_int64((int64_t)st.untracked));
		cli_print_json(stdout, o, true);
		json_object_put(o);
	} else {
		fprintf(stderr,
			"cpudrift: %llu faults, %llu detailed, %llu rate-limited, %llu lost "
			"(ring buffer full)\n",
			(unsigned long long)st.faults, (unsigned long long)st.events,
			(unsigned long long)st.suppressed, (unsigned long long)st.drops);
	}
}

static void usage(void)
{
	printf("usage: cpudrift watch [--json] [--signals ILL,SEGV,BUS,FPE,TRAP]\n"
	       "                      [--variant tp_btf|raw_tp|tracepoint] [--duration S]\n"
	       "                      [--pid PID] [--no-probe]\n\n"
	       "Stream every synchronous fault (SIGILL by default) with the instruction that\n"
	       "raised it, the CPU features it needs and why it faulted.  Needs CAP_BPF and\n"
	       "CAP_PERFMON (the tracepoint variant also CAP_SYS_ADMIN).\n");
}

int cmd_watch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "signals", required_argument, NULL, 's' },
		{ "variant", required_argument, NULL, 'V' },
		{ "duration", required_argument, NULL, 'd' },
		{ "pid", required_argument, NULL, 'p' },
		{ "no-probe", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct faultwatch_opts fo = { 0 };
	struct capture_opts co = { .only_cpu = -1, .skip_extra = true };
	struct classify_probe *cp = NULL;
	struct probe_report *pr = NULL;
	struct faultwatch *fw = NULL;
	struct snapshot *s = NULL;
	struct errbuf err = { "" };
	struct watch w = { 0 };
	struct timespec t0, now;
	double duration = 0;
	bool probe = true;
	int c, ret = EXIT_ERROR;

	while ((c = getopt_long(argc, argv, "js:V:d:p:Ph", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			w.json = true;
			break;
		case 's':
			if (parse_signals(optarg, &fo.sig_mask))
				return EXIT_ERROR;
			break;
		case 'V':
			if (faultwatch_variant_lookup(optarg) <= 0) {
				log_err("failed to parse --variant: '%s' (tp_btf, raw_tp, tracepoint)",
					optarg);
				return EXIT_ERROR;
			}
			fo.variant = faultwatch_variant_lookup(optarg);
			break;
		case 'd':
			duration = strtod(optarg, NULL);
			if (duration <= 0) {
				log_err("failed to parse --duration: '%s' is not a positive number",
					optarg);
				return EXIT_ERROR;
			}
			break;
		case 'p':
			w.pid = atoi(optarg);
			break;
		case 'P':
			probe = false;
			break;
		case 'h':
			usage();
			return EXIT_OK;
		default:
			return EXIT_ERROR;
		}
	}

	if (capture_snapshot(&s, &co, &err)) {
		log_err("%s", err.msg[0] ? err.msg : "failed to capture CPUID");
		return EXIT_ERROR;
	}
	w.snap = s;
	/* Probe before attaching: the probes' own faults are not news. */
	if (probe) {
		if (probe_run(s, NULL, &pr, &err)) {
			log_warn("%s; classifying without probe results", err.msg);
		} else {
			cp = malloc(sizeof(*cp));
			if (cp)
				classify_probe_from_report(pr, cp);
			w.probe = cp;
		}
	}
	if (faultwatch__new(&fo, on_fault, &w, &fw, &err)) {
		log_err("%s", err.msg);
		goto out;
	}
	log_info("watching faults with the %s program",
		 faultwatch_variant_name(faultwatch_variant(fw)));
	if (!w.json)
		fprintf(stderr, "cpudrift: watching (%s); Ctrl-C to stop\n",
			faultwatch_variant_name(faultwatch_variant(fw)));
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!stop) {
		int r = faultwatch_poll(fw, 200);

		if (r < 0) {
			log_err("failed to poll the fault ring buffer: %s", strerror(-r));
			goto out;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (duration > 0 &&
		    (now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9 >= duration)
			break;
	}
	faultwatch_consume(fw);
	print_summary(fw, w.json);
	ret = w.seen ? EXIT_FOUND : EXIT_OK;
out:
	faultwatch__free(fw);
	probe_report__free(pr);
	free(cp);
	snapshot__free(s);
	return ret;
}
