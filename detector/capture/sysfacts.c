// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "capture/sysfacts.h"

/* DMI attributes that name the machine's make; serials, UUIDs and asset tags never. */
static const char *const dmi_keys[] = { "sys_vendor",	  "product_name", "product_version",
					"product_family", "board_vendor", "board_name",
					"bios_vendor",	  "bios_version", "bios_date",
					"chassis_vendor" };

/* The first line of @root@path (at most @size - 1 bytes, no newline); false when absent. */
static bool read_line(const char *root, const char *path, char *buf, size_t size)
{
	char full[512];
	ssize_t n;
	int fd;

	snprintf(full, sizeof(full), "%s%s", root, path);
	fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return false;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return true;
}

static void add_file(struct json_object *o, const char *key, const char *root, const char *path)
{
	char buf[4096];

	if (read_line(root, path, buf, sizeof(buf)))
		json_object_object_add(o, key, json_object_new_string(buf));
}

struct json_object *sysfacts_collect(const char *root)
{
	struct json_object *o = json_object_new_object(), *k = json_object_new_object(),
			   *d = json_object_new_object(), *c = json_object_new_object(), *h;
	struct utsname u;
	char buf[256], path[128];
	double up;

	if (!uname(&u)) {
		json_object_object_add(k, "release", json_object_new_string(u.release));
		json_object_object_add(k, "version", json_object_new_string(u.version));
		json_object_object_add(k, "machine", json_object_new_string(u.machine));
		json_object_object_add(o, "hostname", json_object_new_string(u.nodename));
	}
	add_file(k, "cmdline", root, "/proc/cmdline");
	json_object_object_add(o, "kernel", k);
	add_file(o, "boot_id", root, "/proc/sys/kernel/random/boot_id");
	if (read_line(root, "/proc/uptime", buf, sizeof(buf)) && sscanf(buf, "%lf", &up) == 1)
		json_object_object_add(o, "uptime_s", json_object_new_double(up));
	add_file(c, "current", root,
		 "/sys/devices/system/clocksource/clocksource0/current_clocksource");
	add_file(c, "available", root,
		 "/sys/devices/system/clocksource/clocksource0/available_clocksource");
	json_object_object_add(o, "clocksource", c);
	h = json_object_new_object();
	add_file(h, "sysfs_type", root, "/sys/hypervisor/type");
	json_object_object_add(o, "hypervisor", h);
	for (size_t i = 0; i < sizeof(dmi_keys) / sizeof(dmi_keys[0]); i++) {
		snprintf(path, sizeof(path), "/sys/class/dmi/id/%s", dmi_keys[i]);
		add_file(d, dmi_keys[i], root, path);
	}
	json_object_object_add(o, "dmi", d);
	json_object_object_add(o, "cpus_online",
			       json_object_new_int64(sysconf(_SC_NPROCESSORS_ONLN)));
	return o;
}

int sysfacts_private_names(const char *root,
			   int (*cb)(const char *name, const char *with, void *ctx), void *ctx)
{
	char host[256] = "", path[512], line[1024];
	struct utsname u;
	FILE *f;
	int n = 0, ret = 0;

	if (!uname(&u))
		snprintf(host, sizeof(host), "%s", u.nodename);
	if (!host[0])
		read_line(root, "/etc/hostname", host, sizeof(host));
	if (host[0]) {
		char *dot = strchr(host, '.');

		ret = cb(host, "HOST", ctx);
		if (dot) {
			*dot = 0;
			ret = ret ?: cb(host, "HOST", ctx);
		}
	}
	snprintf(path, sizeof(path), "%s/etc/passwd", root);
	f = fopen(path, "re");
	if (!f)
		return ret;
	while (!ret && fgets(line, sizeof(line), f)) {
		char *name = strtok(line, ":"), *uid;
		char with[32];
		long id;

		if (!name || !strtok(NULL, ":") || !(uid = strtok(NULL, ":")))
			continue;
		id = strtol(uid, NULL, 10);
		if (id < 1000 || id == 65534)
			continue;
		snprintf(with, sizeof(with), "USER%d", ++n);
		ret = cb(name, with, ctx);
	}
	fclose(f);
	return ret;
}
