// SPDX-License-Identifier: GPL-2.0-or-later
/* What the fuzz targets share: the registry for the replaying suite, and the checks. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <json-c/json.h>

#include "core/log.h"
#include "core/snapshot.h"
#include "formats/dumpfmt.h"
#include "formats/lcdump.h"
#include "formats/snapjson.h"
#include "formats/snapprint.h"
#include "fuzz.h"

#define MAX_TARGETS 64

static struct {
	const char *name;
	fuzz_fn fn;
} targets[MAX_TARGETS];
static int ntargets;

void fuzz_init(void)
{
	log_set_level(LOG_LVL_ERR);
}

void fuzz_register(const char *name, fuzz_fn fn)
{
	if (ntargets == MAX_TARGETS)
		abort();
	targets[ntargets].name = name;
	targets[ntargets++].fn = fn;
}

fuzz_fn fuzz_lookup(const char *name)
{
	for (int i = 0; i < ntargets; i++)
		if (!strcmp(targets[i].name, name))
			return targets[i].fn;
	return NULL;
}

const char *fuzz_name(int i)
{
	return i >= 0 && i < ntargets ? targets[i].name : NULL;
}

char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = strndup((const char *)data, size);

	if (!s)
		abort();
	return s;
}

static void fill(int fd, const uint8_t *data, size_t size)
{
	FUZZ_CHECK(!ftruncate(fd, 0), "ftruncate: %s", strerror(errno));
	for (size_t off = 0; off < size;) {
		ssize_t n = pwrite(fd, data + off, size - off, (off_t)off);

		FUZZ_CHECK(n > 0, "pwrite: %s", strerror(errno));
		off += (size_t)n;
	}
}

const char *fuzz_file(const uint8_t *data, size_t size)
{
	static char path[64];
	static int fd = -1;

	if (fd < 0) {
		fd = memfd_create("cpudrift-fuzz", MFD_CLOEXEC);
		FUZZ_CHECK(fd >= 0, "memfd_create: %s", strerror(errno));
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	fill(fd, data, size);
	return path;
}

static char plain_path[PATH_MAX];

static void remove_plain(void)
{
	unlink(plain_path);
}

const char *fuzz_plain_file(const uint8_t *data, size_t size)
{
	static int fd = -1;

	if (fd < 0) {
		const char *tmp = getenv("TMPDIR");

		snprintf(plain_path, sizeof(plain_path), "%s/cpudrift-fuzz-XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		fd = mkostemp(plain_path, O_CLOEXEC);
		FUZZ_CHECK(fd >= 0, "mkostemp %s: %s", plain_path, strerror(errno));
		atexit(remove_plain);
	}
	fill(fd, data, size);
	return plain_path;
}

FILE *fuzz_devnull(void)
{
	static FILE *f;

	if (!f)
		f = fopen("/dev/null", "we");
	FUZZ_CHECK(f, "/dev/null: %s", strerror(errno));
	return f;
}

static bool vcpu_equal(const struct vcpu_dump *a, const struct vcpu_dump *b)
{
	return a->cpu == b->cpu && a->n == b->n &&
	       (!a->n || !memcmp(a->leaves, b->leaves, a->n * sizeof(*a->leaves)));
}

bool fuzz_snapshot_equal(const struct snapshot *a, const struct snapshot *b, char *why, size_t len)
{
#define DIFFER(what)                            \
	do {                                    \
		snprintf(why, len, "%s", what); \
		return false;                   \
	} while (0)
	if (a->nvcpus != b->nvcpus)
		DIFFER("number of vCPUs");
	for (int i = 0; i < a->nvcpus; i++)
		if (!vcpu_equal(&a->vcpus[i], &b->vcpus[i]))
			DIFFER("leaves of a vCPU");
	if (a->has_xcr0 != b->has_xcr0 || (a->has_xcr0 && a->xcr0 != b->xcr0))
		DIFFER("xcr0");
	if (a->has_microcode != b->has_microcode ||
	    (a->has_microcode && a->microcode != b->microcode))
		DIFFER("microcode");
	if (a->has_shadow != b->has_shadow || !featset_equal(&a->shadow, &b->shadow))
		DIFFER("shadow");
	if (a->nkflags != b->nkflags)
		DIFFER("number of kernel flags");
	for (size_t i = 0; i < a->nkflags; i++)
		if (strcmp(a->kflags[i], b->kflags[i]))
			DIFFER("kernel flags");
	if (strcmp(a->source, b->source) || strcmp(a->boot_id, b->boot_id))
		DIFFER("source or boot id");
	if (a->realtime_ns != b->realtime_ns || a->monotonic_ns != b->monotonic_ns)
		DIFFER("capture times");
	if (memcmp(&a->id, &b->id, sizeof(a->id)))
		DIFFER("identity");
	if (!featset_equal(&a->features, &b->features) || a->level != b->level)
		DIFFER("features or level");
	if (strcmp(a->hypervisor, b->hypervisor) || a->hv_max_leaf != b->hv_max_leaf ||
	    a->hv_tsc_khz != b->hv_tsc_khz || a->hv_bus_khz != b->hv_bus_khz)
		DIFFER("hypervisor");
#undef DIFFER
	return true;
}

static void check_json_round_trip(const struct snapshot *s)
{
	struct json_object *o = snapshot_to_json(s), *back;
	struct snapshot *t = NULL;
	struct errbuf err = { "" };
	char why[64];

	FUZZ_CHECK(o, "snapshot_to_json failed");
	back = json_tokener_parse(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	FUZZ_CHECK(back, "the snapshot's JSON does not parse");
	FUZZ_CHECK(!snapshot_from_json(back, &t, &err), "the snapshot's JSON is refused: %s",
		   err.msg);
	FUZZ_CHECK(fuzz_snapshot_equal(s, t, why, sizeof(why)),
		   "the snapshot's JSON reads back with other %s", why);
	snapshot__free(t);
	json_object_put(back);
	json_object_put(o);
}

/* Leaves of @v in the libcpuid round trip: held ones come back, others only as zeros. */
static void check_lc_vcpu(const struct vcpu_dump *v, const struct vcpu_dump *back)
{
	static const uint32_t zero[4];

	for (size_t j = 0; j < v->n; j++) {
		const struct leafval *l = &v->leaves[j], *b;

		if (!lcdump_holds(v, l->leaf, l->subleaf))
			continue;
		b = vcpu_dump_get(back, l->leaf, l->subleaf);
		FUZZ_CHECK(b && !memcmp(b->r, l->r, sizeof(l->r)),
			   "leaf 0x%x.%u is lost in the libcpuid export", l->leaf, l->subleaf);
	}
	for (size_t j = 0; j < back->n; j++) {
		const struct leafval *b = &back->leaves[j];
		const struct leafval *l = vcpu_dump_get(v, b->leaf, b->subleaf);

		FUZZ_CHECK(l ? !memcmp(b->r, l->r, sizeof(l->r)) :
			       !memcmp(b->r, zero, sizeof(zero)),
			   "leaf 0x%x.%u comes back from the libcpuid export with another value",
			   b->leaf, b->subleaf);
	}
}

