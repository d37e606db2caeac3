// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <string.h>

#include "analysis/reportgroup.h"
#include "analysis/units.h"

/* Groups a report shows at most; the rest are counted under "more". */
#define MAX_GROUPS 50
#define MAX_GROUP_PIDS 20

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v = get(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

struct group_ref {
	char name[320];
	char kind[32];
	char remedy[512];
};

/* What a process with cgroup path @cgroup (may be "": unknown) belongs to (units.h). */
static void group_of(const char *cgroup, struct group_ref *g)
{
	struct unit_ref u;

	if (!cgroup || units_from_cgroup(cgroup, &u) || u.kind == UNIT_NONE) {
		snprintf(g->name, sizeof(g->name), "none");
		snprintf(g->kind, sizeof(g->kind), "none");
		snprintf(g->remedy, sizeof(g->remedy),
			 "restart these processes by hand: they belong to no unit or container");
		return;
	}
	units_group_name(&u, g->name, sizeof(g->name));
	snprintf(g->kind, sizeof(g->kind), "%s", unit_kind_name(u.kind));
	units_remedy(&u, g->remedy, sizeof(g->remedy));
}

void reportgroup_name(const char *cgroup, char *buf, size_t size)
{
	struct group_ref g;

	group_of(cgroup, &g);
	snprintf(buf, size, "%s", g.name);
}

/* The group of a process object: from its cgroup. */
static void group_of_proc(struct json_object *p, struct group_ref *g)
{
	group_of(get_str(p, "cgroup"), g);
}

static struct json_object *find_group(struct json_object *groups, const char *name)
{
	for (size_t i = 0; i < json_object_array_length(groups); i++) {
		struct json_object *g = json_object_array_get_idx(groups, i);

		if (!strcmp(get_str(g, "name"), name))
			return g;
	}
	return NULL;
}

static void bump(struct json_object *g, const char *key, int64_t by)
{
	struct json_object *v = get(g, key);

	if (v)
		json_object_set_int64(v, json_object_get_int64(v) + by);
}

/* Add @p to its group in @groups (made on first use); returns the group's name. */
static void add_to_group(struct json_object *groups, int64_t *more, struct json_object *p,
			 bool alive)
{
	struct group_ref ref;
	struct json_object *g;

	group_of_proc(p, &ref);
	json_object_object_add(p, "group", json_object_new_string(ref.name));
	g = find_group(groups, ref.name);
	if (!g) {
		if (json_object_array_length(groups) >= MAX_GROUPS) {
			(*more)++;
			return;
		}
		g = json_object_new_object();
		json_object_object_add(g, "name", json_object_new_string(ref.name));
		json_object_object_add(g, "kind", json_object_new_string(ref.kind));
		json_object_object_add(g, "remedy", json_object_new_string(ref.remedy));
		json_object_object_add(g, "count", json_object_new_int64(0));
		json_object_object_add(g, "alive", json_object_new_int64(0));
		json_object_object_add(g, "pids", json_object_new_array());
		json_object_array_add(groups, g);
	}
	bump(g, "count", 1);
	bump(g, "alive", alive);
	if (json_object_array_length(get(g, "pids")) < MAX_GROUP_PIDS)
		json_object_array_add(get(g, "pids"), json_object_get(get(p, "pid")));
}

static bool has_pid(struct json_object *g, int pid)
{
	struct json_object *pids = get(g, "pids");

	for (size_t i = 0; pids && i < json_object_array_length(pids); i++)
		if (json_object_get_int(json_object_array_get_idx(pids, i)) == pid)
			return true;
	return false;
}

static struct json_object *given_groups(struct json_object *o, struct json_object *procs,
					struct json_object *groups, struct json_object *at_risk,
					report_alive_fn alive, void *ctx, int64_t *nalive)
{
	struct json_object *src = get(at_risk, "processes"), *g = get(at_risk, "groups");

	for (size_t i = 0; i < json_object_array_length(g); i++) {
		struct json_object *c = NULL;

		if (json_object_deep_copy(json_object_array_get_idx(g, i), &c, NULL) || !c)
			continue;
		json_object_object_add(c, "alive", json_object_new_int64(0));
		json_object_array_add(groups, c);
	}
	for (size_t i = 0; src && i < json_object_array_length(src); i++) {
		struct json_object *c = NULL;
		int pid;
		bool a;

		if (json_object_deep_copy(json_object_array_get_idx(src, i), &c, NULL) || !c)
			continue;
		pid = json_object_get_int(get(c, "pid"));
		a = alive && alive(pid, json_object_get_int64(get(c, "start_boot_ns")), ctx);
		*nalive += a;
		json_object_object_add(c, "alive", json_object_new_boolean(a));
		for (size_t k = 0; k < json_object_array_length(groups); k++) {
			struct json_object *grp = json_object_array_get_idx(groups, k);

			if (!has_pid(grp, pid))
				continue;
			json_object_object_add(c, "group",
					       json_object_new_string(get_str(grp, "name")));
			bump(grp, "alive", a);
			break;
		}
		json_object_array_add(procs, c);
	}
	json_object_object_add(o, "total",
			       json_object_get(get(at_risk, "total")) ?: json_object_new_int64(0));
	json_object_object_add(o, "above_level", json_object_get(get(at_risk, "above_level")));
	json_object_object_add(o, "alive", json_object_new_int64(*nalive));
	json_object_object_add(o, "processes", procs);
	json_object_object_add(o, "groups", groups);
	json_object_object_add(o, "groups_omitted",
			       json_object_get(get(at_risk, "groups_omitted")) ?:
				       json_object_new_int64(0));
	return o;
}

struct json_object *reportgroup_at_risk(struct json_object *at_risk, report_alive_fn alive,
					void *ctx, int64_t *nalive)
{
	struct json_object *o = json_object_new_object(), *procs = json_object_new_array(),
			   *groups = json_object_new_array(), *src = get(at_risk, "processes");
	int64_t more = 0;

	*nalive = 0;
	/* The at-risk list groups its processes itself (capture knows their cgroups). */
	if (json_object_is_type(get(at_risk, "groups"), json_type_array))
		return given_groups(o, procs, groups, at_risk, alive, ctx, nalive);
	for (size_t i = 0; src && i < json_object_array_length(src); i++) {
		struct json_object *p = json_object_array_get_idx(src, i), *c = NULL;
		bool a;

		if (json_object_deep_copy(p, &c, NULL) || !c)
			continue;
		a = alive && alive(json_object_get_int(get(c, "pid")),
				   json_object_get_int64(get(c, "start_boot_ns")), ctx);
		*nalive += a;
		json_object_object_add(c, "alive", json_object_new_boolean(a));
		add_to_group(groups, &more, c, a);
		json_object_array_add(procs, c);
	}
	json_object_object_add(o, "total",
			       json_object_get(get(at_risk, "total")) ?: json_object_new_int64(0));
	json_object_object_add(o, "above_level", json_object_get(get(at_risk, "above_level")));
	json_object_object_add(o, "alive", json_object_new_int64(*nalive));
	json_object_object_add(o, "processes", procs);
	json_object_object_add(o, "groups", groups);
	json_object_object_add(o, "groups_omitted", json_object_new_int64(more));
	return o;
}

struct json_object *reportgroup_processes(struct json_object *procs, int64_t total)
{
	struct json_object *o = json_object_new_object(), *list = json_object_new_array(),
			   *groups = json_object_new_array();
	int64_t more = 0;

	for (size_t i = 0; i < json_object_array_length(procs); i++) {
		struct json_object *c = NULL;

		if (json_object_deep_copy(json_object_array_get_idx(procs, i), &c, NULL) || !c)
			continue;
		add_to_group(groups, &more, c, false);
		json_object_array_add(list, c);
	}
	json_object_object_add(o, "total", json_object_new_int64(total));
	json_object_object_add(o, "list", list);
	json_object_object_add(o, "groups", groups);
	json_object_object_add(o, "groups_omitted", json_object_new_int64(more));
	return o;
}

struct json_object *reportgroup_remedy(struct json_object *at_risk, struct json_object *casualties)
{
	struct json_object *out = json_object_new_array(), *g = get(at_risk, "groups");
	char line[768];

	for (size_t i = 0; g && i < json_object_array_length(g); i++) {
		struct json_object *grp = json_object_array_get_idx(g, i);
		int64_t n = json_object_get_int64(get(grp, "alive"));

		if (!n)
			continue;
		snprintf(line, sizeof(line), "%s (%lld process%s still at risk in %s)",
			 get_str(grp, "remedy"), (long long)n, n == 1 ? "" : "es",
			 get_str(grp, "name"));
		json_object_array_add(out, json_object_new_string(line));
	}
	g = get(casualties, "groups");
	for (size_t i = 0; g && i < json_object_array_length(g); i++) {
		struct json_object *grp = json_object_array_get_idx(g, i);
		int64_t n = json_object_get_int64(get(grp, "count"));

		if (find_group(get(at_risk, "groups"), get_str(grp, "name")))
			continue;
		snprintf(line, sizeof(line),
			 "%s (%lld process%s died of a fault in %s; check that it came back)",
			 get_str(grp, "remedy"), (long long)n, n == 1 ? "" : "es",
			 get_str(grp, "name"));
		json_object_array_add(out, json_object_new_string(line));
	}
	return out;
}
