/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * CPUID dump formats: import (detected automatically) and export.
 *   libcpuid   - cpuid_tool --save: "basic_cpuid[1]=00100f62 00020800 ..." lines
 *   aida64     - AIDA64/InstLatx64: "CPUID 00000007: EAX-EBX-ECX-EDX [SL 01]" (subleaf hex)
 *   cpuid-r    - Debian `cpuid -r`: "   0x00000007 0x00: eax=0x... ebx=0x... ..."
 *   json       - cpudrift's own snapshot JSON
 * Parsers never trust their input: every malformed line is an error naming its number.
 */
#ifndef CPUDRIFT_DUMPFMT_H
#define CPUDRIFT_DUMPFMT_H

#include <stddef.h>
#include <stdio.h>

#include "snapshot.h"

struct errbuf;

enum dump_format {
	DUMP_UNKNOWN,
	DUMP_LIBCPUID,
	DUMP_AIDA64,
	DUMP_CPUID_R,
	DUMP_JSON,
};

/* Larger inputs are refused rather than parsed: no real dump comes close. */
#define DUMP_MAX_BYTES (64u << 20)

const char *dump_format_name(enum dump_format f);
enum dump_format dump_detect(const char *buf, size_t len);

/** Parse @buf (need not be NUL-terminated) and decode it.  @name is used in messages. */
int dump_import(const char *buf, size_t len, const char *name, struct snapshot **out,
		struct errbuf *err);
/** Read a file ("-" is stdin) and import it. */
int dump_import_file(const char *path, struct snapshot **out, struct errbuf *err);

/** Write vCPU @vcpu of @s in libcpuid's raw format (cpuid_deserialize_raw_data reads it). */
int dump_export_libcpuid(const struct snapshot *s, int vcpu, FILE *f);

#endif
