/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The human-readable form of a snapshot (the table `cpudrift snapshot` prints). */
#ifndef CPUDRIFT_SNAPPRINT_H
#define CPUDRIFT_SNAPPRINT_H

#include <stdio.h>

#include "core/snapshot.h"

void snapshot_print_table(const struct snapshot *s, FILE *f);
/** Print the names of @fs wrapped at 100 columns, each line indented by @indent spaces. */
void featset_print_wrapped(const struct featset *fs, int indent, FILE *f);

#endif
