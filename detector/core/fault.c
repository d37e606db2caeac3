// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fault.h"
#include "core/log.h"
#include "core/signals.h"

static const char *const variant_names[] = {
	[FAULT_VARIANT_AUTO] = "auto",
	[FAULT_VARIANT_TP_BTF] = "tp_btf",
	[FAULT_VARIANT_RAW_TP] = "raw_tp",
	[FAULT_VARIANT_TRACEPOINT] = "tracepoint",
};

#define NVARIANTS (sizeof(variant_names) / sizeof(variant_names[0]))

const char *fault_variant_name(enum fault_variant v)
{
	return (unsigned)v < NVARIANTS ? variant_names[v] : "?";
}

int fault_variant_lookup(const char *name)
{
	for (unsigned i = 0; i < NVARIANTS; i++)
		if (!strcmp(variant_names[i], name))
			return (int)i;
	return -1;
}

static const char *const origin_names[] = {
	[FAULT_ORIGIN_CPU] = "cpu",
	[FAULT_ORIGIN_TRACED] = "traced",
};

const char *fault_origin_name(enum fault_origin o)
{
	return (unsigned)o < sizeof(origin_names) / sizeof(origin_names[0]) ? origin_names[o] : "?";
}

static bool same_file(const struct code_range *r, const struct fault_file *f)
{
	return f->valid && f->major == r->major && f->minor == r->minor && f->ino == r->ino;
}

bool code_range_holds(const struct code_range *r, const struct fault *f)
{
	if (!r || r->end <= r->start)
		return false;
	if (f->has_map && f->map_file.valid)
		return same_file(r, &f->map_file) && f->map_offset >= r->start &&
		       f->map_offset < r->end;
	return f->in_exe_code && same_file(r, &f->exe_file) && r->code_end > r->code_start &&
	       f->exe_code_offset >= r->code_start && f->exe_code_offset < r->code_end;
}

static struct json_object *hexstr(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	return json_object_new_string(buf);
}

/* dev, ino, truncated, deleted of a file the kernel identified; added to @o. */
static void file_json(struct json_object *o, const struct fault_file *ff)
{
	char dev[24];

	snprintf(dev, sizeof(dev), "%u:%u", ff->major, ff->minor);
	json_object_object_add(o, "dev", json_object_new_string(dev));
	json_object_object_add(o, "ino", json_object_new_int64((int64_t)ff->ino));
	json_object_object_add(o, "truncated", json_object_new_boolean(ff->truncated));
	json_object_object_add(o, "deleted", json_object_new_boolean(ff->deleted));
}

struct json_object *fault_to_json(const struct fault *f)
{
	struct json_object *o = json_object_new_object(), *m = NULL;
	const char *sig = signals_name(f->sig);
	char bytes[2 * FAULT_NBYTES + 1] = "";

	if (!o)
		return NULL;
	for (unsigned i = 0; i < f->nbytes && i < FAULT_NBYTES; i++)
		snprintf(bytes + 2 * i, 3, "%02x", f->bytes[i]);
	json_object_object_add(o, "boot_ns", json_object_new_int64((int64_t)f->boot_ns));
	json_object_object_add(o, "pid", json_object_new_int(f->pid));
	json_object_object_add(o, "tid", json_object_new_int(f->tid));
	json_object_object_add(o, "uid", json_object_new_int64(f->uid));
	json_object_object_add(o, "cpu", json_object_new_int(f->cpu));
	json_object_object_add(o, "comm", json_object_new_string(f->comm));
	json_object_object_add(o, "exe", json_object_new_string(f->exe));
	if (f->exe_file.valid) {
		m = json_object_new_object();
		file_json(m, &f->exe_file);
		if (f->in_exe_code)
			json_object_object_add(m, "code_offset", hexstr(f->exe_code_offset));
		json_object_object_add(o, "exe_file", m);
		m = NULL;
	} else {
		json_object_object_add(o, "exe_file", NULL);
	}
	json_object_object_add(o, "start_boottime_ns", json_object_new_int64((int64_t)f->start_ns));
	json_object_object_add(o, "cgroup", json_object_new_string(f->cgroup));
	json_object_object_add(o, "cgroup_id", json_object_new_int64((int64_t)f->cgroup_id));
	json_object_object_add(o, "signal",
			       sig ? json_object_new_string(sig) : json_object_new_int(f->sig));
	json_object_object_add(o, "si_code", json_object_new_int(f->si_code));
	json_object_object_add(o, "trap_nr", json_object_new_int((int)f->trap_nr));
	json_object_object_add(o, "fatal", json_object_new_boolean(f->fatal));
	json_object_object_add(o, "origin", json_object_new_string(fault_origin_name(f->origin)));
	json_object_object_add(o, "ip", hexstr(f->ip));
	if (f->has_map) {
		m = json_object_new_object();
		json_object_object_add(m, "path", json_object_new_string(f->map_path));
		json_object_object_add(m, "offset", hexstr(f->map_offset));
		if (f->map_file.valid)
			file_json(m, &f->map_file);
	}
	json_object_object_add(o, "mapping", m);
	json_object_object_add(o, "bytes", json_object_new_string(bytes));
	json_object_object_add(o, "count", json_object_new_int64((int64_t)f->count));
	json_object_object_add(o, "suppressed", json_object_new_int64((int64_t)f->suppressed));
	json_object_object_add(o, "delta", json_object_new_int64((int64_t)f->delta));
	json_object_object_add(o, "flush", json_object_new_boolean(f->kind == FAULT_FLUSH));
	json_object_object_add(o, "tracked", json_object_new_boolean(f->tracked));
	json_object_object_add(o, "variant",
			       json_object_new_string(fault_variant_name(f->variant)));
	if (f->has_cpuid_now) {
		json_object_object_add(o, "lost_now", featset_to_json(&f->lost_now));
		json_object_object_add(o, "lost_now_from",
				       json_object_new_string(f->lost_now_from));
	}
	return o;
}

