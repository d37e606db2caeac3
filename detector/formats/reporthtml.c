// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/escape.h"
#include "core/event.h"
#include "formats/reporthtml.h"
#include "formats/reporttext.h"

/* Geometry of the picture, in SVG units. */
#define W 1200
#define X0 190 /* the plot starts right of the lane labels */
#define X1 1180
#define LANE 22

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static size_t len(struct json_object *a)
{
	return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

static struct json_object *at(struct json_object *a, size_t i)
{
	return json_object_array_get_idx(a, i);
}

/* The five HTML specials; @s is already free of control characters but its newlines. */
static void html_pre(FILE *f, const char *s)
{
	for (const char *p = s; *p; p++) {
		switch (*p) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#39;", f);
			break;
		default:
			fputc(*p, f);
		}
	}
}

/* Text for HTML: control characters escaped first, then the HTML specials. */
static void html(FILE *f, const char *s)
{
	html_pre(f, str_esc(s));
}

struct axis {
	int64_t t0, t1;
};

static double x_of(const struct axis *a, int64_t t)
{
	double x = X0 + (double)(t - a->t0) * (X1 - X0) / (double)(a->t1 - a->t0);

	return x < X0 ? X0 : x > X1 ? X1 : x;
}

static const char *sev_color(const char *sev)
{
	if (!strcmp(sev, "critical"))
		return "#c62828";
	if (!strcmp(sev, "warning"))
		return "#ef6c00";
	if (!strcmp(sev, "notice"))
		return "#1565c0";
	return "#757575";
}

static void label(FILE *f, double y, const char *text)
{
	fprintf(f, "<text x=\"%d\" y=\"%.1f\" class=\"l\">", X0 - 8, y + 4);
	html(f, text);
	fputs("</text>\n", f);
}

static void lane_bg(FILE *f, double y, int i)
{
	fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%d\" fill=\"%s\"/>\n", X0,
		y - LANE / 2.0, X1 - X0, LANE, i % 2 ? "#fafafa" : "#f0f0f0");
}

static void time_label(int64_t ns, char *buf, size_t size, bool date)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, date ? "%Y-%m-%d %H:%M:%S" : "%H:%M:%S", &tm);
}

/* A series of [t_ns, value] points as a polyline scaled into one lane. */
static void series(FILE *f, const struct axis *a, struct json_object *pts, double y,
		   const char *color, const char *unit)
{
	double lo = INFINITY, hi = -INFINITY;
	char buf[64];

	for (size_t i = 0; i < len(pts); i++) {
		double v = json_object_get_double(at(at(pts, i), 1));

		lo = v < lo ? v : lo;
		hi = v > hi ? v : hi;
	}
	if (!len(pts)) {
		fprintf(f, "<text x=\"%d\" y=\"%.1f\" class=\"m\">no samples</text>\n", X0 + 4,
			y + 4);
		return;
	}
	if (hi - lo < 1e-9)
		hi = lo + 1;
	fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", color);
	for (size_t i = 0; i < len(pts); i++) {
		struct json_object *p = at(pts, i);
		double v = json_object_get_double(at(p, 1));

		fprintf(f, "%.1f,%.1f ", x_of(a, json_object_get_int64(at(p, 0))),
			y + LANE / 2.0 - 3 - (v - lo) / (hi - lo) * (LANE - 6));
	}
	fputs("\"/>\n", f);
	snprintf(buf, sizeof(buf), "%.3g to %.3g %s", lo, hi, unit);
	fprintf(f, "<text x=\"%d\" y=\"%.1f\" class=\"n\">", X1 - 4, y - LANE / 2.0 + 9);
	html(f, buf);
	fputs("</text>\n", f);
}

