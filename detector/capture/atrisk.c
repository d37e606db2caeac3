// SPDX-License-Identifier: GPL-2.0-or-later
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "capture/atrisk.h"
#include "capture/procfile.h"
#include "core/event.h"

#define PF_KTHREAD 0x00200000 /* include/linux/sched.h */
#define HWCAPS_DIR "/glibc-hwcaps/x86-64-v"

/* Fields 3.. of /proc/PID/stat, after the comm that may hold spaces and parentheses. */
int atrisk_parse_stat(char *buf, struct atrisk_proc *p, unsigned long *flags)
{
	char *open, *close, *tok, *save;
	unsigned long long start = 0;
	int field = 3;
	double ns;

	open = strchr(buf, '(');
	close = strrchr(buf, ')');
	if (!open || !close || close < open)
		return -EINVAL;
	snprintf(p->comm, sizeof(p->comm), "%.*s", (int)(close - open - 1), open + 1);
	*flags = 0;
	for (tok = strtok_r(close + 1, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save), field++) {
		if (field == 9)
			*flags = strtoul(tok, NULL, 10);
		if (field == 22) {
			start = strtoull(tok, NULL, 10);
			break;
		}
	}
	if (field != 22)
		return -EINVAL;
	/*
	 * A start of "-1" (strtoull wraps it to 2^64-1) or any count of ticks past 2^63 ns made
	 * the conversion to int64_t undefined (found by fuzzing, tests/fixtures/fuzz/proc_stat):
	 * no process started 292 years after boot, so such a line is malformed.
	 */
	ns = start * (1000000000.0 / sysconf(_SC_CLK_TCK));
	if (!(ns >= 0 && ns < 0x1p63))
		return -EINVAL;
	p->start_boot_ns = (int64_t)ns;
	return 0;
}

static int read_stat(const char *proc, int pid, struct atrisk_proc *p, unsigned long *flags)
{
	char path[64], buf[1024];
	size_t len;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%d/stat", proc, pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = 0;
	return atrisk_parse_stat(buf, p, flags);
}

int atrisk_maps_level(FILE *f)
{
	char line[4096];
	int level = 0;

	/* Whole lines only (procfile.h): the tail of a long path is not a mapping line. */
	while (procfile_line(f, line, sizeof(line)) >= 0) {
		/*
		 * Every occurrence counts, not only the first: a path naming a lower level before
		 * the directory it maps from (".../x86-64-v1000 .../glibc-hwcaps/x86-64-v3/libz.so",
		 * found by fuzzing, tests/fixtures/fuzz/proc_maps) hid the process's real level.
		 */
		for (const char *s = line; (s = strstr(s, HWCAPS_DIR)); s++) {
			char d = s[strlen(HWCAPS_DIR)];

			if (isdigit((unsigned char)d) && d - '0' > level)
				level = d - '0';
		}
	}
	return level;
}

static int hwcaps_level(const char *proc, int pid)
{
	char path[64];
	int level;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%d/maps", proc, pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	level = atrisk_maps_level(f);
	fclose(f);
	return level;
}

bool atrisk_environ_masked(const char *buf, size_t n)
{
	bool masked = false;

	for (size_t i = 0; i < n; i += strlen(buf + i) + 1) {
		const char *hw;

		if (strncmp(buf + i, "GLIBC_TUNABLES=", 15))
			continue;
		hw = strstr(buf + i, "glibc.cpu.hwcaps=");
		masked = hw && strstr(hw, "-AVX2");
	}
	return masked;
}

/*
 * Whether the process asked glibc for x86-64-v2 code paths (GLIBC_TUNABLES with
 * glibc.cpu.hwcaps=...-AVX2..., as cpudrift's own unit does).  Its own code may still use
 * AVX2, so it stays listed, after the others.  Unreadable environments count as unmasked.
 */
static bool glibc_masked(const char *proc, int pid)
{
	char path[64], buf[16384];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%d/environ", proc, pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return atrisk_environ_masked(buf, n);
}