/* --- reading back ---------------------------------------------------------------------- */

static struct json_object *member(struct json_object *j, const char *key, json_type t)
{
	struct json_object *v;

	if (!json_object_object_get_ex(j, key, &v) || !json_object_is_type(v, t))
		return NULL;
	return v;
}

static int get_i64(struct json_object *j, const char *key, int64_t lo, int64_t hi, int64_t *out,
		   struct errbuf *err)
{
	struct json_object *v;

	if (!json_object_object_get_ex(j, key, &v))
		return 0;
	errno = 0;
	if (!json_object_is_type(v, json_type_int) || (*out = json_object_get_int64(v), errno) ||
	    *out < lo || *out > hi) {
		errbuf_set(err, "\"%s\" is not an integer in [%" PRId64 ", %" PRId64 "]", key, lo,
			   hi);
		return -EINVAL;
	}
	return 0;
}

static int get_str(struct json_object *j, const char *key, char *buf, size_t size,
		   struct errbuf *err)
{
	struct json_object *v;

	if (!json_object_object_get_ex(j, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_string)) {
		errbuf_set(err, "\"%s\" is not a string", key);
		return -EINVAL;
	}
	snprintf(buf, size, "%s", json_object_get_string(v));
	return 0;
}

static int get_hex(struct json_object *j, const char *key, uint64_t *out, struct errbuf *err)
{
	struct json_object *v;
	const char *s;
	char *end;

	if (!json_object_object_get_ex(j, key, &v))
		return 0;
	s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	errno = 0;
	if (!s || strncmp(s, "0x", 2) || !s[2] || (*out = strtoull(s + 2, &end, 16), errno) ||
	    *end) {
		errbuf_set(err, "\"%s\" is not a hex string \"0x...\"", key);
		return -EINVAL;
	}
	return 0;
}

static int get_bytes(struct json_object *j, struct fault *f, struct errbuf *err)
{
	char hex[2 * FAULT_NBYTES + 2] = "";
	size_t n;

	if (get_str(j, "bytes", hex, sizeof(hex), err))
		return -EINVAL;
	n = strlen(hex);
	if (n % 2 || n > 2 * FAULT_NBYTES || strspn(hex, "0123456789abcdefABCDEF") != n) {
		errbuf_set(err, "\"bytes\" is not up to %d bytes of hex", FAULT_NBYTES);
		return -EINVAL;
	}
	f->nbytes = (unsigned)(n / 2);
	for (unsigned i = 0; i < f->nbytes; i++)
		sscanf(hex + 2 * i, "%2hhx", &f->bytes[i]);
	return 0;
}

/* A file identity ("dev": "maj:min", "ino", "truncated", "deleted"), when present. */
static int get_file(struct json_object *j, struct fault_file *ff, struct errbuf *err)
{
	char dev[24] = "";
	int64_t ino = 0;
	struct json_object *b;

	if (!json_object_is_type(j, json_type_object))
		return 0;
	if (get_str(j, "dev", dev, sizeof(dev), err) || get_i64(j, "ino", 0, INT64_MAX, &ino, err))
		return -EINVAL;
	if (!dev[0])
		return 0;
	if (sscanf(dev, "%u:%u", &ff->major, &ff->minor) != 2) {
		errbuf_set(err, "\"dev\" is not \"major:minor\"");
		return -EINVAL;
	}
	ff->valid = true;
	ff->ino = (uint64_t)ino;
	ff->truncated = json_object_object_get_ex(j, "truncated", &b) && json_object_get_boolean(b);
	ff->deleted = json_object_object_get_ex(j, "deleted", &b) && json_object_get_boolean(b);
	return 0;
}

static int get_featset(struct json_object *a, struct featset *out, struct errbuf *err)
{
	size_t n = json_object_array_length(a);

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(a, i);
		int id;

		if (!json_object_is_type(s, json_type_string)) {
			errbuf_set(err, "feature %zu is not a string", i);
			return -EINVAL;
		}
		/* Names from a newer feature table are skipped, not fatal. */
		id = feature_lookup(json_object_get_string(s));
		if (id >= 0)
			featset_add(out, id);
	}
	return 0;
}

