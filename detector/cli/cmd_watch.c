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
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/signals.h"
#include "analysis/tracker.h"
#include "capture/capture.h"
#include "capture/faultwatch.h"
#include "core/clock.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "core/escape.h"
#include "core/log.h"
#include "capture/probe.h"
#include "core/snapshot.h"

struct watch {
	bool json;
	int pid;
	struct tracker *t;
	unsigned long seen;
};

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static const char *body_str(const struct event *e, const char *key, const char *dflt)
{
	struct json_object *v;

	if (!json_object_object_get_ex(e->body, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return dflt;
	return json_object_get_string(v);
}

static int on_fault(const struct fault *f, void *ctx)
{
	struct watch *w = ctx;
	struct fault judged = *f;
	struct evlist out = { 0 };

	if (w->pid && f->pid != w->pid)
		return 0;
	w->seen++;
	/* Judged on its own vCPU: the snapshot taken at start may predate a migration. */
	capture_fault_cpuid(w->t, &judged, NSEC_PER_SEC);
	if (tracker_fault(w->t, &judged, &out) || !out.n) {
		evlist_free(&out);
		return 0;
	}
	for (size_t i = 0; i < out.n; i++) {
		const struct event *e = out.v[i];
		const char *sig = signals_name(f->sig);

		if (e->kind != EV_FAULT_SIGILL)
			continue;
		if (w->json) {
			cli_print_json(stdout, e->body, true);
			continue;
		}
		printf("%s pid %d (%s) SIG%s at 0x%llx %s%s%s: %s [%s] x%llu\n",
		       f->exe[0] ? str_esc(f->exe) : "?", f->pid, str_esc(f->comm), sig ? sig : "?",
		       (unsigned long long)f->ip, body_str(e, "text", "(undecodable)"),
		       f->has_map ? " in " : "", f->has_map ? str_esc(f->map_path) : "",
		       body_str(e, "class", "?"), str_esc(body_str(e, "reason", "")),
		       (unsigned long long)f->count);
	}
	evlist_free(&out);
	fflush(stdout);
	return 0;
}

static int parse_signals(const char *list, uint64_t *mask)
{
	char bad[64] = "";

	if (!signals_parse(list, mask, bad, sizeof(bad)))
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
			json_object_new_string(fault_variant_name(faultwatch_variant(fw))));
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

static void usage(FILE *f)
{
	fprintf(f, "usage: cpudrift watch [--json] [--signals ILL,SEGV,BUS,FPE,TRAP]\n"
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
		ARGS_VERSION_OPTION,
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct faultwatch_opts fo = { 0 };
	struct capture_opts co = { .only_cpu = -1, .skip_extra = true };
	struct probe_report *pr = NULL;
	struct probe_summary ps;
	struct faultwatch *fw = NULL;
	struct snapshot *s = NULL;
	struct errbuf err = { "" };
	struct watch w = { 0 };
	struct timespec t0, now;
	double duration = 0;
	int64_t duration_ns;
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
			if (fault_variant_lookup(optarg) <= 0) {
				log_err("failed to parse --variant: '%s' (tp_btf, raw_tp, tracepoint)",
					optarg);
				return EXIT_ERROR;
			}
			fo.variant = fault_variant_lookup(optarg);
			break;
		case 'd':
			if (args_duration("--duration", optarg, NSEC_PER_SEC, 1, INT64_MAX,
					  &duration_ns)) {
				usage(stderr);
				return EXIT_ERROR;
			}
			duration = duration_ns / 1e9;
			break;
		case 'p':
			if (args_int32("--pid", optarg, 1, INT_MAX, &w.pid)) {
				usage(stderr);
				return EXIT_ERROR;
			}
			break;
		case 'P':
			probe = false;
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

	if (capture_snapshot(&s, &co, &err)) {
		log_err("%s", err.msg[0] ? err.msg : "failed to capture CPUID");
		return EXIT_ERROR;
	}
	w.t = tracker__new();
	if (!w.t) {
		log_err("failed to start the analysis: %s", strerror(ENOMEM));
		goto out;
	}
	/* Probe before attaching: the probes' own faults are not news. */
	if (probe) {
		if (probe_run(s, NULL, &pr, &err)) {
			log_warn("%s; classifying without probe results", err.msg);
		} else {
			probe_summarize(pr, &ps);
			s->has_shadow = true;
			s->shadow = pr->shadow;
		}
	}
	/* The tracker judges every fault against this snapshot, the baseline of the watch. */
	{
		struct evlist ignored = { 0 };
		int r = tracker_snapshot(w.t, s, &ignored);

		s = NULL;
		if (!r && pr)
			r = tracker_probes(w.t, &ps, &ignored);
		evlist_free(&ignored);
		if (r) {
			log_err("failed to start the analysis: %s", strerror(-r));
			goto out;
		}
	}
	if (faultwatch__new(&fo, on_fault, &w, &fw, &err)) {
		log_err("%s", err.msg);
		goto out;
	}
	log_info("watching faults with the %s program", fault_variant_name(faultwatch_variant(fw)));
	if (!w.json)
		fprintf(stderr, "cpudrift: watching (%s); Ctrl-C to stop\n",
			fault_variant_name(faultwatch_variant(fw)));
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
	tracker__free(w.t);
	snapshot__free(s);
	return ret;
}
