/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Redaction for evidence bundles that leave the machine (`evidence --redact`): host and
 * user names become HOST, USER1, USER2, ... wherever they stand as a word (a path
 * component, a host name in a message, a user in a unit name), and every /home/NAME/
 * becomes /home/USER/ whatever NAME is.  Case-insensitive.
 */
#ifndef CPUDRIFT_REDACT_H
#define CPUDRIFT_REDACT_H

#include <stddef.h>

struct redactor;

/** NULL on allocation failure. */
struct redactor *redact__new(void);
void redact__free(struct redactor *r);

/** Replace @name (2 characters or more; shorter ones only inside /home/) with @with. */
int redact_add(struct redactor *r, const char *name, const char *with);

/**
 * @in (@len bytes) with every name replaced: a new NUL-terminated buffer (*@out_len bytes
 * before the NUL), NULL on allocation failure.  A NULL redactor copies.
 */
char *redact_text(const struct redactor *r, const char *in, size_t len, size_t *out_len);

#endif
