// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Snapshot <-> JSON.  The raw leaves are written in full and are the truth on reading:
 * everything derived (identity, features, level, hypervisor) is recomputed by
 * decode_snapshot(), so a hand-edited "features" list cannot disagree with its leaves.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analysis/decode.h"
#include "core/log.h"
#include "formats/snapjson.h"

#define SNAPSHOT_MAX_VCPUS 4096
#define SNAPSHOT_MAX_LEAVES 4096
#define SNAPSHOT_MAX_KFLAGS 4096

static const char *const reg_keys[4] = { "eax", "ebx", "ecx", "edx" };

static struct json_object *hex32(uint32_t v)
{
	char b[16];

	snprintf(b, sizeof(b), "0x%08" PRIx32, v);
	return json_object_new_string(b);
}

static struct json_object *hex64(uint64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "0x%" PRIx64, v);
	return json_object_new_string(b);
}

static void add(struct json_object *o, const char *k, struct json_object *v)
{
	json_object_object_add(o, k, v);
}

static struct json_object *identity_json(const struct snapshot *s)
{
	struct json_object *o = json_object_new_object(), *c = json_object_new_object();

	add(o, "vendor", json_object_new_string(s->id.vendor));
	add(o, "family", json_object_new_int(s->id.family));
	add(o, "model", json_object_new_int(s->id.model));
	add(o, "stepping", json_object_new_int(s->id.stepping));
	add(o, "signature", hex32(s->id.signature));
	add(o, "brand", json_object_new_string(s->id.brand));
	add(o, "codename_guess", json_object_new_string(s->id.codename));
	add(c, "l1d", json_object_new_int(s->id.l1d_kb));
	add(c, "l1i", json_object_new_int(s->id.l1i_kb));
	add(c, "l2", json_object_new_int(s->id.l2_kb));
	add(c, "l3", json_object_new_int(s->id.l3_kb));
	add(o, "cache_kb", c);
	add(o, "microcode", s->has_microcode ? hex64(s->microcode) : NULL);
	return o;
}

struct json_object *snapshot_to_json(const struct snapshot *s)
{
	struct json_object *o = json_object_new_object(), *cap = json_object_new_object();
	struct json_object *vcpus = json_object_new_array(), *kf = json_object_new_array();
	char when[64];
	time_t t = s->realtime_ns / 1000000000;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	add(o, "format", json_object_new_string("cpudrift-snapshot"));
	add(o, "version", json_object_new_int(SNAPSHOT_FORMAT));
	add(o, "source", json_object_new_string(s->source));
	add(cap, "time", json_object_new_string(when));
	add(cap, "realtime_ns", json_object_new_int64(s->realtime_ns));
	add(cap, "monotonic_ns", json_object_new_int64(s->monotonic_ns));
	add(cap, "boot_id", json_object_new_string(s->boot_id));
	add(o, "captured", cap);
	add(o, "identity", identity_json(s));
	if (s->hypervisor[0]) {
		struct json_object *h = json_object_new_object();

		add(h, "vendor", json_object_new_string(s->hypervisor));
		add(h, "max_leaf", hex32(s->hv_max_leaf));
		add(h, "tsc_khz", json_object_new_int64(s->hv_tsc_khz));
		add(h, "bus_khz", json_object_new_int64(s->hv_bus_khz));
		add(o, "hypervisor", h);
	} else {
		add(o, "hypervisor", NULL);
	}
	add(o, "xcr0", s->has_xcr0 ? hex64(s->xcr0) : NULL);
	add(o, "x86_64_level", json_object_new_int(s->level));
	add(o, "features", featset_to_json(&s->features));
	if (s->has_shadow) {
		struct json_object *sh = json_object_new_object();

		add(sh, "features", featset_to_json(&s->shadow));
		char hash[17];

		featset_hash_str(&s->shadow, hash);
		add(sh, "hash", json_object_new_string(hash));
		add(o, "shadow", sh);
	}
	for (size_t i = 0; i < s->nkflags; i++)
		json_object_array_add(kf, json_object_new_string(s->kflags[i]));
	add(o, "kernel_flags", kf);
	for (int i = 0; i < s->nvcpus; i++) {
		const struct vcpu_dump *v = &s->vcpus[i];
		struct json_object *vo = json_object_new_object(), *la = json_object_new_array();

		for (size_t j = 0; j < v->n; j++) {
			struct json_object *l = json_object_new_object();

			add(l, "leaf", hex32(v->leaves[j].leaf));
			add(l, "subleaf", json_object_new_int64(v->leaves[j].subleaf));
			for (int r = 0; r < 4; r++)
				add(l, reg_keys[r], hex32(v->leaves[j].r[r]));
			json_object_array_add(la, l);
		}
		add(vo, "cpu", json_object_new_int(v->cpu));
		add(vo, "leaves", la);
		json_object_array_add(vcpus, vo);
	}
	add(o, "vcpus", vcpus);
	return o;
}

