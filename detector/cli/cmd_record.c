// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cpudrift record: every timing observation, and periodic snapshots with their probe runs,
 * as a recording (formats/recording.h).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "core/log.h"
#include "capture/probe.h"
#include "core/clock.h"
#include "core/observe.h"
#include "formats/recording.h"
#include "core/snapshot.h"
#include "capture/timesrc.h"

struct rec {
	FILE *f;
	int err;
	long count[OBS__COUNT];
	int64_t cpuid_every_ns, cpuid_next;
	long snapshots;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void write_obs(void *ctx, const struct observation *o)
{
	struct rec *r = ctx;
	int err = recording_write_observation(r->f, o);

	/* Flushed line by line: a recording cut short by a crash is still a recording. */
	if (!err && fflush(r->f))
		err = -errno;
	if (err && !r->err) {
		r->err = err;
		stop = 1;
	}
	r->count[o->src]++;
}

/* A snapshot and a probe run, as the daemon takes them every interval. */
static void record_cpuid(struct rec *r)
{
	struct probe_report *pr = NULL;
	struct snapshot *s = NULL;
	struct probe_summary ps;
	struct errbuf err;
	int ret;

	if (capture_snapshot(&s, NULL, &err)) {
		log_warn("failed to capture CPUID: %s", err.msg);
		return;
	}
	if (!probe_run(s, NULL, &pr, &err)) {
		probe_summarize(pr, &ps);
		s->has_shadow = true;
		s->shadow = pr->shadow;
	} else {
		log_warn("failed to run the instruction probes: %s", err.msg);
	}
	ret = recording_write_snapshot(r->f, s);
	if (!ret && pr)
		ret = recording_write_probe(r->f, &ps);
	if (!ret && fflush(r->f))
		ret = -errno;
	if (ret && !r->err) {
		r->err = ret;
		stop = 1;
	}
	r->snapshots++;
	probe_report__free(pr);
	snapshot__free(s);
}

static void on_wakeup(void *ctx)
{
	struct rec *r = ctx;
	int64_t now = clock_mono_ns();

	if (!r->cpuid_every_ns)
		return;
	if (now >= r->cpuid_next) {
		r->cpuid_next = now + r->cpuid_every_ns;
		record_cpuid(r);
	}
}

static int parse_sources(const char *list, unsigned *out)
{
	char *dup = strdup(list), *tok, *save;
	int ret = 0;

	*out = 0;
	for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int s = observe_source_lookup(tok);

		if (s < 0 || s >= OBS__COUNT) {
			log_err("failed to parse --sources: unknown timing source '%s'", tok);
			ret = -EINVAL;
			break;
		}
		*out |= 1u << s;
	}
	free(dup);
	return ret;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cpudrift record [-o FILE] [--duration S] [--sources LIST] [--stall-us N]\n"
		"                       [--cpuid-every S]\n\n"
		"Write every timing observation as one JSON line (see `cpudrift replay`).\n"
		"  -o, --output FILE   where to write (default: stdout)\n"
		"  -d, --duration S    stop after S seconds (default: until SIGINT/SIGTERM)\n"
		"  -s, --sources LIST  comma-separated timing sources (default: all):\n"
		"                      stall,clock_step,hostclock,tsc,clocksource,kmsg,steal,\n"
		"                      cpuid_latency,hre\n"
		"      --stall-us N    hrtimer lateness the kernel reports (default: the stall\n"
		"                      threshold)\n"
		"      --cpuid-every S also record a CPUID snapshot and a probe run every S\n"
		"                      seconds (default 60, 0: never)\n");
}

int cmd_record(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "duration", required_argument, NULL, 'd' },
		{ "sources", required_argument, NULL, 's' },
		{ "stall-us", required_argument, NULL, 'S' },
		{ "cpuid-every", required_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		ARGS_VERSION_OPTION,
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct timesrc_opts to;
	struct timesrc *ts = NULL;
	struct rec r = { .cpuid_every_ns = 60000000000LL };
	const char *path = NULL;
	int64_t duration_ns = 0, n;
	struct errbuf err;
	struct sigaction sa = { .sa_handler = on_signal };
	int c, ret;

	timesrc_opts_default(&to);
	while ((c = getopt_long(argc, argv, "o:d:s:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			path = optarg;
			break;
		case 'd':
			if (args_duration("--duration", optarg, NSEC_PER_SEC, 1, INT64_MAX,
					  &duration_ns)) {
				usage(stderr);
				return EXIT_ERROR;
			}
			break;
		case 's':
			if (parse_sources(optarg, &to.sources))
				return EXIT_ERROR;
			break;
		case 'S':
			if (args_int("--stall-us", optarg, 1, 600000000, &n)) {
				usage(stderr);
				return EXIT_ERROR;
			}
			to.stall_ns = n * 1000;
			break;
		case 'C':
			if (args_duration("--cpuid-every", optarg, NSEC_PER_SEC, 0,
					  86400 * NSEC_PER_SEC, &r.cpuid_every_ns)) {
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
	r.f = cli_open_out(path);
	if (!r.f)
		return EXIT_ERROR;
	ret = timesrc__new(&ts, &to, write_obs, &r, &err);
	if (ret) {
		log_err("%s", err.msg);
		cli_close_out(r.f, path);
		return EXIT_ERROR;
	}
	if (log_get_level() >= LOG_LVL_INFO) {
		struct json_object *st = timesrc_status(ts);

		cli_print_json(stderr, st, true);
		json_object_put(st);
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	on_wakeup(&r);
	/* Baselines right away rather than one interval in. */
	for (int s = OBS_HOSTCLOCK; s < OBS__COUNT; s++)
		timesrc_sample(ts, s);
	ret = timesrc_run(ts, duration_ns, &stop, on_wakeup, &r);
	timesrc_dispatch(ts, -1);
	timesrc__free(ts);
	if (ret)
		log_err("failed to run the timing sources: %s", strerror(-ret));
	if (r.err)
		log_err("failed to write %s: %s", path ? path : "stdout", strerror(-r.err));
	for (int s = 0; s < OBS__COUNT; s++)
		if (r.count[s])
			log_info("recorded %ld %s observations", r.count[s], obs_source_names[s]);
	if (r.snapshots)
		log_info("recorded %ld snapshots with their probe runs", r.snapshots);
	if (cli_close_out(r.f, path) || ret || r.err)
		return EXIT_ERROR;
	return EXIT_OK;
}
