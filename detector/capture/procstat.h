/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Is a process still the one we saw?  /proc/PID/stat's state and start time. */
#ifndef CPUDRIFT_PROCSTAT_H
#define CPUDRIFT_PROCSTAT_H

#include <stdbool.h>
#include <stdint.h>

/**
 * Read /proc/@pid/stat under @proc ("/proc"): its state letter and its start time
 * (CLOCK_BOOTTIME ns, clock-tick resolution).  0 or -errno (-ENOENT: gone).
 */
int procstat_read(const char *proc, int pid, char *state, int64_t *start_boot_ns);

/**
 * True when @pid runs and is the process that started at @start_boot_ns (0: any start;
 * PIDs are reused, so a different start is another process).  Zombies and exiting
 * processes (state Z or X) are not alive.
 */
bool procstat_alive(const char *proc, int pid, int64_t start_boot_ns);

#endif