static void check_lc_round_trip(const struct snapshot *s)
{
	struct snapshot *t = NULL;
	struct errbuf err = { "" };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	FUZZ_CHECK(f, "open_memstream: %s", strerror(errno));
	FUZZ_CHECK(!lcdump_export(s, -1, f), "libcpuid export failed");
	fclose(f);
	FUZZ_CHECK(!dump_parse(buf, len, DUMP_LIBCPUID, "export", &t, &err),
		   "cpudrift cannot read its own libcpuid export: %s", err.msg);
	FUZZ_CHECK(t->nvcpus == s->nvcpus, "the libcpuid export has %d vCPUs, not %d", t->nvcpus,
		   s->nvcpus);
	for (int i = 0; i < s->nvcpus; i++)
		check_lc_vcpu(&s->vcpus[i], &t->vcpus[i]);
	snapshot__free(t);
	free(buf);
}

void fuzz_check_snapshot(const struct snapshot *s)
{
	FUZZ_CHECK(s->nvcpus >= 1, "a snapshot without vCPUs was accepted");
	check_json_round_trip(s);
	check_lc_round_trip(s);
	snapshot_print_table(s, fuzz_devnull());
}

void fuzz_check_error(int ret, const struct errbuf *err, const char *prefix)
{
	if (!ret)
		return;
	FUZZ_CHECK(ret < 0, "an error that is not a negative errno: %d", ret);
	FUZZ_CHECK(err->msg[0], "an input was refused without a message");
	FUZZ_CHECK(!prefix || !strncmp(err->msg, prefix, strlen(prefix)),
		   "the message '%s' does not start with '%s'", err->msg, prefix);
}

void fuzz_dump(const uint8_t *data, size_t size, int format)
{
	struct snapshot *s = NULL;
	struct errbuf err = { "" };
	int ret;

	if (format < 0)
		ret = dump_import((const char *)data, size, "fuzz", &s, &err);
	else
		ret = dump_parse((const char *)data, size, format, "fuzz", &s, &err);
	fuzz_check_error(ret, &err, "fuzz:");
	FUZZ_CHECK(!ret == !!s, "dump_parse returned %d with%s a snapshot", ret, s ? "" : "out");
	if (s)
		fuzz_check_snapshot(s);
	snapshot__free(s);
}
