// SPDX-License-Identifier: GPL-2.0-or-later
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "formats/redact.h"

#define MAX_NAMES 256

struct redactor {
	struct {
		char *name, *with;
		size_t len;
	} v[MAX_NAMES];
	size_t n;
};

struct redactor *redact__new(void)
{
	return calloc(1, sizeof(struct redactor));
}

void redact__free(struct redactor *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].name);
		free(r->v[i].with);
	}
	free(r);
}

int redact_add(struct redactor *r, const char *name, const char *with)
{
	size_t len = strlen(name);

	if (len < 2)
		return 0;
	for (size_t i = 0; i < r->n; i++)
		if (!strcasecmp(r->v[i].name, name))
			return 0;
	if (r->n == MAX_NAMES)
		return -ENOSPC;
	r->v[r->n].name = strdup(name);
	r->v[r->n].with = strdup(with);
	if (!r->v[r->n].name || !r->v[r->n].with) {
		free(r->v[r->n].name);
		free(r->v[r->n].with);
		return -ENOMEM;
	}
	r->v[r->n].len = len;
	/* Longest first: "vm.example.com" before "vm". */
	for (size_t i = r->n; i > 0 && r->v[i].len > r->v[i - 1].len; i--) {
		__typeof__(r->v[0]) t = r->v[i];

		r->v[i] = r->v[i - 1];
		r->v[i - 1] = t;
	}
	r->n++;
	return 0;
}

/* Characters that continue a word (a name, a host label). */
static bool wordch(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-';
}

struct buf {
	char *p;
	size_t n, cap;
	bool oom;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->n + n + 1) * 2;
		char *p = realloc(b->p, cap);

		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

char *redact_text(const struct redactor *r, const char *in, size_t len, size_t *out_len)
{
	struct buf b = { 0 };
	size_t i = 0, from = 0;

	b.cap = len + len / 8 + 64;
	b.p = malloc(b.cap);
	if (!b.p)
		return NULL;
	while (i < len) {
		size_t m = 0;
		const char *with = NULL;

		/* /home/NAME -> /home/USER, whatever NAME is. */
		if (in[i] == '/' && len - i > 6 && !strncmp(in + i, "/home/", 6) &&
		    wordch(in[i + 6]) && (!i || in[i - 1] != '/')) {
			size_t e = i + 6;

			while (e < len && in[e] != '/' && in[e] != '"' &&
			       !isspace((unsigned char)in[e]))
				e++;
			put(&b, in + from, i - from);
			put(&b, "/home/USER", 10);
			i = from = e;
			continue;
		}
		if (r && (!i || !wordch(in[i - 1])))
			for (size_t k = 0; k < r->n; k++) {
				size_t n = r->v[k].len;

				if (len - i >= n && !strncasecmp(in + i, r->v[k].name, n) &&
				    (i + n == len || !wordch(in[i + n]))) {
					m = n;
					with = r->v[k].with;
					break;
				}
			}
		if (m) {
			put(&b, in + from, i - from);
			put(&b, with, strlen(with));
			i = from = i + m;
			continue;
		}
		i++;
	}
	put(&b, in + from, len - from);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	b.p[b.n] = 0;
	if (out_len)
		*out_len = b.n;
	return b.p;
}
