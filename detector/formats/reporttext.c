// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "analysis/report.h"
#include "core/escape.h"
#include "formats/reporttext.h"

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* The value of @key as text, escaped ("" when absent). */
static const char *s(struct json_object *o, const char *key)
{
	struct json_object *v = get(o, key);

	return v ? str_esc(json_object_get_string(v)) : "";
}

static int64_t n(struct json_object *o, const char *key)
{
	return json_object_get_int64(get(o, key));
}

static size_t len(struct json_object *a)
{
	return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

static struct json_object *at(struct json_object *a, size_t i)
{
	return json_object_array_get_idx(a, i);
}

/* A Markdown table cell: escaped, and '|' kept from closing the cell. */
static void cell(FILE *f, const char *text)
{
	for (const char *p = str_esc(text); *p; p++) {
		if (*p == '|')
			fputc('\\', f);
		fputc(*p, f);
	}
}

static void names(FILE *f, struct json_object *a)
{
	if (!len(a)) {
		fputs("none", f);
		return;
	}
	for (size_t i = 0; i < len(a); i++)
		fprintf(f, "%s%s", i ? " " : "", str_esc(json_object_get_string(at(a, i))));
}

static void verdict(FILE *f, struct json_object *r)
{
	struct json_object *v = get(r, "verdict"), *reasons;

	fprintf(f, "## Verdict\n\n");
	if (!v) {
		fprintf(f, "No migration verdict in this window.\n\n");
		return;
	}
	fprintf(f, "**Migration suspected, confidence %s** (%s, score %s) at %s: %s\n\n",
		s(v, "confidence"), s(v, "severity"), s(v, "score"), s(v, "time"), s(v, "summary"));
	reasons = get(v, "reasons");
	if (len(reasons))
		fprintf(f, "Reasons:\n\n");
	for (size_t i = 0; i < len(reasons); i++) {
		struct json_object *x = at(reasons, i);

		fprintf(f, "- %s (weight %s, x%s): %s\n", s(x, "kind"), s(x, "weight"),
			s(x, "count"), s(x, "summary"));
	}
	if (n(get(r, "verdicts"), "total") > 1)
		fprintf(f, "\n%lld verdicts in the window; this is the strongest and last.\n",
			(long long)n(get(r, "verdicts"), "total"));
	fputc('\n', f);
}

static void row(FILE *f, const char *label, struct json_object *b, struct json_object *a,
		const char *key)
{
	const char *vb = json_object_get_string(get(b, key)),
		   *va = json_object_get_string(get(a, key));

	fprintf(f, "| %s | ", label);
	cell(f, vb ? vb : "-");
	fputs(" | ", f);
	cell(f, va ? va : "-");
	fprintf(f, " |%s\n", vb && va && strcmp(vb, va) ? " changed" : "");
}

static void change(FILE *f, struct json_object *r)
{
	struct json_object *c = get(r, "change"), *ev, *b, *a, *d;

	fprintf(f, "## What changed\n\n");
	if (!c) {
		fprintf(f, "No CPUID drift in this window.\n\n");
		return;
	}
	ev = get(c, "event");
	if (ev)
		fprintf(f, "%s (%s, %s): %s\n\n", s(ev, "time"), s(ev, "kind"), s(ev, "severity"),
			s(ev, "summary"));
	b = get(c, "before");
	a = get(c, "after");
	if (b && a) {
		fprintf(f, "| | before | after | |\n|---|---|---|---|\n");
		row(f, "snapshot", b, a, "time");
		row(f, "vendor", b, a, "vendor");
		row(f, "brand", b, a, "brand");
		row(f, "cpu", b, a, "cpu");
		row(f, "microcode", b, a, "microcode");
		row(f, "hypervisor", b, a, "hypervisor");
		row(f, "xcr0", b, a, "xcr0");
		row(f, "x86-64 level", b, a, "x86_64_level");
		row(f, "features", b, a, "features");
		row(f, "vcpus", b, a, "vcpus");
		fputc('\n', f);
	} else {
		fprintf(f,
			"x86-64 level: v%s -> v%s (from the event: the snapshots are no longer "
			"stored)\n\n",
			s(c, "level_before"), s(c, "level_after"));
	}
	fprintf(f, "Features lost (%zu): ", len(get(c, "removed")));
	names(f, get(c, "removed"));
	fprintf(f, "\n\nFeatures gained (%zu): ", len(get(c, "added")));
	names(f, get(c, "added"));
	fputs("\n\n", f);
	d = get(c, "changes");
	for (size_t i = 0; i < len(d); i++) {
		struct json_object *x = at(d, i);

		fprintf(f, "- %s %s %s: %s -> %s\n", s(x, "severity"), s(x, "kind"), s(x, "field"),
			s(x, "before"), s(x, "after"));
	}
	if (len(d))
		fputc('\n', f);
	d = get(get(r, "changes"), "list");
	if (len(d) > 1) {
		fprintf(f, "Every change in the window:\n\n");
		for (size_t i = 0; i < len(d); i++)
			fprintf(f, "- %s %s %s: %s\n", s(at(d, i), "time"), s(at(d, i), "kind"),
				s(at(d, i), "severity"), s(at(d, i), "summary"));
		fputc('\n', f);
	}
}

static void process(FILE *f, struct json_object *p)
{
	const char *exe = s(p, "exe");

	fprintf(f, "  - pid %s %s%s%s", s(p, "pid"), s(p, "comm"), *exe ? " " : "", exe);
}

static void faults(FILE *f, struct json_object *r)
{
	struct json_object *fs = get(r, "faults"), *l = get(fs, "list");

	fprintf(f, "## Faults (%lld)\n\n", (long long)n(fs, "total"));
	if (!len(l)) {
		fprintf(f, "No fault in this window.\n\n");
		return;
	}
	for (size_t i = 0; i < len(l); i++) {
		struct json_object *x = at(l, i);
		const char *text = s(x, "text");

		fprintf(f, "- %s %s (pid %s)%s%s in %s: SIG%s at %s `%s` [%s] needs %s: **%s**%s\n",
			s(x, "time"), s(x, "comm"), s(x, "pid"), *s(x, "exe") ? " " : "",
			s(x, "exe"), s(x, "unit"), s(x, "signal"), s(x, "ip"),
			*text ? text : "(undecodable)", s(x, "bytes"),
			*s(x, "feature") ? s(x, "feature") : "-", s(x, "class"),
			json_object_get_boolean(get(x, "fatal")) ? ", fatal" : "");
		if (n(x, "occurrences") > 1)
			fprintf(f, "  %lld times at this address, the last at %s\n",
				(long long)n(x, "occurrences"), s(x, "last_time"));
		if (*s(x, "reason"))
			fprintf(f, "  %s\n", s(x, "reason"));
	}
	if (len(l) == REPORT_MAX_FAULTS)
		fprintf(f, "- ... and more sites: only the first %d are listed\n",
			REPORT_MAX_FAULTS);
	fprintf(f, "\nBy class:");
	json_object_object_foreach(get(fs, "by_class"), k, v)
		fprintf(f, " %s %s", str_esc(k), json_object_get_string(v));
	fputs("\n\n", f);
}

static void timing(FILE *f, struct json_object *r)
{
	struct json_object *t = get(r, "timing"), *l = get(t, "list");

	fprintf(f, "## Timing evidence (%lld)\n\n", (long long)n(t, "total"));
	if (!len(l))
		fprintf(f, "No pause, clock step or stall in this window.\n");
	for (size_t i = 0; i < len(l); i++)
		fprintf(f, "- %s %s %s: %s\n", s(at(l, i), "time"), s(at(l, i), "kind"),
			s(at(l, i), "severity"), s(at(l, i), "summary"));
	fputc('\n', f);
}

static void groups(FILE *f, struct json_object *sec, const char *what, bool risk)
{
	struct json_object *g = get(sec, "groups"), *l = get(sec, risk ? "processes" : "list");

	for (size_t i = 0; i < len(g); i++) {
		struct json_object *x = at(g, i);

		fprintf(f, "- **%s** (%s): %s %s%s\n  remedy: %s\n", s(x, "name"), s(x, "kind"),
			s(x, "count"), what, risk ? "" : "", s(x, "remedy"));
		for (size_t j = 0; j < len(l); j++) {
			struct json_object *p = at(l, j);

			if (strcmp(json_object_get_string(get(p, "group")),
				   json_object_get_string(get(x, "name"))))
				continue;
			process(f, p);
			if (risk)
				fprintf(f, "%s%s\n",
					json_object_get_boolean(get(p, "above_level")) ?
						" (maps glibc-hwcaps above this CPU's level)" :
						"",
					json_object_get_boolean(get(p, "alive")) ?
						", still running" :
						", gone");
			else
				fprintf(f, " at %s: %s, needs %s\n", s(p, "time"), s(p, "class"),
					*s(p, "feature") ? s(p, "feature") : "-");
		}
	}
}

static void people(FILE *f, struct json_object *r)
{
	struct json_object *a = get(r, "at_risk"), *c = get(r, "casualties"), *rem;

	fprintf(f, "## Processes at risk (%lld, %lld still running)\n\n", (long long)n(a, "total"),
		(long long)n(a, "alive"));
	if (!len(get(a, "processes")))
		fprintf(f, "None listed.\n");
	groups(f, a, "processes", true);
	fprintf(f, "\n## Casualties (%lld)\n\n", (long long)n(c, "total"));
	if (!len(get(c, "list")))
		fprintf(f, "No process died of a fault in this window.\n");
	groups(f, c, "died", false);
	fprintf(f, "\n## What to do\n\n");
	rem = get(r, "remedy");
	if (!len(rem))
		fprintf(f, "Nothing to restart.\n");
	for (size_t i = 0; i < len(rem); i++)
		fprintf(f, "%zu. %s\n", i + 1, str_esc(json_object_get_string(at(rem, i))));
	fputc('\n', f);
}

static void incident_procs(FILE *f, struct json_object *l, const char *title)
{
	fprintf(f, "\n%s (%zu):%s\n", title, len(l), len(l) ? "\n" : " none");
	for (size_t i = 0; i < len(l); i++) {
		struct json_object *p = at(l, i);

		fprintf(f, "- pid %s %s%s%s", s(p, "pid"), s(p, "comm"), *s(p, "exe") ? " " : "",
			s(p, "exe"));
		if (*s(p, "unit"))
			fprintf(f, " in %s", s(p, "unit"));
		fprintf(f, " at %s: %s, needs %s\n", s(p, "time"), s(p, "class"),
			*s(p, "feature") ? s(p, "feature") : "-");
	}
}

/* An issue whose confidence differs from the one before. */
static bool moved(struct json_object *issue)
{
	const char *p = json_object_get_string(get(issue, "previous_confidence"));
	const char *c = json_object_get_string(get(issue, "confidence"));

	return p && c && strcmp(p, c);
}

/* The selected incident as stored: its own reasons, processes and history. */
static void incident(FILE *f, struct json_object *inc)
{
	struct json_object *l = get(inc, "reasons"), *h = get(inc, "history");

	fprintf(f, "## Incident %s (%s)\n\n", s(inc, "id"), s(inc, "state"));
	fprintf(f, "Opened %s, confidence %s (%s, score %s) after %s issue%s.\n", s(inc, "opened"),
		s(inc, "confidence"), s(inc, "severity"), s(inc, "score"), s(inc, "issues"),
		n(inc, "issues") == 1 ? "" : "s");
	fprintf(f, "Evidence from %s to %s.\n", s(inc, "first_evidence"), s(inc, "last_evidence"));
	if (get(inc, "closed"))
		fprintf(f, "Closed %s (%s).\n", s(inc, "closed"), s(inc, "close_reason"));
	else
		fprintf(f, "Still open: later evidence may join it.\n");
	if (get(inc, "at_risk"))
		fprintf(f, "Processes at risk when last counted: %s.\n", s(inc, "at_risk"));
	fprintf(f, "\nReasons (%zu):%s\n", len(l), len(l) ? "\n" : " none");
	for (size_t i = 0; i < len(l); i++)
		fprintf(f, "- %s (weight %s, x%s): %s\n", s(at(l, i), "reason"),
			s(at(l, i), "weight"), s(at(l, i), "count"), s(at(l, i), "summary"));
	incident_procs(f, get(inc, "casualties"), "Casualties");
	incident_procs(f, get(inc, "survived"), "Survived");
	l = get(h, "list");
	fprintf(f, "\nConfidence history (%lld stored):%s\n", (long long)n(h, "total"),
		len(l) ? "\n" : " none (retained away)");
	for (size_t i = 0; i < len(l); i++) {
		struct json_object *x = at(l, i);

		if (*s(x, "why"))
			fprintf(f, "- %s resolved: %s\n", s(x, "time"), s(x, "why"));
		else
			fprintf(f, "- %s issue %s: confidence %s%s%s (%s, score %s, %s reason%s)\n",
				s(x, "time"), s(x, "issue"), s(x, "confidence"),
				moved(x) ? ", was " : "",
				moved(x) ? s(x, "previous_confidence") : "", s(x, "severity"),
				s(x, "score"), s(x, "reasons"), n(x, "reasons") == 1 ? "" : "s");
	}
	fputc('\n', f);
}

/* Without a selected incident: each one still open, and how to report it alone. */
static void open_incidents(FILE *f, struct json_object *r)
{
	struct json_object *l = get(get(r, "open_incidents"), "list");

	for (size_t i = 0; i < len(l); i++)
		fprintf(f,
			"Incident %s is open (confidence %s, since %s): `cpudrift report "
			"--incident %s` reports it alone.\n",
			s(at(l, i), "id"), s(at(l, i), "confidence"), s(at(l, i), "opened"),
			s(at(l, i), "id"));
	if (len(l))
		fputc('\n', f);
}

int reporttext_write(struct json_object *r, FILE *f)
{
	struct json_object *w = get(r, "window"), *ev = get(r, "events"), *ex = get(r, "exit");

	fprintf(f, "# cpudrift report: %s to %s\n\n", s(w, "since"), s(w, "until"));
	if (get(r, "incident"))
		incident(f, get(r, "incident"));
	else
		open_incidents(f, r);
	verdict(f, r);
	change(f, r);
	faults(f, r);
	timing(f, r);
	people(f, r);
	fprintf(f,
		"## Events in the window\n\n%lld events, %lld critical:", (long long)n(ev, "total"),
		(long long)n(ev, "critical"));
	json_object_object_foreach(get(ev, "by_kind"), k, v)
	{
		int64_t t = 0;

		json_object_object_foreach(v, sk, sv)
		{
			(void)sk;
			t += json_object_get_int64(sv);
		}
		fprintf(f, " %s %lld", str_esc(k), (long long)t);
	}
	fprintf(f, "\n\nExit status %s:%s%s\n", s(ex, "status"),
		json_object_get_boolean(get(ex, "critical_events")) ?
			" the window holds a critical event;" :
			"",
		n(ex, "at_risk_alive") ? " processes at risk still run." :
		n(ex, "status")	       ? "" :
					 " nothing critical, nobody at risk.");
	return ferror(f) ? -EIO : 0;
}
