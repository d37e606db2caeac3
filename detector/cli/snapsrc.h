/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Where `import` and `diff` read a snapshot from: a dump in any format dumpfmt.h reads, or
 * an evidence bundle: BUNDLE:before, BUNDLE:after, or BUNDLE alone (its "after").
 */
#ifndef CPUDRIFT_SNAPSRC_H
#define CPUDRIFT_SNAPSRC_H

#include "core/snapshot.h"

struct errbuf;

/** 0 and *@out, or -errno with @err naming the source and the problem. */
int snapsrc_load(const char *what, struct snapshot **out, struct errbuf *err);

/** True when @path is an evidence bundle (a gzip file): `diff BUNDLE` compares its two. */
bool snapsrc_is_bundle(const char *path);

#endif
