/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The human-readable forms of fleet reports, pre-flight checks and the model table. */
#ifndef CPUDRIFT_FLEETPRINT_H
#define CPUDRIFT_FLEETPRINT_H

#include <stdio.h>

#include "analysis/fleet.h"
#include "analysis/models.h"
#include "analysis/preflight.h"

/** Print @s with control characters and backslashes as \xNN (file names are untrusted). */
void print_escaped(FILE *f, const char *s);
/** The table `cpudrift fleet` prints. */
void fleet_print(const struct fleet_report *r, FILE *f);
/** The feature part of `cpudrift check`: lost (by scope), the level, gained. */
void preflight_print(const struct preflight *p, const char *vm, const char *target, FILE *f);
/**
 * The "at_risk" object (analysis/atrisk.h) as `check` prints it: the groups with their
 * remedy, then the first @shown processes with the reason.  NULL: none at risk.
 */
void atrisk_print(struct json_object *at_risk, size_t shown, FILE *f);
/** One line per model version (`cpudrift models`). */
void models_print_list(FILE *f);
/** One model and its features (`cpudrift models NAME`). */
void models_print_one(const struct named_model *m, FILE *f);

#endif
