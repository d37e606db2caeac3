// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/escape.h"

/*
 * Length of the valid UTF-8 sequence at @s (2 to 4), its code point in *cp; 0 when @s
 * does not start one (overlong forms and surrogates are invalid, as in RFC 3629).
 */
static int utf8_seq(const unsigned char *s, uint32_t *cp)
{
	int n;
	uint32_t c;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	for (int i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Code points a terminal acts on or that reorder what follows them. */
static int is_hostile(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

size_t str_escape(char *dst, size_t size, const char *src)
{
	const unsigned char *s = (const unsigned char *)(src ? src : "");
	size_t len = 0;
	char tmp[12];

	while (*s) {
		const char *piece = tmp;
		size_t plen;
		uint32_t cp;
		int n = 1;

		if (*s == '\\') {
			piece = "\\\\";
		} else if (*s == '\n') {
			piece = "\\n";
		} else if (*s == '\t') {
			piece = "\\t";
		} else if (*s == '\r') {
			piece = "\\r";
		} else if (*s == 0x1b) {
			piece = "\\e";
		} else if (*s < 0x20 || *s == 0x7f) {
			snprintf(tmp, sizeof(tmp), "\\x%02x", *s);
		} else if (*s < 0x80) {
			tmp[0] = (char)*s;
			tmp[1] = 0;
		} else if ((n = utf8_seq(s, &cp)) == 0) {
			n = 1;
			snprintf(tmp, sizeof(tmp), "\\x%02x", *s);
		} else if (is_hostile(cp)) {
			snprintf(tmp, sizeof(tmp), "\\u%04x", (unsigned)cp);
		} else {
			memcpy(tmp, s, (size_t)n);
			tmp[n] = 0;
		}
		plen = strlen(piece);
		/* Whole pieces only: a cut escape or UTF-8 sequence would be a new hazard. */
		if (size && len + plen < size)
			memcpy(dst + len, piece, plen);
		else if (size && len < size)
			size = len + 1;
		len += plen;
		s += n;
	}
	if (size)
		dst[len < size ? len : size - 1] = 0;
	return len;
}

#define RING 16

const char *str_esc(const char *src)
{
	static char *buf[RING];
	static size_t cap[RING];
	static unsigned next;
	unsigned i = next++ % RING;
	size_t need = str_escape(NULL, 0, src) + 1;

	if (need > cap[i]) {
		char *p = realloc(buf[i], need);

		if (!p)
			return "?";
		buf[i] = p;
		cap[i] = need;
	}
	str_escape(buf[i], cap[i], src);
	return buf[i];
}
