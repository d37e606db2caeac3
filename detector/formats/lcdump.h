/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libcpuid's raw dump format (cpuid_serialize_raw_data / cpuid_tool --save, libcpuid 0.6.2):
 * the line parser dumpfmt.c calls for it, and the export that cpuid_deserialize_raw_data()
 * and `cpuid_tool --load` read back.
 */
#ifndef CPUDRIFT_LCDUMP_H
#define CPUDRIFT_LCDUMP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/snapshot.h"
#include "formats/dumpparse.h"

/** True when a line starts libcpuid's format. */
bool lcdump_starts(const char *s);
/** Parse one line of it into @p. */
int lcdump_line(struct parser *p);
/** The parser's finish hook for a vCPU of that format. */
int lcdump_finish(struct parser *p);

/**
 * Write vCPU @vcpu (an index into s->vcpus) of @s in libcpuid's raw format; @vcpu -1 writes
 * every vCPU in the multi-CPU form of cpuid_serialize_all_raw_data().  0 or a negative errno.
 */
int lcdump_export(const struct snapshot *s, int vcpu, FILE *f);

/** True when libcpuid's raw format carries (@leaf, @subleaf) of @v through a round trip. */
bool lcdump_holds(const struct vcpu_dump *v, uint32_t leaf, uint32_t subleaf);

#endif