static void timeline(FILE *f, struct json_object *r)
{
	struct json_object *tl = get(r, "timeline"), *ev = get(tl, "events"),
			   *st = get(tl, "stall");
	struct axis a = { json_object_get_int64(get(tl, "t0_ns")),
			  json_object_get_int64(get(tl, "t1_ns")) };
	const char *kinds[EV__COUNT];
	int nk = 0, lanes, i;
	double y, h;
	char buf[64];

	if (a.t1 <= a.t0)
		a.t1 = a.t0 + 1000000000;
	/* Lanes: each event kind present, each vCPU that stalled, then the series and marks. */
	for (size_t e = 0; e < len(ev); e++) {
		const char *k = json_object_get_string(get(at(ev, e), "kind"));
		int j;

		for (j = 0; j < nk && strcmp(kinds[j], k); j++)
			;
		if (j == nk && nk < EV__COUNT)
			kinds[nk++] = k;
	}
	lanes = nk + (int)len(st) + 4;
	h = 40 + lanes * LANE + 30;
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"timeline\" width=\"%d\" height=\"%.0f\" "
		"viewBox=\"0 0 %d %.0f\" role=\"img\" aria-label=\"timeline\">\n"
		"<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%.0f\" fill=\"#ffffff\"/>\n",
		W, h, W, h, W, h);
	y = 40;
	i = 0;
	for (int k = 0; k < nk; k++, i++, y += LANE) {
		lane_bg(f, y, i);
		label(f, y, kinds[k]);
		for (size_t e = 0; e < len(ev); e++) {
			struct json_object *x = at(ev, e);
			int64_t n = json_object_get_int64(get(x, "count"));

			if (strcmp(json_object_get_string(get(x, "kind")), kinds[k]))
				continue;
			fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\"><title>",
				x_of(&a, json_object_get_int64(get(x, "t_ns"))), y,
				3 + fmin(6, log2((double)(n > 0 ? n : 1))),
				sev_color(json_object_get_string(get(x, "severity"))));
			snprintf(buf, sizeof(buf), "%lld x ", (long long)n);
			html(f, buf);
			html(f, kinds[k]);
			fputs(" (", f);
			html(f, json_object_get_string(get(x, "severity")));
			fputs(")</title></circle>\n", f);
		}
	}
	for (size_t v = 0; v < len(st); v++, i++, y += LANE) {
		struct json_object *pts = get(at(st, v), "points");
		double mx = 1;

		snprintf(buf, sizeof(buf), "vCPU %d stall (ms)",
			 json_object_get_int(get(at(st, v), "vcpu")));
		lane_bg(f, y, i);
		label(f, y, buf);
		for (size_t p = 0; p < len(pts); p++)
			mx = fmax(mx, json_object_get_double(at(at(pts, p), 1)));
		for (size_t p = 0; p < len(pts); p++) {
			double ms = json_object_get_double(at(at(pts, p), 1));
			double bh = fmax(2, log10(1 + ms) / log10(1 + mx) * (LANE - 4));

			fprintf(f,
				"<rect x=\"%.1f\" y=\"%.1f\" width=\"2\" height=\"%.1f\" fill=\"#6a1b9a\"><title>%.1f ms late</title></rect>\n",
				x_of(&a, json_object_get_int64(at(at(pts, p), 0))) - 1,
				y + LANE / 2.0 - 2 - bh, bh, ms);
		}
		snprintf(buf, sizeof(buf), "max %.1f ms", mx);
		fprintf(f, "<text x=\"%d\" y=\"%.1f\" class=\"n\">", X1 - 4, y - LANE / 2.0 + 9);
		html(f, buf);
		fputs("</text>\n", f);
	}
	lane_bg(f, y, i++);
	snprintf(buf, sizeof(buf), "host clock %s (ms)",
		 json_object_get_string(get(get(tl, "hostclock"), "clock")));
	label(f, y, buf);
	series(f, &a, get(get(tl, "hostclock"), "points"), y, "#00838f", "ms");
	y += LANE;
	lane_bg(f, y, i++);
	label(f, y, "CPUID exit (us)");
	series(f, &a, get(get(tl, "cpuid_latency"), "points"), y, "#2e7d32", "us");
	y += LANE;
	lane_bg(f, y, i++);
	label(f, y, "snapshots");
	for (size_t s = 0; s < len(get(tl, "snapshots")); s++) {
		struct json_object *x = at(get(tl, "snapshots"), s);

		fprintf(f,
			"<rect x=\"%.1f\" y=\"%.1f\" width=\"2\" height=\"%d\" fill=\"#37474f\"><title>snapshot %lld, x86-64-v%d, %d features</title></rect>\n",
			x_of(&a, json_object_get_int64(at(x, 0))) - 1, y - LANE / 2.0 + 3, LANE - 6,
			(long long)json_object_get_int64(at(x, 1)), json_object_get_int(at(x, 2)),
			json_object_get_int(at(x, 3)));
	}
	y += LANE;
	lane_bg(f, y, i++);
	label(f, y, "probe runs");
	for (size_t s = 0; s < len(get(tl, "probe_runs")); s++) {
		struct json_object *x = at(get(tl, "probe_runs"), s);
		int mism = json_object_get_int(at(x, 1));

		fprintf(f,
			"<rect x=\"%.1f\" y=\"%.1f\" width=\"2\" height=\"%d\" fill=\"%s\"><title>probe run: %d mismatch, %d shadow</title></rect>\n",
			x_of(&a, json_object_get_int64(at(x, 0))) - 1, y - LANE / 2.0 + 3, LANE - 6,
			mism ? "#c62828" : "#546e7a", mism, json_object_get_int(at(x, 2)));
	}
	y += LANE;
	/* When the CPU changed: a line through every lane, labelled below the verdict's. */
	if (get(get(r, "change"), "after")) {
		double cx = x_of(&a, json_object_get_int64(
					     get(get(get(r, "change"), "after"), "realtime_ns")));

		fprintf(f,
			"<line x1=\"%.1f\" y1=\"30\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#1565c0\" stroke-width=\"2\"/>\n"
			"<text x=\"%.1f\" y=\"30\" class=\"v\" text-anchor=\"end\" fill=\"#1565c0\">CPU changed </text>\n",
			cx, cx, y - LANE / 2.0, cx - 2);
	}
	/* The verdicts: a line through every lane; the last (the strongest) is labelled. */
	for (size_t v = 0; v < len(get(tl, "verdicts")); v++) {
		struct json_object *x = at(get(tl, "verdicts"), v);
		double vx = x_of(&a, json_object_get_int64(get(x, "t_ns")));

		fprintf(f,
			"<line x1=\"%.1f\" y1=\"16\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\" stroke-dasharray=\"4 2\"/>\n",
			vx, vx, y - LANE / 2.0,
			sev_color(json_object_get_string(get(x, "severity"))));
		if (v + 1 < len(get(tl, "verdicts")))
			continue;
		fprintf(f, "<text x=\"%.1f\" y=\"14\" class=\"v\">verdict: ", vx + 3);
		html(f, json_object_get_string(get(x, "confidence")));
		fputs("</text>\n", f);
	}
	/* The axis. */
	fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#000\"/>\n", X0,
		y - LANE / 2.0, X1, y - LANE / 2.0);
	for (int t = 0; t <= 5; t++) {
		int64_t ns = a.t0 + (a.t1 - a.t0) / 5 * t;
		double x = x_of(&a, ns);

		time_label(ns, buf, sizeof(buf), t == 0);
		fprintf(f,
			"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" class=\"t\" text-anchor=\"%s\">",
			x, y - LANE / 2.0, x, y - LANE / 2.0 + 5, x, y + 8,
			t == 0 ? "start" :
			t == 5 ? "end" :
				 "middle");
		html(f, buf);
		fputs(" UTC</text>\n", f);
	}
	fputs("</svg>\n", f);
}

