// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * CPUID dump import and export (pure: never executes CPUID).  Text formats share one
 * line reader that refuses NUL bytes, control characters and overlong lines, and one
 * vCPU/leaf builder that enforces the bounds, so every parser fails the same way:
 * "NAME:LINE: what".
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "analysis/decode.h"
#include "formats/dumpfmt.h"
#include "formats/dumpparse.h"
#include "formats/lcdump.h"
#include "core/log.h"
#include "formats/snapjson.h"
#include "core/snapshot.h"

static const char *const format_names[] = {
	[DUMP_UNKNOWN] = "unknown", [DUMP_LIBCPUID] = "libcpuid", [DUMP_AIDA64] = "aida64",
	[DUMP_CPUID_R] = "cpuid-r", [DUMP_JSON] = "json",
};

const char *dump_format_name(enum dump_format f)
{
	if ((unsigned)f >= sizeof(format_names) / sizeof(format_names[0]))
		return "unknown";
	return format_names[f];
}

/* Next line into p->line, NUL-terminated, CR and trailing blanks removed: 1, 0 at end, <0. */
static int next_line(struct parser *p)
{
	const char *s = p->buf + p->pos, *nl;
	size_t n;

	if (p->pos >= p->len)
		return 0;
	nl = memchr(s, '\n', p->len - p->pos);
	n = nl ? (size_t)(nl - s) : p->len - p->pos;
	p->pos += n + !!nl;
	p->lineno++;
	if (n > DUMP_MAX_LINE)
		return perr(p, "line longer than %d bytes", DUMP_MAX_LINE);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (!c)
			return perr(p, "NUL byte in text dump");
		/* UTF-8 in brand strings and junk lines is fine; control characters are not. */
		if ((c < 0x20 && c != '\t' && !(c == '\r' && i == n - 1)) || c == 0x7f)
			return perr(p, "control character 0x%02x", c);
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	memcpy(p->line, s, n);
	p->line[n] = 0;
	return 1;
}

/* Leaf of the current vCPU; @sub -1 is "the next subleaf not seen yet" (untagged repeats). */
static int add_leaf(struct parser *p, uint32_t leaf, long sub, const uint32_t r[4])
{
	struct vcpu_dump *v;
	int ret;

	if (p->cur < 0) {
		ret = dumpparse_start_vcpu(p, -1);
		if (ret)
			return ret;
	}
	v = &p->s->vcpus[p->cur];
	if (sub < 0) {
		sub = 0;
		while (vcpu_dump_get(v, leaf, (uint32_t)sub))
			sub++;
	}
	return dumpparse_put_leaf(p, v, leaf, (uint32_t)sub, r);
}

/* --- AIDA64 / InstLatx64 ---------------------------------------------------------------- */

/* A vCPU header: "CPU#000 AffMask: 0x..", "------[ ... Logical CPU #0 ... ]------",
 * "CPUID Registers (CPU #1):".  1 with *cpu set, 0 if not a header, <0 malformed. */
static int aida_header(struct parser *p, uint32_t *cpu)
{
	const char *s = p->line, *h;

	if (eat(&s, "CPU#")) {
		if (!scan_dec(&s, MAX_CPU_NO, cpu) || !eat(&s, " AffMask:"))
			return perr(p, "malformed CPU#nnn AffMask line");
		return 1;
	}
	if (!strncmp(s, "------[", 7) && (h = strstr(s, "Logical CPU #"))) {
		s = h + strlen("Logical CPU #");
		if (!scan_dec(&s, MAX_CPU_NO, cpu))
			return perr(p, "malformed Logical CPU header");
		return 1;
	}
	if (eat(&s, "CPUID Registers (CPU #")) {
		if (!scan_dec(&s, MAX_CPU_NO, cpu))
			return perr(p, "malformed CPUID Registers header");
		return 1;
	}
	return 0;
}

/* "CPUID" blanks, hex digits, then ':' or a blank: a register line that must parse. */
static bool aida_is_cpuid(const char *s)
{
	if (strncmp(s, "CPUID", 5) || (s[5] != ' ' && s[5] != '\t'))
		return false;
	s = skip_ws(s + 5);
	if (!isxdigit((unsigned char)*s))
		return false;
	while (isxdigit((unsigned char)*s))
		s++;
	return *s == ':' || *s == ' ' || *s == '\t' || !*s;
}

