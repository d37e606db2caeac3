// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "capture/selfcode.h"

/* Defined by the linker for the section probes/probes.c puts the probe code in. */
extern const char __start_cpudrift_probes[], __stop_cpudrift_probes[];

/*
 * The file, as the kernel names it (the superblock's device, the inode: what the fault
 * watcher reads from the VMA, which on btrfs differs from stat's st_dev), and the file
 * offset of @addr, from /proc/self/maps.
 */
static int where(const void *addr, struct code_range *r, uint64_t *off)
{
	FILE *fp = fopen("/proc/self/maps", "re");
	char line[4352];
	int ret = -ENOENT;

	if (!fp)
		return -errno;
	while (fgets(line, sizeof(line), fp)) {
		unsigned long long start, end, pgoff, ino;
		unsigned major, minor;

		if (sscanf(line, "%llx-%llx %*4s %llx %x:%x %llu", &start, &end, &pgoff, &major,
			   &minor, &ino) != 6 ||
		    (uintptr_t)addr < start || (uintptr_t)addr >= end)
			continue;
		if (ino) {
			r->major = major;
			r->minor = minor;
			r->ino = ino;
			*off = pgoff + ((uintptr_t)addr - start);
			ret = 0;
		}
		break;
	}
	fclose(fp);
	return ret;
}

/* mm->start_code of this process: /proc/self/stat field 26. */
static int start_code(uint64_t *out)
{
	FILE *fp = fopen("/proc/self/stat", "re");
	char buf[1024], *p;
	size_t n;

	if (!fp)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: the fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -EIO;
	p++;
	for (int field = 3; field <= 26; field++) {
		p += strspn(p, " ");
		if (field == 26) {
			unsigned long long v;

			if (sscanf(p, "%llu", &v) != 1)
				return -EIO;
			*out = v;
			return 0;
		}
		p += strcspn(p, " ");
	}
	return -EIO;
}

int selfcode_probe_range(struct code_range *out)
{
	/* Addresses, not arrays: the linker's symbols bound one section between them. */
	uintptr_t first = (uintptr_t)__start_cpudrift_probes;
	uintptr_t stop = (uintptr_t)__stop_cpudrift_probes;
	struct code_range last;
	uint64_t start, end, code;
	int ret;

	memset(out, 0, sizeof(*out));
	if (stop <= first)
		return -ENOENT;
	ret = start_code(&code);
	if (ret)
		return ret;
	/* The end is one past the offset of the section's last byte. */
	ret = where((const void *)first, out, &start);
	if (!ret)
		ret = where((const void *)(stop - 1), &last, &end);
	if (!ret && (last.ino != out->ino || last.major != out->major || last.minor != out->minor))
		ret = -EINVAL;
	if (ret) {
		memset(out, 0, sizeof(*out));
		return ret;
	}
	out->start = start;
	out->end = end + 1;
	/* The same range from the start of the executable's code: the layout is the binary's. */
	if (code && first >= code) {
		out->code_start = first - code;
		out->code_end = stop - code;
	}
	return 0;
}
