// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cpudrift watch [--json] [--signals ILL,SEGV,...] [--variant tp_btf|raw_tp]
 *                [--duration S] [--pid PID] [--no-probe]
 * Stream classified faults live, like sigsnoop but with an answer.  Only signals the kernel
 * raised from a CPU exception are faults; others are counted as forged.
 *
 * JSON form: one object per line.  A fault record (a detailed fault, or "flush": true for
 * faults of a site the kernel counted without detailing them):
 *   {"kind": "fault.sigill",           the event kind (for every watched signal)
 *    "boot_ns": 123,                   CLOCK_BOOTTIME of the fault
 *    "pid": 4242, "tid": 4242, "uid": 1000, "comm": "java",
 *    "exe": "/usr/bin/java",           from the kernel at the fault ("" when unknown)
 *    "exe_file": {"dev": "254:1", "ino": 1234, "truncated": false, "deleted": false},
 *    "start_boottime_ns": 100,         process start (CLOCK_BOOTTIME)
 *    "cgroup": "/system.slice/x.service", "cgroup_id": 1234,
 *    "signal": "ILL", "si_code": 2, "trap_nr": 6, "fatal": true, "origin": "cpu",
 *    "ip": "0x7f0011223344",
 *    "mapping": {"path": "/usr/lib/libfoo.so", "offset": "0x1234", "dev": "254:1",
 *                "ino": 5678, "truncated": false, "deleted": false},   null if unknown
 *    "bytes": "62f1744858c2",          what was readable at ip (up to 16 bytes)
 *    "mnemonic": "vaddps", "text": "vaddps zmm0, zmm1, zmm2",
 *    "isa_set": "AVX512F_512",
 *    "decoder": "zydis",               "fallback": Zydis does not know it (see explain)
 *    "features": ["avx512f"],          what the instruction needs
 *    "missing": ["avx512f"],           needed but not advertised now
 *    "class": "never-advertised",      see classify.h FAULT_CLASSES
 *    "reason": "never advertised here: avx512f",
 *    "probe_confirms": false,
 *    "count": 3,                       faults at this site so far, exact
 *    "suppressed": 0,                  faults at this site not detailed since its last line
 *    "delta": 1, "flush": false, "tracked": true,
 *    "variant": "tp_btf"}
 * (mnemonic, text, isa_set, decoder are absent when the bytes do not decode.)
 * Faults no site could hold: {"kind": "watch.untracked", "pid", "comm", "faults"}.
 * On exit, after counting everything pending, one line per site with its final count,
 *   {"kind": "watch.site", "pid", "comm", "exe", "ip", "origin", "class", "feature",
 *    "count"}
 * and one summary line:
 *   {"kind": "watch.summary", "variant": "tp_btf", "faults": 10, "events": 6,
 *    "suppressed": 4, "drops": 0, "untracked": 0, "forged": 0, "traced": 0}
 * Exit: 0 no fault seen, 1 faults seen, 2 error.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/tracker.h"
#include "capture/capture.h"
#include "capture/faultwatch.h"
#include "capture/probe.h"
#include "capture/selfcode.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "core/escape.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/signals.h"
#include "core/snapshot.h"

/* Pending counts the kernel kept are printed once they waited this long. */
#define FLUSH_AGE_NS (2 * NSEC_PER_SEC)

struct site {
	int pid;
	uint64_t start_ns, ip;
	enum fault_origin origin;
	uint64_t count;
	char comm[16], cls[48], feature[64];
	char exe[PATH_MAX];
};

struct watch {
	bool json;
	int pid;
	struct tracker *t;
	unsigned long seen;
	size_t nsites, cap;
	struct site *sites;
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

/* Text from processes and files is theirs: control characters are printed escaped. */
/* Names and paths come from the faulting process: escaped, one way (core/escape). */
static void print_safe(FILE *f, const char *s)
{
	fputs(str_esc(s), f);
}

static struct site *site_of(struct watch *w, const struct fault *f)
{
	struct site *s;

