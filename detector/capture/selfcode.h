/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Where this running cpudrift binary keeps its instruction probes (capture): the file
 * (device, inode) of the executable and the range of file offsets of the probe section.
 * A fault whose IP lies there, in whichever process, is a probe of this cpudrift; the
 * same bytes in any other file are not.  The range is also given as offsets from the start
 * of the executable's code, for faults whose mapping the kernel could not read.
 */
#ifndef CPUDRIFT_SELFCODE_H
#define CPUDRIFT_SELFCODE_H

#include "core/fault.h"

/** The probe code of the running executable.  0, or a negative errno. */
int selfcode_probe_range(struct code_range *out);

#endif