int fault_from_json(struct json_object *j, struct fault *f, struct errbuf *err)
{
	int64_t v[12] = { 0, 0, 0, -1, 0, 0, 0, 0, 0, 0, 0, -1 };
	char sig[16] = "", variant[16] = "", origin[16] = "cpu";
	struct json_object *m, *a;

	memset(f, 0, sizeof(*f));
	if (!json_object_is_type(j, json_type_object)) {
		errbuf_set(err, "the fault is not a JSON object");
		return -EINVAL;
	}
	if (get_i64(j, "boot_ns", 0, INT64_MAX, &v[0], err) ||
	    get_i64(j, "pid", 0, INT32_MAX, &v[1], err) ||
	    get_i64(j, "tid", 0, INT32_MAX, &v[2], err) ||
	    get_i64(j, "cpu", -1, 65535, &v[3], err) ||
	    get_i64(j, "start_boottime_ns", 0, INT64_MAX, &v[4], err) ||
	    get_i64(j, "cgroup_id", 0, INT64_MAX, &v[5], err) ||
	    get_i64(j, "si_code", INT32_MIN, INT32_MAX, &v[6], err) ||
	    get_i64(j, "trap_nr", 0, 255, &v[7], err) ||
	    get_i64(j, "count", 0, INT64_MAX, &v[8], err) ||
	    get_i64(j, "suppressed", 0, INT64_MAX, &v[9], err) ||
	    get_i64(j, "uid", 0, UINT32_MAX, &v[10], err) ||
	    get_i64(j, "delta", 0, INT64_MAX, &v[11], err) ||
	    get_str(j, "comm", f->comm, sizeof(f->comm), err) ||
	    get_str(j, "exe", f->exe, sizeof(f->exe), err) ||
	    get_str(j, "cgroup", f->cgroup, sizeof(f->cgroup), err) ||
	    get_str(j, "signal", sig, sizeof(sig), err) ||
	    get_str(j, "variant", variant, sizeof(variant), err) ||
	    get_str(j, "origin", origin, sizeof(origin), err) || get_hex(j, "ip", &f->ip, err) ||
	    get_bytes(j, f, err))
		return -EINVAL;
	f->boot_ns = (uint64_t)v[0];
	f->pid = (int)v[1];
	f->tid = (int)v[2];
	f->cpu = (int)v[3];
	f->start_ns = (uint64_t)v[4];
	f->cgroup_id = (uint64_t)v[5];
	f->si_code = (int)v[6];
	f->trap_nr = (unsigned)v[7];
	f->count = (uint64_t)v[8];
	f->suppressed = (uint64_t)v[9];
	f->uid = (unsigned)v[10];
	m = member(j, "flush", json_type_boolean);
	f->kind = m && json_object_get_boolean(m) ? FAULT_FLUSH : FAULT_DETAIL;
	m = member(j, "tracked", json_type_boolean);
	f->tracked = !m || json_object_get_boolean(m);
	/* Recordings older than "delta" counted every detail with what it suppressed. */
	f->delta = v[11] >= 0 ? (uint64_t)v[11] : f->suppressed + (f->kind == FAULT_FLUSH ? 0 : 1);
	f->sig = signals_lookup(sig[0] ? sig : "ILL");
	if (f->sig < 0) {
		errbuf_set(err, "\"signal\" is not a fault signal");
		return -EINVAL;
	}
	f->variant = variant[0] && fault_variant_lookup(variant) > 0 ?
			     (enum fault_variant)fault_variant_lookup(variant) :
			     FAULT_VARIANT_AUTO;
	if (!strcmp(origin, "traced"))
		f->origin = FAULT_ORIGIN_TRACED;
	else if (strcmp(origin, "cpu")) {
		errbuf_set(err, "\"origin\" is neither \"cpu\" nor \"traced\"");
		return -EINVAL;
	}
	m = member(j, "fatal", json_type_boolean);
	f->fatal = m && json_object_get_boolean(m);
	m = member(j, "mapping", json_type_object);
	if (m) {
		f->has_map = true;
		if (get_str(m, "path", f->map_path, sizeof(f->map_path), err) ||
		    get_hex(m, "offset", &f->map_offset, err) || get_file(m, &f->map_file, err))
			return -EINVAL;
	}
	m = member(j, "exe_file", json_type_object);
	if (m && get_file(m, &f->exe_file, err))
		return -EINVAL;
	if (m && json_object_object_get_ex(m, "code_offset", NULL)) {
		f->in_exe_code = true;
		if (get_hex(m, "code_offset", &f->exe_code_offset, err))
			return -EINVAL;
	}
	a = member(j, "lost_now", json_type_array);
	if (a) {
		f->has_cpuid_now = true;
		if (get_featset(a, &f->lost_now, err) ||
		    get_str(j, "lost_now_from", f->lost_now_from, sizeof(f->lost_now_from), err))
			return -EINVAL;
	}
	return 0;
}
