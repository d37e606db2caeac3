// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * report and evidence on a big store: 100,000 events (faults with their full records,
 * stalls, drifts, verdicts) and 1,000 snapshots, as the real binary runs them.  Wall time
 * and peak resident memory of each run (wait4's ru_maxrss), and the bundle's size.
 * Targets: evidence under 2 s and 64 MB.  Also `report --incident` for an incident whose
 * window is the whole day, every verdict one of its issues (the worst case of a selection
 * by ID).  Prints `name: value unit` lines; asserts nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/event.h"
#include "core/log.h"
#include "formats/dumpfmt.h"
#include "sinks/store.h"

#define DUMP CPUDRIFT_SRCDIR "/tests/fixtures/dumps/libcpuid-epyc-kvm-all.txt"
#define NEVENTS 100000
#define NSNAPS 1000
#define T0 1795746000000000000LL
#define INCIDENT "f2845be9-1000"

static char dir[] = "/tmp/cpudrift-bench-report-XXXXXX";

static const char *build(const char *rel)
{
	static char buf[4][512];
	static int k;
	const char *b = getenv("CPUDRIFT_BUILD");

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", b ? b : "build", rel);
	return buf[k];
}

static struct event *fault_event(int i, int64_t t)
{
	struct event *e = event__new(EV_FAULT_SIGILL, i % 7 ? SEV_NOTICE : SEV_CRITICAL);
	struct json_object *b = e->body, *f = json_object_new_array();

	e->realtime_ns = t;
	e->pid = 1000 + i % 500;
	snprintf(e->subject, sizeof(e->subject), "java");
	snprintf(e->summary, sizeof(e->summary),
		 "java (pid %d) SIGILL at 0x7f00112%05x: vaddps: feature-lost", e->pid, i);
	json_object_object_add(b, "pid", json_object_new_int(e->pid));
	json_object_object_add(b, "comm", json_object_new_string("java"));
	json_object_object_add(b, "exe", json_object_new_string("/usr/lib/jvm/java-17/bin/java"));
	json_object_object_add(b, "cgroup", json_object_new_string("/system.slice/app.service"));
	json_object_object_add(b, "signal", json_object_new_string("ILL"));
	json_object_object_add(b, "ip", json_object_new_string("0x7f0011223344"));
	json_object_object_add(b, "bytes", json_object_new_string("62f1744858c2"));
	json_object_object_add(b, "text", json_object_new_string("vaddps zmm0, zmm1, zmm2"));
	json_object_object_add(b, "mnemonic", json_object_new_string("vaddps"));
	json_object_object_add(b, "isa_set", json_object_new_string("AVX512F_512"));
	json_object_array_add(f, json_object_new_string("avx512f"));
	json_object_object_add(b, "features", f);
	json_object_object_add(b, "feature", json_object_new_string("avx512f"));
	json_object_object_add(b, "class", json_object_new_string("feature-lost"));
	json_object_object_add(b, "reason",
			       json_object_new_string("advertised earlier, not now: avx512f"));
	json_object_object_add(b, "fatal", json_object_new_boolean(i % 50 == 0));
	json_object_object_add(b, "count", json_object_new_int(i));
	return e;
}

static struct event *other_event(int i, int64_t t)
{
	static const int kinds[] = { EV_TIMING_STALL, EV_TIMING_CPUID_LATENCY, EV_TIMING_STEAL,
				     EV_MIGRATION_SUSPECTED, EV_CPUID_DRIFT };
	int k = kinds[i % 5];
	struct event *e = event__new(k, k == EV_CPUID_DRIFT ? SEV_CRITICAL : SEV_NOTICE);

	e->realtime_ns = t;
	snprintf(e->subject, sizeof(e->subject), "vm");
	snprintf(e->summary, sizeof(e->summary), "%s number %d", event_kind_names[k], i);
	json_object_object_add(e->body, "max_lateness_ns", json_object_new_int64(60000000 + i));
	json_object_object_add(e->body, "scope", json_object_new_string("vm"));
	if (k == EV_MIGRATION_SUSPECTED) {
		json_object_object_add(e->body, "confidence", json_object_new_string("high"));
		json_object_object_add(e->body, "incident_id", json_object_new_string(INCIDENT));
		json_object_object_add(e->body, "issue", json_object_new_int(i / 10 + 1));
	}
	return e;
}

static void fill(void)
{
	struct errbuf err;
	struct snapshot *snap;
	struct store *s;
	int64_t span = 86400LL * 1000000000; /* one day */

	if (store__new(&s, dir, 0, &err) || dump_import_file(DUMP, &snap, &err)) {
		fprintf(stderr, "bench_report: %s\n", err.msg);
		exit(1);
	}
	store_begin(s);
	for (int i = 0; i < NSNAPS; i++) {
		snap->realtime_ns = T0 + span / NSNAPS * i;
		/* Differ a little each time, as periodic snapshots that were kept do. */
		snap->microcode = (uint64_t)i;
		snap->has_microcode = true;
		store_save_snapshot(s, snap, i ? SNAP_PERIODIC : SNAP_BOOT_FIRST, NULL);
	}
	for (int i = 0; i < NEVENTS; i++) {
		int64_t t = T0 + span / NEVENTS * i;
		struct event *e = i % 2 ? fault_event(i, t) : other_event(i, t);

		store_add_event(s, e, NULL);
		event__free(e);
		if (i % 100 == 0) {
			char json[256];

			snprintf(json, sizeof(json),
				 "{\"src\":\"stall\",\"mono_ns\":%d,\"real_ns\":%lld,\"cpu\":%d,"
				 "\"lateness_ns\":%d,\"online\":2}",
				 i, (long long)t, i % 2, 1000000 + i * 10);
			store_add_timing_sample(s, t, "stall", 1e6, json);
		}
	}
	store_commit(s);
	{
		char json[1024];
		struct json_object *inc;

		snprintf(
			json, sizeof(json),
			"{\"id\":\"%s\",\"boot_id\":\"f2845be9\",\"state\":\"closed\","
			"\"confidence\":\"high\",\"severity\":\"critical\",\"opened_real_ns\":%lld,"
			"\"change_real_ns\":%lld,\"last_real_ns\":%lld,\"closed_real_ns\":%lld,"
			"\"close_reason\":\"quiet\",\"window_ns\":300000000000,\"issues\":%d,"
			"\"score\":6,\"at_risk\":0,\"tally\":{\"reasons\":[]},"
			"\"casualties\":[],\"survived\":[]}",
			INCIDENT, (long long)T0, (long long)T0, (long long)(T0 + span),
			(long long)(T0 + span), NEVENTS / 10);
		inc = json_tokener_parse(json);
		if (!inc || store_put_incident(s, inc)) {
			fprintf(stderr, "bench_report: failed to store the incident\n");
			exit(1);
		}
		json_object_put(inc);
	}
	snapshot__free(snap);
	store__free(s);
}

static double cpu;

/*
 * Run the binary with @args; wall seconds and peak RSS (MB) of the child, its CPU seconds
 * (user + system) in `cpu`: on a shared machine the CPU time is the steadier figure.
 */
static int run(const char *const *args, double *secs, double *mb)
{
	struct timespec a, b;
	struct rusage ru;
	int st;
	pid_t pid;

	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &a);
	pid = fork();
	if (!pid) {
		if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
			_exit(126);
		execv(build("cpudrift"), (char *const *)args);
		_exit(127);
	}
	wait4(pid, &st, 0, &ru);
	clock_gettime(CLOCK_MONOTONIC, &b);
	*secs = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	*mb = ru.ru_maxrss / 1024.0;
	cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	      ru.ru_stime.tv_usec / 1e6;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(void)
{
	char out[600], conf[600];
	const char *ev[] = { "cpudrift", "evidence", "--state-dir", dir, "--config",
			     conf,	 "-o",	     out,	    NULL };
	const char *rp[] = { "cpudrift", "report", "--state-dir", dir, "--config", conf, NULL };
	const char *rj[] = { "cpudrift", "report",   "--json", "--state-dir",
			     dir,	 "--config", conf,     NULL };
	const char *ri[] = { "cpudrift", "report",   "--incident", INCIDENT, "--state-dir",
			     dir,	 "--config", conf,	   NULL };
	double secs, mb;
	struct stat st;
	FILE *f;
	int rc;

	if (!mkdtemp(dir))
		return 1;
	snprintf(out, sizeof(out), "%s/bundle.tar.gz", dir);
	snprintf(conf, sizeof(conf), "%s/c.conf", dir);
	f = fopen(conf, "w");
	fprintf(f, "journal = off\n");
	fclose(f);
	fill();
	for (int i = 0; i < 3; i++) {
		rc = run(ev, &secs, &mb);
		printf("evidence_%d_events_%d_snapshots_seconds: %.3f s (exit %d)\n", NEVENTS,
		       NSNAPS, secs, rc);
		printf("evidence_cpu_seconds: %.3f s\n", cpu);
		printf("evidence_peak_rss: %.1f MB\n", mb);
	}
	if (!stat(out, &st))
		printf("evidence_bundle_size: %.1f MB\n", st.st_size / 1048576.0);
	rc = run(rp, &secs, &mb);
	printf("report_text_seconds: %.3f s (exit %d)\n", secs, rc);
	printf("report_cpu_seconds: %.3f s\n", cpu);
	printf("report_peak_rss: %.1f MB\n", mb);
	rc = run(rj, &secs, &mb);
	printf("report_json_seconds: %.3f s (exit %d)\n", secs, rc);
	printf("report_json_cpu_seconds: %.3f s\n", cpu);
	printf("report_json_peak_rss: %.1f MB\n", mb);
	rc = run(ri, &secs, &mb);
	printf("report_incident_seconds: %.3f s (exit %d)\n", secs, rc);
	printf("report_incident_cpu_seconds: %.3f s\n", cpu);
	printf("report_incident_peak_rss: %.1f MB\n", mb);
	snprintf(out, sizeof(out), "rm -rf %s", dir);
	return system(out) ? 1 : 0;
}
