// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/safefile.h"
#include "sinks/sink_textfile.h"

void textfile_add_fault(struct textfile_state *t, const char *class_, const char *feature,
			int64_t n)
{
	struct fault_count *fc;
	size_t i;

	for (i = 0; i < t->nfaults; i++) {
		fc = &t->faults[i];
		if (!strcmp(fc->class_, class_) && !strcmp(fc->feature, feature))
			break;
	}
	if (i == t->nfaults) {
		if (t->nfaults == TEXTFILE_MAX_FAULT_SERIES) {
			/* The last slot sums everything past the cap, whatever its class. */
			fc = &t->faults[TEXTFILE_MAX_FAULT_SERIES];
			snprintf(fc->class_, sizeof(fc->class_), "other");
			snprintf(fc->feature, sizeof(fc->feature), "other");
			fc->n += n;
			return;
		}
		fc = &t->faults[t->nfaults++];
		snprintf(fc->class_, sizeof(fc->class_), "%s", class_);
		snprintf(fc->feature, sizeof(fc->feature), "%s", feature);
	}
	t->faults[i].n += n;
}

/* Label values: backslash, double quote and newline are escaped (exposition format). */
static void label(FILE *f, const char *name, const char *v, bool more)
{
	fprintf(f, "%s=\"", name);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*v, f);
	}
	fprintf(f, "\"%s", more ? "," : "");
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void gauge(FILE *f, const char *name, const char *help, double v)
{
	head(f, name, "gauge", help);
	fprintf(f, "%s %.17g\n", name, v);
}

