/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The parser core the text dump formats share (dumpfmt.c, lcdump.c): the parser state,
 * errors that name the line, and the vCPU/leaf builder that enforces the bounds.
 */
#ifndef CPUDRIFT_DUMPPARSE_H
#define CPUDRIFT_DUMPPARSE_H

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "formats/dumpfmt.h"

/* vCPU numbers in headers above this are refused: no machine has that many. */
#define MAX_CPU_NO 65535
#define LC_SEPARATOR "_________________"

struct parser {
	const char *buf, *name;
	size_t len, pos;
	int lineno;
	char line[DUMP_MAX_LINE + 1];
	struct errbuf *err;

	struct snapshot *s;
	int cur; /* index of the vCPU being filled, -1 before the first */
	int cur_line; /* line where it started */
	int max_cpu;
	uint8_t used[(MAX_CPU_NO + 1) / 8];
	struct vcpu_dump lc; /* libcpuid: (array index, entry index) of the current vCPU */
	int (*finish)(struct parser *p);
};

/* Fill p->err with "NAME:LINE: what"; returns -EINVAL. */
int dumpparse_error_at(struct parser *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define perr(p, ...) dumpparse_error_at(p, (p)->lineno, __VA_ARGS__)

/* Start a vCPU numbered @cpu (-1: next free); a header right after a header renames. */
int dumpparse_start_vcpu(struct parser *p, long cpu);
/* Store into @v; a repeated leaf must repeat its value. */
int dumpparse_put_leaf(struct parser *p, struct vcpu_dump *v, uint32_t leaf, uint32_t sub,
		       const uint32_t r[4]);

/* Close the vCPU being filled (its format's finish hook, then the leaf-0 check). */
int dumpparse_finish_vcpu(struct parser *p);

static inline int hexval(int c)
{
	return isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
}

/* 1 to @maxd hex digits; false when none or more than @maxd. */
static inline bool scan_hex(const char **sp, int maxd, uint32_t *out)
{
	const char *s = *sp;
	uint32_t v = 0;
	int n = 0;

	for (; isxdigit((unsigned char)*s); s++, n++) {
		if (n == maxd)
			return false;
		v = v << 4 | hexval(*s);
	}
	if (!n)
		return false;
	*sp = s;
	*out = v;
	return true;
}

static inline bool scan_dec(const char **sp, uint32_t max, uint32_t *out)
{
	const char *s = *sp;
	uint64_t v = 0;

	if (!isdigit((unsigned char)*s))
		return false;
	for (; isdigit((unsigned char)*s); s++) {
		v = v * 10 + (*s - '0');
		if (v > max)
			return false;
	}
	*sp = s;
	*out = (uint32_t)v;
	return true;
}

static inline bool eat(const char **sp, const char *lit)
{
	size_t n = strlen(lit);

	if (strncmp(*sp, lit, n))
		return false;
	*sp += n;
	return true;
}

static inline const char *skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

#endif
