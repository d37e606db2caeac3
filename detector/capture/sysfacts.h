/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Facts about this machine for an evidence bundle: kernel release and command line,
 * hypervisor, DMI vendor and product (never serial numbers, UUIDs or asset tags), boot ID,
 * uptime, clocksource; and the names `--redact` must hide.  Reads /proc, /sys, /etc.
 * No process environment or command line is ever read.
 */
#ifndef CPUDRIFT_SYSFACTS_H
#define CPUDRIFT_SYSFACTS_H

#include <json-c/json.h>

/** The facts as JSON, read under @root ("" for this machine; tests pass a fake tree). */
struct json_object *sysfacts_collect(const char *root);

/**
 * This machine's private names, each handed to @cb with its replacement: the host name
 * (full and short) as HOST, and every login user (uid 1000 and above, nobody excepted) as
 * USER1, USER2, ...  0, or the first non-zero @cb return.
 */
int sysfacts_private_names(const char *root,
			   int (*cb)(const char *name, const char *with, void *ctx), void *ctx);

#endif