static int aida_line(struct parser *p)
{
	const char *s = p->line;
	uint32_t leaf, cpu, sub, r[4];
	long subleaf = -1;
	int ret = aida_header(p, &cpu);

	if (ret)
		return ret < 0 ? ret : dumpparse_start_vcpu(p, cpu);
	if (!aida_is_cpuid(s))
		return 0; /* report text around the dump */
	s = skip_ws(s + 5);
	if (!scan_hex(&s, 8, &leaf))
		return perr(p, "bad leaf number");
	eat(&s, ":");
	for (int i = 0; i < 4; i++) {
		if (i && !eat(&s, "-"))
			return perr(p, "expected EAX-EBX-ECX-EDX");
		if (!i)
			s = skip_ws(s);
		if (!scan_hex(&s, 8, &r[i]))
			return perr(p, "bad hex register %d", i + 1);
	}
	if (*s && *s != ' ' && *s != '\t')
		return perr(p, "trailing text after EDX");
	s = skip_ws(s);
	/* The subleaf is hex: "[SL 0A]" is subleaf 10 (libcpuid 0.6.2 reads it as decimal). */
	if (eat(&s, "[SL")) {
		s = skip_ws(s);
		if (!scan_hex(&s, 8, &sub) || !eat(&s, "]"))
			return perr(p, "malformed [SL nn] subleaf");
		subleaf = sub;
	}
	return add_leaf(p, leaf, subleaf, r);
}

/* --- Debian `cpuid -r` ------------------------------------------------------------------ */

static int cpuidr_line(struct parser *p)
{
	static const char *const regs[] = { "eax=0x", "ebx=0x", "ecx=0x", "edx=0x" };
	const char *s = p->line;
	uint32_t cpu, leaf, sub, r[4];

	if (!*s)
		return 0;
	if (eat(&s, "CPU")) {
		if (!strcmp(s, ":"))
			return dumpparse_start_vcpu(p, -1);
		if (!eat(&s, " ") || !scan_dec(&s, MAX_CPU_NO, &cpu) || strcmp(s, ":"))
			return perr(p, "malformed CPU header");
		return dumpparse_start_vcpu(p, cpu);
	}
	s = skip_ws(s);
	if (!eat(&s, "0x") || !scan_hex(&s, 8, &leaf))
		return perr(p, "not a `cpuid -r` line");
	s = skip_ws(s);
	if (!eat(&s, "0x") || !scan_hex(&s, 8, &sub) || !eat(&s, ":"))
		return perr(p, "bad subleaf");
	for (int i = 0; i < 4; i++) {
		s = skip_ws(s);
		if (!eat(&s, regs[i]) || !scan_hex(&s, 8, &r[i]))
			return perr(p, "bad or missing %.3s", regs[i]);
	}
	if (*s)
		return perr(p, "trailing text after edx");
	return add_leaf(p, leaf, sub, r);
}

/* --- JSON ---------------------------------------------------------------------------- */

static int line_of(const char *buf, size_t off)
{
	int n = 1;

	for (size_t i = 0; i < off; i++)
		n += buf[i] == '\n';
	return n;
}

static int parse_json(const char *buf, size_t len, const char *name, struct snapshot **out,
		      struct errbuf *err)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = NULL;
	enum json_tokener_error jerr;
	const char *nul = memchr(buf, 0, len);
	size_t end;
	int ret = -EINVAL;

	if (!tok)
		return -ENOMEM;
	if (nul) {
		errbuf_set(err, "%s:%d: NUL byte in JSON", name, line_of(buf, nul - buf));
		goto out;
	}
	o = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue) {
		errbuf_set(err, "%s:%d: JSON ends too early", name, line_of(buf, len));
		goto out;
	}
	if (jerr != json_tokener_success) {
		errbuf_set(err, "%s:%d: %s", name, line_of(buf, end),
			   json_tokener_error_desc(jerr));
		goto out;
	}
	for (size_t i = end; i < len; i++) {
		if (!isspace((unsigned char)buf[i])) {
			errbuf_set(err, "%s:%d: text after the JSON object", name, line_of(buf, i));
			goto out;
		}
	}
	if (!json_object_is_type(o, json_type_object)) {
		errbuf_set(err, "%s:1: not a snapshot JSON object", name);
		goto out;
	}
	ret = snapshot_from_json(o, out, err);
	if (ret) {
		char msg[sizeof(err->msg)];

		snprintf(msg, sizeof(msg), "%s", err ? err->msg : "");
		errbuf_set(err, "%s: %s", name, msg);
	}
out:
	json_object_put(o);
	json_tokener_free(tok);
	return ret;
}

/* --- detection and import ------------------------------------------------------------- */

enum dump_format dump_detect(const char *buf, size_t len)
{
	struct parser p = { .buf = buf, .len = len, .name = "" };
	size_t i = 0;