int textfile_render(const struct textfile_state *t, FILE *f)
{
	bool other = t->faults[TEXTFILE_MAX_FAULT_SERIES].n > 0;
	int id;

	gauge(f, "cpudrift_up", "1 while the cpudrift daemon runs, 0 once it stopped cleanly.",
	      !t->stopped);
	gauge(f, "cpudrift_degraded",
	      "1 when the daemon runs without its BPF sources (no root, BTF or BPF: faults and "
	      "VM stalls are not watched) or without its evidence store (cpudrift_store_up).",
	      t->degraded);
	gauge(f, "cpudrift_start_time_seconds", "When the daemon started, seconds since the epoch.",
	      t->start_time);
	gauge(f, "cpudrift_last_update_timestamp_seconds",
	      "When the daemon last wrote this file; it rewrites it at least every minute, so an "
	      "old value means the daemon is gone (crash, kill -9, OOM).",
	      t->last_update_time);
	gauge(f, "cpudrift_vcpus", "Online vCPUs in the last snapshot.", t->nvcpus);
	gauge(f, "cpudrift_features_advertised",
	      "CPU features the last snapshot advertises on every vCPU (feature table entries).",
	      t->features_advertised);
	gauge(f, "cpudrift_x86_64_level",
	      "x86-64 micro-architecture level (1-4) of the last snapshot, as glibc computes it.",
	      t->x86_64_level);
	gauge(f, "cpudrift_shadow_features",
	      "Features masked in CPUID that still execute (-1 when not probed): a fingerprint of "
	      "the real hardware.",
	      t->shadow_features);
	head(f, "cpudrift_features_lost", "gauge",
	     "1 for each feature the baseline advertised that the last snapshot lacks.");
	featset_for_each (id, &t->lost) {
		fputs("cpudrift_features_lost{", f);
		label(f, "feature", feature_table[id].name, false);
		fputs("} 1\n", f);
	}
	gauge(f, "cpudrift_baseline_timestamp_seconds",
	      "When the baseline snapshot was taken (0: no baseline yet).", t->baseline_time);
	gauge(f, "cpudrift_last_snapshot_timestamp_seconds", "When the last snapshot was taken.",
	      t->last_snapshot_time);
	gauge(f, "cpudrift_last_migration_suspected_timestamp_seconds",
	      "When the last migration.suspected verdict was raised (0: never).",
	      t->last_migration_time);
	gauge(f, "cpudrift_incident_start_time_seconds",
	      "When the newest open incident (one migration) opened, 0 when none is open.",
	      t->incident_start_time);
	gauge(f, "cpudrift_incident_confidence",
	      "Confidence of the newest open incident: 0 none open, 1 low, 2 medium, 3 high.",
	      t->incident_confidence);
	gauge(f, "cpudrift_incident_reasons",
	      "Distinct reasons (kinds of evidence) of the newest open incident.",
	      t->incident_reasons);
	gauge(f, "cpudrift_processes_at_risk",
	      "Live processes that started before the newest open incident's change, when it "
	      "lost a feature (0 otherwise).",
	      (double)t->processes_at_risk);
	head(f, "cpudrift_events_total", "counter",
	     "Events raised, by kind and severity (kinds that never happened are absent).");
	for (int k = 0; k < EV__COUNT; k++)
		for (int s = 0; s <= SEV_CRITICAL; s++) {
			if (!t->events[k][s])
				continue;
			fputs("cpudrift_events_total{", f);
			label(f, "kind", event_kind_names[k], true);
			label(f, "severity", severity_name(s), false);
			fprintf(f, "} %" PRId64 "\n", t->events[k][s]);
		}
	head(f, "cpudrift_faults_total", "counter",
	     "Illegal-instruction and similar faults seen, by class and the feature the "
	     "instruction needed (at most 10 series; the rest under class and feature \"other\").");
	for (size_t i = 0; i <= TEXTFILE_MAX_FAULT_SERIES; i++) {
		const struct fault_count *fc = &t->faults[i];

		if ((i < t->nfaults && fc->n) || (i == TEXTFILE_MAX_FAULT_SERIES && other)) {
			fputs("cpudrift_faults_total{", f);
			label(f, "class", fc->class_, true);
			label(f, "feature", *fc->feature ? fc->feature : "none", false);
			fprintf(f, "} %" PRId64 "\n", fc->n);
		}
	}
	head(f, "cpudrift_hook_failures_total", "counter",
	     "Hook runs that failed, timed out, were refused or could not start (as the hook "
	     "runner, cpudrift hooks run, last recorded them).");
	fprintf(f, "cpudrift_hook_failures_total %" PRIu64 "\n", t->hook_failures);
	gauge(f, "cpudrift_hook_spool_events",
	      "Events in the hook spool that the hook runner has not processed yet.",
	      (double)t->spool_pending);
	head(f, "cpudrift_hook_events_dropped_total", "counter",
	     "Events never handed to hooks, by reason: rate_limit (hook_rate_limit), spool_full "
	     "(the oldest unprocessed events make room, hook_spool_max) or error (the spool "
	     "could not be written).");
	for (int r = 0; r < SPOOL_DROP__COUNT; r++) {
		fputs("cpudrift_hook_events_dropped_total{", f);
		label(f, "reason", spool_drop_names[r], false);
		fprintf(f, "} %" PRIu64 "\n", t->hook_drops[r]);
	}
	head(f, "cpudrift_bpf_lost_events_total", "counter",
	     "Events the BPF programs dropped because the ring buffer was full.");
	fprintf(f, "cpudrift_bpf_lost_events_total %" PRIu64 "\n", t->bpf_lost_events);
	head(f, "cpudrift_watcher_forged_signals_total", "counter",
	     "Watched signals that were not CPU faults (sent or injected): refused as evidence.");
	fprintf(f, "cpudrift_watcher_forged_signals_total %" PRIu64 "\n", t->watcher_forged);
	head(f, "cpudrift_watcher_untracked_faults_total", "counter",
	     "Faults no site could hold, counted in a catch-all (class \"untracked\") and "
	     "detailed only under a rate limit.");
	fprintf(f, "cpudrift_watcher_untracked_faults_total %" PRIu64 "\n", t->watcher_untracked);
	head(f, "cpudrift_store_up", "gauge",
	     "1 while events are written to the evidence store; 0 when it is full, read-only, "
	     "failing or absent (state says which; events then reach the other sinks only).");
	fputs("cpudrift_store_up{", f);
	label(f, "state", *t->store_state ? t->store_state : "ok", false);
	fprintf(f, "} %d\n", !*t->store_state || !strcmp(t->store_state, "ok"));
	head(f, "cpudrift_store_errors_total", "counter",
	     "Writes the evidence store refused (a full disk, an I/O error): their events wait "
	     "in memory, bounded, and are written when it can be again.");
	fprintf(f, "cpudrift_store_errors_total %" PRIu64 "\n", t->store_errors);
	gauge(f, "cpudrift_baseline_provisional",
	      "1 while the baseline is provisional (the store was started anew and the old "
	      "baseline could not be read): drift is measured from it only, until a person "
	      "accepts one.",
	      t->baseline_provisional);
	return ferror(f) ? -EIO : 0;
}

int textfile_write(const struct textfile_state *t, const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int r;

	if (!f)
		return -errno;
	r = textfile_render(t, f);
	if (fclose(f) && !r)
		r = -errno;
	/* node_exporter runs as its own user: 0644 whatever the daemon's umask. */
	if (!r)
		r = safefile_write(path, buf, len, 0644, 0);
	free(buf);
	return r;
}