int reporthtml_write(struct json_object *r, FILE *f)
{
	struct json_object *w = get(r, "window"), *v = get(r, "verdict"), *inc = get(r, "incident");
	char *text = NULL;
	size_t tlen = 0;
	FILE *m = open_memstream(&text, &tlen);

	if (!m)
		return -ENOMEM;
	reporttext_write(r, m);
	fclose(m);
	/* No external resource of any kind: one page, its style inline, no script. */
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'; img-src data:\">\n<title>cpudrift report</title>\n"
	      "<style>body{font-family:sans-serif;margin:16px;color:#212121}"
	      "svg text{font-family:sans-serif;font-size:11px}"
	      "svg .l{text-anchor:end}svg .n{text-anchor:end;fill:#555;font-size:9px}"
	      "svg .v{font-weight:bold;font-size:11px}svg .m{fill:#777;font-size:9px}"
	      "pre{white-space:pre-wrap;background:#f7f7f7;padding:12px;border:1px solid #ddd}"
	      ".banner{padding:8px 12px;border-left:6px solid #c62828;background:#fff3f3}"
	      ".ok{border-left-color:#2e7d32;background:#f3fff3}</style>\n</head><body>\n",
	      f);
	fputs("<h1>cpudrift report</h1>\n<p>Window: ", f);
	html(f, json_object_get_string(get(w, "since")));
	fputs(" to ", f);
	html(f, json_object_get_string(get(w, "until")));
	fputs("</p>\n", f);
	if (inc) {
		fputs("<p>Incident <b>", f);
		html(f, json_object_get_string(get(inc, "id")));
		fputs("</b> (", f);
		html(f, json_object_get_string(get(inc, "state")));
		fputs(")</p>\n", f);
	}
	if (v) {
		fputs("<p class=\"banner\"><b>Migration suspected, confidence ", f);
		html(f, json_object_get_string(get(v, "confidence")));
		fputs("</b> at ", f);
		html(f, json_object_get_string(get(v, "time")));
		fputs(": ", f);
		html(f, json_object_get_string(get(v, "summary")));
		fputs("</p>\n", f);
	} else {
		fputs("<p class=\"banner ok\">No migration verdict in this window.</p>\n", f);
	}
	fputs("<h2>Timeline</h2>\n", f);
	timeline(f, r);
	fputs("<h2>Report</h2>\n<pre>", f);
	/* reporttext escaped every string it printed: only its own newlines remain. */
	html_pre(f, text ? text : "");
	fputs("</pre>\n</body></html>\n", f);
	free(text);
	return ferror(f) ? -EIO : 0;
}