	while (i < len && isspace((unsigned char)buf[i]))
		i++;
	if (i < len && buf[i] == '{')
		return DUMP_JSON;
	/* Report text may precede an AIDA64 dump; the others start with their own lines. */
	for (int n = 0; n < 256 && next_line(&p) > 0; n++) {
		const char *s = skip_ws(p.line);
		uint32_t x;

		if (lcdump_starts(s))
			return DUMP_LIBCPUID;
		if (!strcmp(s, "CPU:") ||
		    (eat(&s, "CPU ") && scan_dec(&s, UINT32_MAX, &x) && !strcmp(s, ":")))
			return DUMP_CPUID_R;
		s = skip_ws(p.line);
		if (eat(&s, "0x") && scan_hex(&s, 8, &x) && eat(&s, " 0x"))
			return DUMP_CPUID_R;
		if (aida_is_cpuid(p.line) || aida_header(&p, &x) > 0)
			return DUMP_AIDA64;
	}
	return DUMP_UNKNOWN;
}

int dump_parse(const char *buf, size_t len, enum dump_format f, const char *name,
	       struct snapshot **out, struct errbuf *err)
{
	int (*line_fn)(struct parser *) = NULL;
	struct parser *p;
	char msg[sizeof(err->msg)];
	int ret;

	*out = NULL;
	if (len > DUMP_MAX_BYTES) {
		errbuf_set(err, "%s: %zu bytes, more than the %u MiB a dump may have", name, len,
			   DUMP_MAX_BYTES >> 20);
		return -EFBIG;
	}
	switch (f) {
	case DUMP_JSON:
		ret = parse_json(buf, len, name, out, err);
		if (!ret)
			snprintf((*out)->source, sizeof((*out)->source), "import:%s (json)", name);
		return ret;
	case DUMP_LIBCPUID:
		line_fn = lcdump_line;
		break;
	case DUMP_AIDA64:
		line_fn = aida_line;
		break;
	case DUMP_CPUID_R:
		line_fn = cpuidr_line;
		break;
	default:
		errbuf_set(err,
			   "%s:1: unrecognised dump format (expected libcpuid raw, AIDA64, "
			   "`cpuid -r` or cpudrift JSON)",
			   name);
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	*p = (struct parser){ .buf = buf,
			      .len = len,
			      .name = name,
			      .err = err,
			      .cur = -1,
			      .max_cpu = -1,
			      .finish = f == DUMP_LIBCPUID ? lcdump_finish : NULL };
	p->s = snapshot__new();
	ret = p->s ? 0 : -ENOMEM;
	while (!ret && (ret = next_line(p)) > 0)
		ret = line_fn(p);
	if (!ret)
		ret = dumpparse_finish_vcpu(p);
	if (!ret && !p->s->nvcpus)
		ret = dumpparse_error_at(p, p->lineno ?: 1, "no CPUID leaf in this %s dump",
					 dump_format_name(f));
	if (!ret) {
		ret = decode_snapshot(p->s, err);
		if (ret) {
			snprintf(msg, sizeof(msg), "%s", err ? err->msg : "");
			errbuf_set(err, "%s: %s", name, msg);
		}
	}
	if (!ret) {
		snprintf(p->s->source, sizeof(p->s->source), "import:%s (%s)", name,
			 dump_format_name(f));
		*out = p->s;
		p->s = NULL;
	}
	snapshot__free(p->s);
	free(p->lc.leaves);
	free(p);
	return ret;
}

int dump_import(const char *buf, size_t len, const char *name, struct snapshot **out,
		struct errbuf *err)
{
	if (len > DUMP_MAX_BYTES)
		return dump_parse(buf, len, DUMP_UNKNOWN, name, out, err);
	return dump_parse(buf, len, dump_detect(buf, len), name, out, err);
}

int dump_import_file(const char *path, struct snapshot **out, struct errbuf *err)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	size_t len = 0, cap = 0;
	char *buf = NULL;
	int ret = 0;

	*out = NULL;
	if (!f) {
		ret = -errno;
		errbuf_set(err, "%s: %s", path, strerror(errno));
		return ret;
	}
	for (;;) {
		if (len == cap) {
			char *nb;

			/* One byte past the limit is enough to know it is too large. */
			if (cap > DUMP_MAX_BYTES) {
				errbuf_set(err, "%s: larger than the %u MiB a dump may have", path,
					   DUMP_MAX_BYTES >> 20);
				ret = -EFBIG;
				goto out;
			}
			cap = cap ? cap * 2 : 65536;
			if (cap > DUMP_MAX_BYTES + 1ul)
				cap = DUMP_MAX_BYTES + 1ul;
			nb = realloc(buf, cap);
			if (!nb) {
				ret = -ENOMEM;
				errbuf_set(err, "%s: out of memory", path);
				goto out;
			}
			buf = nb;
		}
		size_t n = fread(buf + len, 1, cap - len, f);

		len += n;
		if (n)
			continue;
		if (ferror(f)) {
			ret = -EIO;
			errbuf_set(err, "%s: read error", path);
			goto out;
		}
		break;
	}
	ret = dump_import(buf ? buf : "", len, path, out, err);
out:
	free(buf);
	if (f != stdin)
		fclose(f);
	return ret;
}