static int cmp_proc(const void *a, const void *b)
{
	const struct atrisk_proc *x = a, *y = b;

	if (x->above_level != y->above_level)
		return y->above_level - x->above_level;
	if (x->glibc_masked != y->glibc_masked)
		return x->glibc_masked - y->glibc_masked;
	if (x->start_boot_ns != y->start_boot_ns)
		return x->start_boot_ns < y->start_boot_ns ? -1 : 1;
	return x->pid - y->pid;
}

int atrisk_scan(const char *proc, int64_t change_boot_ns, int level_now, struct atrisk_list *out)
{
	struct dirent *de;
	DIR *d;
	int err = 0, self = getpid();

	memset(out, 0, sizeof(*out));
	d = opendir(proc);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct atrisk_proc p = { 0 };
		unsigned long flags = 0;
		char path[64];
		ssize_t n;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		p.pid = atoi(de->d_name);
		/* cpudrift itself runs masked to x86-64-v2 and built for the baseline. */
		if (p.pid == self)
			continue;
		if (read_stat(proc, p.pid, &p, &flags) || (flags & PF_KTHREAD) ||
		    p.start_boot_ns >= change_boot_ns)
			continue;
		snprintf(path, sizeof(path), "%s/%d/exe", proc, p.pid);
		n = readlink(path, p.exe, sizeof(p.exe) - 1);
		p.exe[n > 0 ? n : 0] = 0;
		p.hwcaps_level = hwcaps_level(proc, p.pid);
		p.above_level = level_now > 0 && p.hwcaps_level > level_now;
		p.glibc_masked = glibc_masked(proc, p.pid);
		if (out->n == out->cap) {
			size_t cap = out->cap ? out->cap * 2 : 64;
			struct atrisk_proc *v = realloc(out->v, cap * sizeof(*v));

			if (!v) {
				err = -ENOMEM;
				break;
			}
			out->v = v;
			out->cap = cap;
		}
		out->v[out->n++] = p;
	}
	closedir(d);
	if (err) {
		atrisk_list_free(out);
		return err;
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_proc);
	return 0;
}

void atrisk_list_free(struct atrisk_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

struct json_object *atrisk_to_json(const struct atrisk_list *l, int64_t change_boot_ns,
				   int level_now, size_t max)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_array();
	size_t above = 0;

	for (size_t i = 0; i < l->n; i++) {
		const struct atrisk_proc *p = &l->v[i];
		struct json_object *j;

		above += p->above_level;
		if (i >= max)
			continue;
		j = json_object_new_object();
		json_object_object_add(j, "pid", json_object_new_int(p->pid));
		json_object_object_add(j, "comm", json_object_new_string(p->comm));
		json_object_object_add(j, "exe", json_object_new_string(p->exe));
		json_object_object_add(j, "start_boot_ns", json_object_new_int64(p->start_boot_ns));
		json_object_object_add(j, "hwcaps_level", json_object_new_int(p->hwcaps_level));
		json_object_object_add(j, "above_level", json_object_new_boolean(p->above_level));
		json_object_object_add(j, "glibc_masked", json_object_new_boolean(p->glibc_masked));
		json_object_array_add(a, j);
	}
	json_object_object_add(o, "change_boot_ns", json_object_new_int64(change_boot_ns));
	json_object_object_add(o, "level", json_object_new_int(level_now));
	json_object_object_add(o, "total", json_object_new_int64(l->n));
	json_object_object_add(o, "above_level", json_object_new_int64(above));
	json_object_object_add(o, "processes", a);
	return o;
}

int atrisk_attach(struct event *e, int level_now, size_t max)
{
	struct atrisk_list l;
	struct json_object *v;
	int64_t change = e->monotonic_ns;
	int err;

	if (json_object_object_get_ex(e->body, "change_mono_ns", &v) &&
	    json_object_is_type(v, json_type_int))
		change = json_object_get_int64(v);
	change = clock_mono_to_boot(change);
	err = atrisk_scan("/proc", change, level_now, &l);
	if (err)
		return err;
	json_object_object_add(e->body, "at_risk", atrisk_to_json(&l, change, level_now, max));
	atrisk_list_free(&l);
	return 0;
}
