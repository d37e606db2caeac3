/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * CPUID dump formats: import (detected automatically) and export.
 *   libcpuid   - cpuid_tool --save / cpuid_serialize_raw_data: "basic_cpuid[1]=00100f62 ..."
 *                lines, several vCPUs separated by "_________________ Logical CPU #N ____..."
 *   aida64     - AIDA64/InstLatx64: "CPUID 00000007: EAX-EBX-ECX-EDX [SL 01]" (subleaf hex;
 *                libcpuid 0.6.2 reads it as decimal), vCPUs separated by "CPU#000 AffMask:",
 *                "------[ Logical CPU #0 ]------" or "CPUID Registers (CPU #1):" lines
 *   cpuid-r    - Debian `cpuid -r`: "CPU 0:" then "   0x00000007 0x00: eax=0x... ebx=0x..."
 *   json       - cpudrift's own snapshot JSON (snapjson.h)
 * Parsers never trust their input: every malformed line is an error "NAME:LINE: what".
 *
 * Known limit of libcpuid's raw format (0.6.2): fixed arrays of 32 basic and 32 extended
 * leaves, subleaf 0 only, except 8 subleaves of leaf 4 and 4 each of 0xB, 0x12, 0x14 and
 * 0x8000001D.  Leaf 7 and 0xD subleaves beyond 0, leaves above 0x1F / 0x8000001F and the
 * hypervisor range are absent from it, so a dump in that format decodes fewer features
 * (e.g. no avx_vnni from 7.1, no xsaveopt from 0xD.1).  Entries past the maximum leaf and
 * invalid subleaves (the arrays are always full) are dropped on import.
 */
#ifndef CPUDRIFT_DUMPFMT_H
#define CPUDRIFT_DUMPFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/snapshot.h"

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
/* Bounds against hostile input; real dumps stay far below. */
#define DUMP_MAX_VCPUS 4096
#define DUMP_MAX_LEAVES 4096 /* per vCPU */
#define DUMP_MAX_LINE 1024 /* text formats, bytes without the newline */

const char *dump_format_name(enum dump_format f);
/** Guess the format from the first lines; DUMP_UNKNOWN when nothing is recognised. */
enum dump_format dump_detect(const char *buf, size_t len);

/**
 * Parse @buf (need not be NUL-terminated) as format @f and decode it; s->source becomes
 * "import:<name> (<format>)".  0 or a negative errno with @err filled.
 */
int dump_parse(const char *buf, size_t len, enum dump_format f, const char *name,
	       struct snapshot **out, struct errbuf *err);
/** dump_detect() then dump_parse().  @name is used in messages. */
int dump_import(const char *buf, size_t len, const char *name, struct snapshot **out,
		struct errbuf *err);
/** Read a file ("-" is stdin) and import it. */
int dump_import_file(const char *path, struct snapshot **out, struct errbuf *err);

#endif
