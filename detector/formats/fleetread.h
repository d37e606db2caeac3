/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reading a fleet's inputs: many snapshot or dump files, decoded on several threads (a
 * large snapshot is mostly JSON parsing), each kept only as its fleet summary.
 */
#ifndef CPUDRIFT_FLEETREAD_H
#define CPUDRIFT_FLEETREAD_H

#include <stddef.h>

#include "analysis/fleet.h"

struct errbuf;

/* Threads at most, whatever the machine has. */
#define FLEETREAD_MAX_THREADS 8

/**
 * Import @paths[0..n) (any format `import` reads) into @f, in that order.  One unreadable
 * file is an error that names it (the first such file in @paths order).  @threads 0: one
 * per online CPU, up to FLEETREAD_MAX_THREADS.  0 or a negative errno with @err filled.
 */
int fleet_read_files(struct fleet *f, char *const *paths, size_t n, int threads,
		     struct errbuf *err);

#endif
