/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The evidence store's own event (analysis), its one producer: store.recovered says that
 * the database was corrupt at start, where it was moved, and whether the baseline was read
 * back from it or the next snapshot stands in as a provisional one.
 */
#ifndef CPUDRIFT_STOREEVENT_H
#define CPUDRIFT_STOREEVENT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/event.h"

struct store_recovered {
	const char *db; /* the database's path */
	const char *moved_to; /* where the corrupt file went */
	const char *why; /* what was wrong with it */
	bool baseline_kept; /* its baseline was read back */
	int64_t baseline_real_ns; /* when that baseline was taken */
};

/** A store.recovered event (a warning), or NULL when out of memory. */
struct event *storeevent_recovered(const struct store_recovered *r);

#endif