	for (size_t i = 0; i < w->nsites; i++) {
		s = &w->sites[i];
		if (s->pid == f->pid && s->start_ns == f->start_ns && s->ip == f->ip &&
		    s->origin == f->origin)
			return s;
	}
	if (w->nsites == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 64;
		struct site *v = realloc(w->sites, cap * sizeof(*v));

		if (!v)
			return NULL;
		w->sites = v;
		w->cap = cap;
	}
	s = &w->sites[w->nsites++];
	memset(s, 0, sizeof(*s));
	s->pid = f->pid;
	s->start_ns = f->start_ns;
	s->ip = f->ip;
	s->origin = f->origin;
	return s;
}

static void print_untracked(const struct watch *w, const struct fault *f)
{
	struct json_object *o;

	if (!w->json) {
		fprintf(stderr, "cpudrift: %" PRIu64 " faults of pid %d (", f->delta, f->pid);
		print_safe(stderr, f->comm);
		fprintf(stderr, ") held by no site (untracked)\n");
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "kind", json_object_new_string("watch.untracked"));
	json_object_object_add(o, "pid", json_object_new_int(f->pid));
	json_object_object_add(o, "comm", json_object_new_string(f->comm));
	json_object_object_add(o, "faults", json_object_new_int64((int64_t)f->delta));
	cli_print_json(stdout, o, true);
	json_object_put(o);
}

static void print_fault(const struct fault *f, const struct event *e)
{
	const char *sig = signals_name(f->sig);

	print_safe(stdout, f->exe[0] ? f->exe : "?");
	printf(" pid %d (", f->pid);
	print_safe(stdout, f->comm);
	printf(") SIG%s at 0x%" PRIx64 " %s", sig ? sig : "?", f->ip,
	       body_str(e, "text", "(undecodable)"));
	if (f->has_map) {
		printf(" in ");
		print_safe(stdout, f->map_path[0] ? f->map_path : "?");
	}
	printf(": %s [", body_str(e, "class", "?"));
	print_safe(stdout, body_str(e, "reason", ""));
	printf("] x%" PRIu64 "%s%s\n", f->count, f->kind == FAULT_FLUSH ? " (counted)" : "",
	       f->origin == FAULT_ORIGIN_TRACED ? " (traced)" : "");
}

static int on_fault(const struct fault *f, void *ctx)
{
	struct watch *w = ctx;
	struct fault judged = *f;
	struct evlist out = { 0 };
	struct site *s;

	if (w->pid && f->pid != w->pid)
		return 0;
	w->seen++;
	if (f->kind == FAULT_UNTRACKED) {
		print_untracked(w, f);
		return 0;
	}
	/* Judged on its own vCPU: the snapshot taken at start may predate a migration. */
	if (f->kind == FAULT_DETAIL)
		capture_fault_cpuid(w->t, &judged, NSEC_PER_SEC);
	if (tracker_fault(w->t, &judged, &out) || !out.n) {
		evlist_free(&out);
		return 0;
	}
	for (size_t i = 0; i < out.n; i++) {
		const struct event *e = out.v[i];

		if (e->kind != EV_FAULT_SIGILL)
			continue;
		s = site_of(w, f);
		if (s) {
			s->count = f->count > s->count ? f->count : s->count;
			snprintf(s->comm, sizeof(s->comm), "%s", f->comm);
			snprintf(s->cls, sizeof(s->cls), "%s", body_str(e, "class", ""));
			snprintf(s->feature, sizeof(s->feature), "%s", body_str(e, "feature", ""));
			if (f->exe[0])
				snprintf(s->exe, sizeof(s->exe), "%s", f->exe);
		}
		if (w->json)
			cli_print_json(stdout, e->body, true);
		else
			print_fault(f, e);
	}
	evlist_free(&out);
	fflush(stdout);
	return 0;
}

static int on_forged(const struct forged_signal *s, void *ctx)
{
	(void)ctx;
	log_info("not a CPU fault (%s): signal %d from pid %d (uid %u) to pid %d", s->reason,
		 s->sig, s->sender_pid, s->sender_uid, s->target_pid);
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

static void print_sites(const struct watch *w)
{
	for (size_t i = 0; i < w->nsites; i++) {
		const struct site *s = &w->sites[i];
		struct json_object *o;
		char ip[24];

		if (!w->json) {
			fprintf(stderr, "cpudrift: pid %d (", s->pid);
			print_safe(stderr, s->comm);
			fprintf(stderr, ") at 0x%" PRIx64 ": %" PRIu64 " faults, %s\n", s->ip,
				s->count, s->cls);
			continue;
		}
		snprintf(ip, sizeof(ip), "0x%" PRIx64, s->ip);
		o = json_object_new_object();
		json_object_object_add(o, "kind", json_object_new_string("watch.site"));
		json_object_object_add(o, "pid", json_object_new_int(s->pid));
		json_object_object_add(o, "comm", json_object_new_string(s->comm));
		json_object_object_add(o, "exe", json_object_new_string(s->exe));
		json_object_object_add(o, "ip", json_object_new_string(ip));
		json_object_object_add(o, "origin",
				       json_object_new_string(fault_origin_name(s->origin)));
		json_object_object_add(o, "class", json_object_new_string(s->cls));
		json_object_object_add(o, "feature", json_object_new_string(s->feature));
		json_object_object_add(o, "count", json_object_new_int64((int64_t)s->count));
		cli_print_json(stdout, o, true);
		json_object_put(o);
	}
}

static void print_summary(struct faultwatch *fw, bool json)
{
	struct watcher_counts st;
	struct json_object *o;

	if (faultwatch_stats(fw, &st))
		return;
	if (!json) {
		fprintf(stderr,
			"cpudrift: %" PRIu64 " faults, %" PRIu64 " detailed, %" PRIu64
			" rate-limited, %" PRIu64 " untracked, %" PRIu64
			" lost (ring buffer full), %" PRIu64 " forged signals refused\n",
			st.faults, st.events, st.suppressed, st.untracked, st.drops, st.forged);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "kind", json_object_new_string("watch.summary"));
	json_object_object_add(o, "variant",
			       json_object_new_string(fault_variant_name(faultwatch_variant(fw))));
	json_object_object_add(o, "faults", json_object_new_int64((int64_t)st.faults));
	json_object_object_add(o, "events", json_object_new_int64((int64_t)st.events));
	json_object_object_add(o, "suppressed", json_object_new_int64((int64_t)st.suppressed));
	json_object_object_add(o, "drops", json_object_new_int64((int64_t)st.drops));
	json_object_object_add(o, "untracked", json_object_new_int64((int64_t)st.untracked));
	json_object_object_add(o, "forged", json_object_new_int64((int64_t)st.forged));
	json_object_object_add(o, "traced", json_object_new_int64((int64_t)st.traced));
	cli_print_json(stdout, o, true);
	json_object_put(o);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cpudrift watch [--json] [--signals ILL,SEGV,BUS,FPE,TRAP]\n"
		"                      [--variant tp_btf|raw_tp] [--duration S]\n"
		"                      [--pid PID] [--no-probe]\n\n"
		"Stream every fault the CPU raised (SIGILL by default) with the instruction that\n"
		"raised it, the CPU features it needs and why it faulted; signals a process sent\n"
		"are counted as forged, never shown as faults.  On exit, every fault still\n"
		"pending is counted and each site's final count printed.  Needs CAP_BPF and\n"
		"CAP_PERFMON.\n");
}

/* The snapshot every fault is judged against, with the probes' results. */
static int start_analysis(struct watch *w, bool probe, struct errbuf *err)
{
	struct capture_opts co = { .only_cpu = -1, .skip_extra = true };
	struct probe_report *pr = NULL;
	struct evlist ignored = { 0 };
	struct probe_summary ps;
	struct code_range probes;
	struct snapshot *s = NULL;
	int r;

	if (capture_snapshot(&s, &co, err)) {
		log_err("%s", err->msg[0] ? err->msg : "failed to capture CPUID");
		return -EIO;
	}
	w->t = tracker__new();
	if (!w->t) {
		snapshot__free(s);
		log_err("failed to start the analysis: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	/* Probe before attaching: the probes' own faults are not news. */
	if (probe) {
		if (probe_run(s, NULL, &pr, err)) {
			log_warn("%s; classifying without probe results", err->msg);
		} else {
			probe_summarize(pr, &ps);
			s->has_shadow = true;
			s->shadow = pr->shadow;
		}
	}
	if (!selfcode_probe_range(&probes))
		tracker_set_probe_code(w->t, &probes);
	r = tracker_snapshot(w->t, s, &ignored);
	if (!r && pr)
		r = tracker_probes(w->t, &ps, &ignored);
	evlist_free(&ignored);
	probe_report__free(pr);
	if (r)
		log_err("failed to start the analysis: %s", strerror(-r));
	return r;
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
	struct faultwatch_opts fo = { .on_forged = on_forged };
	struct faultwatch *fw = NULL;
	struct errbuf err = { "" };
	struct watch w = { 0 };
	int64_t t0, last_flush;
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
				log_err("failed to parse --variant: '%s' (tp_btf, raw_tp)", optarg);
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

	if (start_analysis(&w, probe, &err))
		goto out;
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
	t0 = last_flush = clock_mono_ns();
	while (!stop) {
		int r = faultwatch_poll(fw, 200);
		int64_t now = clock_mono_ns();

		if (r < 0) {
			log_err("failed to poll the fault ring buffer: %s", strerror(-r));
			goto out;
		}
		if (faultwatch_flush_wanted(fw) || now - last_flush >= FLUSH_AGE_NS) {
			if (faultwatch_flush(fw, FLUSH_AGE_NS, 0, NULL) < 0)
				log_warn("failed to count the pending faults");
			last_flush = now;
		}
		if (duration > 0 && (double)(now - t0) / NSEC_PER_SEC >= duration)
			break;
	}
	/* Everything the kernel counted is printed before the final counts. */
	faultwatch_consume(fw, 0, NULL);
	if (faultwatch_flush(fw, 0, 0, NULL) < 0)
		log_warn("failed to count the pending faults");
	print_sites(&w);
	print_summary(fw, w.json);
	ret = w.seen ? EXIT_FOUND : EXIT_OK;
out:
	faultwatch__free(fw);
	tracker__free(w.t);
	free(w.sites);
	return ret;
}