int snapshot_write_json(const struct snapshot *s, FILE *f)
{
	struct json_object *o = snapshot_to_json(s);
	int ret = 0;

	if (!o)
		return -ENOMEM;
	if (fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							    JSON_C_TO_STRING_SPACED |
							    JSON_C_TO_STRING_NOSLASHESCAPE),
		  f) < 0 ||
	    fputc('\n', f) == EOF)
		ret = -EIO;
	json_object_put(o);
	return ret;
}

/* --- reading: every field is checked; the message names the path that is wrong --- */

static struct json_object *member(struct json_object *o, const char *key, enum json_type t)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, t))
		return NULL;
	return v;
}

static int parse_hex(struct json_object *v, uint64_t max, uint64_t *out)
{
	const char *s;
	char *end;

	if (json_object_is_type(v, json_type_int)) {
		int64_t i = json_object_get_int64(v);

		if (i < 0 || (uint64_t)i > max)
			return -ERANGE;
		*out = (uint64_t)i;
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return -EINVAL;
	s = json_object_get_string(v);
	errno = 0;
	*out = strtoull(s, &end, 16);
	if (!*s || *end || errno || *out > max || strchr(s, '-'))
		return -EINVAL;
	return 0;
}

static int parse_leaf(struct json_object *l, struct vcpu_dump *v, int vi, size_t li,
		      struct errbuf *err)
{
	uint64_t leaf, sub, r[4];
	uint32_t regs[4];
	struct json_object *x;

	if (!json_object_is_type(l, json_type_object))
		goto bad;
	if (!json_object_object_get_ex(l, "leaf", &x) || parse_hex(x, UINT32_MAX, &leaf))
		goto bad;
	if (!json_object_object_get_ex(l, "subleaf", &x) || parse_hex(x, UINT32_MAX, &sub))
		goto bad;
	for (int i = 0; i < 4; i++) {
		if (!json_object_object_get_ex(l, reg_keys[i], &x) ||
		    parse_hex(x, UINT32_MAX, &r[i]))
			goto bad;
		regs[i] = (uint32_t)r[i];
	}
	return vcpu_dump_put(v, (uint32_t)leaf, (uint32_t)sub, regs);
bad:
	errbuf_set(err, "vcpus[%d].leaves[%zu]: needs leaf, subleaf, eax, ebx, ecx, edx as hex", vi,
		   li);
	return -EINVAL;
}

static int parse_vcpus(struct json_object *a, struct snapshot *s, struct errbuf *err)
{
	size_t n = json_object_array_length(a);

	if (n < 1 || n > SNAPSHOT_MAX_VCPUS) {
		errbuf_set(err, "vcpus: expected 1 to %d entries, got %zu", SNAPSHOT_MAX_VCPUS, n);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *vo = json_object_array_get_idx(a, i), *cpu, *leaves;
		struct vcpu_dump *v;
		size_t nl;
		int ret;

		if (!json_object_is_type(vo, json_type_object) ||
		    !(cpu = member(vo, "cpu", json_type_int)) ||
		    !(leaves = member(vo, "leaves", json_type_array))) {
			errbuf_set(err,
				   "vcpus[%zu]: needs \"cpu\" (integer) and \"leaves\" (array)", i);
			return -EINVAL;
		}
		nl = json_object_array_length(leaves);
		if (nl > SNAPSHOT_MAX_LEAVES) {
			errbuf_set(err, "vcpus[%zu]: %zu leaves, at most %d", i, nl,
				   SNAPSHOT_MAX_LEAVES);
			return -EINVAL;
		}
		v = snapshot_add_vcpu(s, json_object_get_int(cpu));
		if (!v)
			return -ENOMEM;
		for (size_t j = 0; j < nl; j++) {
			ret = parse_leaf(json_object_array_get_idx(leaves, j), v, (int)i, j, err);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int parse_optional_hex(struct json_object *o, const char *key, bool *has, uint64_t *out,
			      struct errbuf *err)
{
	struct json_object *v;

	*has = false;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	if (parse_hex(v, UINT64_MAX, out)) {
		errbuf_set(err, "%s: expected a hex string or null", key);
		return -EINVAL;
	}
	*has = true;
	return 0;
}

static int parse_featset(struct json_object *o, const char *key, struct featset *fs,
			 struct errbuf *err)
{
	size_t n = json_object_array_length(o);

	memset(fs, 0, sizeof(*fs));
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(o, i);
		int id = json_object_is_type(v, json_type_string) ?
				 feature_lookup(json_object_get_string(v)) :
				 -1;

		if (id < 0) {
			errbuf_set(err, "%s[%zu]: unknown feature", key, i);
			return -EINVAL;
		}
		featset_add(fs, id);
	}
	return 0;
}

int snapshot_from_json(struct json_object *o, struct snapshot **out, struct errbuf *err)
{
	struct json_object *v, *x;
	struct snapshot *s;
	const char *str;
	int ret = -EINVAL;

	if (!json_object_is_type(o, json_type_object) ||
	    !(v = member(o, "format", json_type_string)) ||
	    strcmp(json_object_get_string(v), "cpudrift-snapshot")) {
		errbuf_set(err,
			   "not a cpudrift snapshot (\"format\" must be \"cpudrift-snapshot\")");
		return -EINVAL;
	}
	if (!(v = member(o, "version", json_type_int)) ||
	    json_object_get_int(v) != SNAPSHOT_FORMAT) {
		errbuf_set(err, "unsupported snapshot version (this cpudrift reads version %d)",
			   SNAPSHOT_FORMAT);
		return -EINVAL;
	}
	s = snapshot__new();
	if (!s)
		return -ENOMEM;
	if ((str = (v = member(o, "source", json_type_string)) ? json_object_get_string(v) : NULL))
		snprintf(s->source, sizeof(s->source), "%s", str);
	if ((v = member(o, "captured", json_type_object))) {
		if ((x = member(v, "realtime_ns", json_type_int)))
			s->realtime_ns = json_object_get_int64(x);
		if ((x = member(v, "monotonic_ns", json_type_int)))
			s->monotonic_ns = json_object_get_int64(x);
		if ((x = member(v, "boot_id", json_type_string)))
			snprintf(s->boot_id, sizeof(s->boot_id), "%s", json_object_get_string(x));
	}
	if (parse_optional_hex(o, "xcr0", &s->has_xcr0, &s->xcr0, err))
		goto fail;
	if ((v = member(o, "identity", json_type_object)) &&
	    parse_optional_hex(v, "microcode", &s->has_microcode, &s->microcode, err))
		goto fail;
	if ((v = member(o, "kernel_flags", json_type_array))) {
		size_t n = json_object_array_length(v);
		char **flags;

		if (n > SNAPSHOT_MAX_KFLAGS) {
			errbuf_set(err, "kernel_flags: more than %d entries", SNAPSHOT_MAX_KFLAGS);
			goto fail;
		}
		flags = calloc(n + 1, sizeof(*flags));
		if (!flags) {
			ret = -ENOMEM;
			goto fail;
		}
		for (size_t i = 0; i < n; i++) {
			x = json_object_array_get_idx(v, i);
			if (!json_object_is_type(x, json_type_string)) {
				free(flags);
				errbuf_set(err, "kernel_flags[%zu]: expected a string", i);
				goto fail;
			}
			flags[i] = (char *)json_object_get_string(x);
		}
		ret = snapshot_set_kflags(s, flags, n);
		free(flags);
		if (ret)
			goto fail;
		ret = -EINVAL;
	}
	if ((v = member(o, "shadow", json_type_object))) {
		if (!(x = member(v, "features", json_type_array))) {
			errbuf_set(err, "shadow.features: expected an array");
			goto fail;
		}
		if (parse_featset(x, "shadow.features", &s->shadow, err))
			goto fail;
		s->has_shadow = true;
	}
	if (!(v = member(o, "vcpus", json_type_array))) {
		errbuf_set(err, "vcpus: expected an array of raw leaves");
		goto fail;
	}
	ret = parse_vcpus(v, s, err);
	if (ret)
		goto fail;
	ret = decode_snapshot(s, err);
	if (ret)
		goto fail;
	*out = s;
	return 0;
fail:
	snapshot__free(s);
	return ret;
}
