// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/atrisk.h"

/* Names a reason spells out before it says "+N more". */
#define REASON_NAMES 4

bool atrisk_candidate(const struct atrisk_proc *p, const struct atrisk_query *q)
{
	return !p->self && p->start_boot_ns < q->change_boot_ns;
}

bool atrisk_above(const struct atrisk_proc *p, const struct atrisk_query *q)
{
	return q->level > 0 && p->hwcaps_level > q->level;
}

/* unmasked, then unknown, then masked */
static int mask_rank(int masked)
{
	return masked == 0 ? 0 : masked < 0 ? 1 : 2;
}

int atrisk_cmp(const struct atrisk_proc *a, const struct atrisk_proc *b,
	       const struct atrisk_query *q)
{
	bool xa = atrisk_above(a, q), xb = atrisk_above(b, q);

	if (xa != xb)
		return xa ? -1 : 1;
	if (mask_rank(a->glibc_masked) != mask_rank(b->glibc_masked))
		return mask_rank(a->glibc_masked) - mask_rank(b->glibc_masked);
	if (a->start_boot_ns != b->start_boot_ns)
		return a->start_boot_ns < b->start_boot_ns ? -1 : 1;
	return (a->pid > b->pid) - (a->pid < b->pid);
}

static int cmp_r(const void *a, const void *b, void *q)
{
	return atrisk_cmp(a, b, q);
}

size_t atrisk_select(struct atrisk_proc *v, size_t n, const struct atrisk_query *q)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (atrisk_candidate(&v[i], q))
			v[k++] = v[i];
	if (k > 1)
		qsort_r(v, k, sizeof(*v), cmp_r, (void *)q);
	return k;
}

/* Append to @buf (of @len) at *@at, never past its end. */
static void add(char *buf, size_t len, size_t *at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void add(char *buf, size_t len, size_t *at, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*at >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *at, len - *at, fmt, ap);
	va_end(ap);
	if (n > 0)
		*at = *at + (size_t)n < len ? *at + (size_t)n : len - 1;
}

void atrisk_reason(const struct atrisk_proc *p, const struct atrisk_query *q, char *buf, size_t len)
{
	const char *names[FEAT__COUNT];
	int n = featset_names(&q->lost, names);
	size_t at = 0;

	if (!len)
		return;
	buf[0] = 0;
	if (atrisk_above(p, q))
		add(buf, len, &at, "maps glibc-hwcaps/x86-64-v%d above v%d now; ", p->hwcaps_level,
		    q->level);
	if (n) {
		add(buf, len, &at, "started with ");
		for (int i = 0; i < n && i < REASON_NAMES; i++)
			add(buf, len, &at, "%s%s", i ? "," : "", names[i]);
		if (n > REASON_NAMES)
			add(buf, len, &at, " (+%d more)", n - REASON_NAMES);
		add(buf, len, &at, " present");
	} else {
		add(buf, len, &at, "started before the change");
	}
	if (p->glibc_masked > 0)
		add(buf, len, &at, "; glibc masked to baseline code, its own code may not be");
	else if (p->glibc_masked < 0)
		add(buf, len, &at, "; glibc mask unknown (environment unreadable)");
}

static struct json_object *str_or_null(const char *s)
{
	return s && s[0] ? json_object_new_string(s) : NULL;
}

/* The unit a process runs in: the system unit, or user@UID.service/UNIT. */
static struct json_object *unit_json(const struct unit_ref *u)
{
	char buf[UNITS_NAME_MAX * 2];

	if (!u || !u->unit[0])
		return NULL;
	if (u->user_unit[0]) {
		snprintf(buf, sizeof(buf), "%s/%s", u->unit, u->user_unit);
		return json_object_new_string(buf);
	}
	return json_object_new_string(u->unit);
}

static struct json_object *proc_json(const struct atrisk_proc *p, const struct atrisk_query *q)
{
	struct json_object *j = json_object_new_object();
	char reason[512], group[UNITS_NAME_MAX * 2];
	static const struct unit_ref none = { .kind = UNIT_NONE, .uid = -1 };

	atrisk_reason(p, q, reason, sizeof(reason));
	units_group_name(p->unit ? p->unit : &none, group, sizeof(group));
	json_object_object_add(j, "pid", json_object_new_int(p->pid));
	json_object_object_add(j, "comm", str_or_null(p->comm));
	json_object_object_add(j, "exe", str_or_null(p->exe));
	json_object_object_add(j, "start_boottime_ns", json_object_new_int64(p->start_boot_ns));
	json_object_object_add(j, "unit", unit_json(p->unit));
	json_object_object_add(j, "container", str_or_null(p->unit ? p->unit->container : NULL));
	json_object_object_add(j, "pod", str_or_null(p->unit ? p->unit->pod : NULL));
	json_object_object_add(j, "group", json_object_new_string(group));
	json_object_object_add(j, "hwcaps_level",
			       p->hwcaps_level < 0 ? NULL : json_object_new_int(p->hwcaps_level));
	json_object_object_add(j, "above_level", json_object_new_boolean(atrisk_above(p, q)));
	json_object_object_add(j, "glibc_masked",
			       p->glibc_masked < 0 ? NULL :
						     json_object_new_boolean(p->glibc_masked > 0));
	json_object_object_add(j, "reason", json_object_new_string(reason));
	return j;
}

struct json_object *atrisk_to_json(const struct atrisk_proc *v, size_t n,
				   const struct atrisk_query *q, const struct atrisk_json_opts *o)
{
	size_t listed = o ? o->listed_max : ATRISK_LISTED_MAX;
	size_t gmax = o && o->groups_max ? o->groups_max : ATRISK_GROUPS_MAX;
	size_t pmax = o && o->group_pids_max ? o->group_pids_max : ATRISK_GROUP_PIDS_MAX;
	size_t above = 0, masked = 0, unknown = 0;
	struct json_object *out, *procs;
	struct units_groups *g;

	if (units_groups__new(gmax, pmax, &g))
		return NULL;
	out = json_object_new_object();
	procs = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		above += atrisk_above(&v[i], q);
		masked += v[i].glibc_masked > 0;
		unknown += v[i].glibc_masked < 0;
		if (units_groups_add(g, v[i].pid, v[i].unit)) {
			json_object_put(out);
			json_object_put(procs);
			units_groups__free(g);
			return NULL;
		}
		if (i < listed)
			json_object_array_add(procs, proc_json(&v[i], q));
	}
	json_object_object_add(out, "change_boot_ns", json_object_new_int64(q->change_boot_ns));
	json_object_object_add(out, "level", json_object_new_int(q->level));
	json_object_object_add(out, "lost", featset_to_json(&q->lost));
	json_object_object_add(out, "total", json_object_new_int64((int64_t)n));
	json_object_object_add(out, "above_level", json_object_new_int64((int64_t)above));
	json_object_object_add(out, "masked", json_object_new_int64((int64_t)masked));
	json_object_object_add(out, "mask_unknown", json_object_new_int64((int64_t)unknown));
	json_object_object_add(out, "checked",
			       json_object_new_int64((int64_t)(o ? o->checked : n)));
	if (o && o->as_of_boot_ns)
		json_object_object_add(out, "as_of_boot_ns",
				       json_object_new_int64(o->as_of_boot_ns));
	json_object_object_add(out, "complete", json_object_new_boolean(o ? o->complete : true));
	json_object_object_add(out, "groups", units_groups_to_json(g));
	json_object_object_add(out, "groups_omitted",
			       json_object_new_int64((int64_t)units_groups_omitted(g)));
	json_object_object_add(out, "processes", procs);
	units_groups__free(g);
	return out;
}
