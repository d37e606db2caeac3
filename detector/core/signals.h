/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The signals a synchronous CPU fault can raise (SIGILL, SIGSEGV, SIGBUS, SIGFPE, SIGTRAP)
 * and their names: one table for the configuration, the fault watcher and every printer.
 */
#ifndef CPUDRIFT_SIGNALS_H
#define CPUDRIFT_SIGNALS_H

#include <stddef.h>
#include <stdint.h>

/** "ILL", "SEGV", "BUS", "FPE", "TRAP" for the signals a fault can raise; NULL else. */
const char *signals_name(int sig);
/** Signal number for "ILL"/"SIGILL" (any case), or -1. */
int signals_lookup(const char *name);
/**
 * Parse a list such as "SIGILL,SIGSEGV" or "ILL SEGV" into a mask (1 << signo).  0, or
 * -EINVAL for an empty list or an unknown name (copied into @bad when not NULL).
 */
int signals_parse(const char *list, uint64_t *mask, char *bad, size_t badlen);
/** "SIGILL,SIGSEGV" for a mask. */
void signals_format(uint64_t mask, char *buf, size_t len);

#endif
