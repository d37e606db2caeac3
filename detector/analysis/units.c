// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Cgroup paths to units, containers and pods.  The layouts are those systemd, the kubelet
 * (systemd and cgroupfs drivers) and the container runtimes create; the names come from
 * their documentation and source: systemd.unit(5) (unit name characters), systemd's
 * cg_path_get_unit() (the first unit below the slices), the kubelet's cgroup manager
 * (kubepods[-QOS][-podUID].slice, "-" in the UID written as "_"), docker's, containerd's,
 * CRI-O's and podman's scope prefixes.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/units.h"

static const char *const kind_names[] = {
#define X(id, name) [UNIT_##id] = name,
	UNIT_KINDS(X)
#undef X
};

static const char *const runtime_names[] = {
#define X(id, name) [RUNTIME_##id] = name,
	UNIT_RUNTIMES(X)
#undef X
};

static const char *const qos_names[] = {
#define X(id, name) [QOS_##id] = name,
	POD_QOS_CLASSES(X)
#undef X
};

const char *unit_kind_name(enum unit_kind k)
{
	return (unsigned)k < UNIT__COUNT ? kind_names[k] : "none";
}

const char *unit_runtime_name(enum unit_runtime r)
{
	return (unsigned)r <= RUNTIME_PODMAN ? runtime_names[r] : "";
}

const char *pod_qos_name(enum pod_qos q)
{
	return (unsigned)q <= QOS_BESTEFFORT ? qos_names[q] : "";
}

/* The scopes container runtimes create for a container (systemd cgroup driver). */
static const struct scope_prefix {
	const char *prefix;
	enum unit_runtime runtime;
	bool monitor;
} scope_prefixes[] = {
	/* longer prefixes first: "crio-conmon-" before "crio-" */
	{ "cri-containerd-", RUNTIME_CONTAINERD, false },
	{ "crio-conmon-", RUNTIME_CRIO, true },
	{ "crio-", RUNTIME_CRIO, false },
	{ "libpod-conmon-", RUNTIME_PODMAN, true },
	{ "libpod-", RUNTIME_PODMAN, false },
	{ "docker-", RUNTIME_DOCKER, false },
};

/* The kubelet's QoS slices and cgroupfs folders. */
static const struct qos_word {
	const char *word;
	enum pod_qos qos;
} qos_words[] = {
	{ "burstable", QOS_BURSTABLE },
	{ "besteffort", QOS_BESTEFFORT },
};

/* One path component: not NUL-terminated. */
struct comp {
	const char *s;
	size_t n;
};

static bool comp_is(struct comp c, const char *word)
{
	return c.n == strlen(word) && !memcmp(c.s, word, c.n);
}

static bool has_prefix(struct comp c, const char *p)
{
	size_t n = strlen(p);

	return c.n >= n && !memcmp(c.s, p, n);
}

static bool has_suffix(struct comp c, const char *sfx)
{
	size_t n = strlen(sfx);

	return c.n >= n && !memcmp(c.s + c.n - n, sfx, n);
}

static bool all_of(const char *s, size_t n, const char *set, bool alnum)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		bool ok = (alnum && ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
				     (ch >= 'A' && ch <= 'Z'))) ||
			  (ch && strchr(set, ch));

		if (!ok)
			return false;
	}
	return true;
}

static bool is_hex_id(const char *s, size_t n)
{
	/* Runtimes name containers by 64 hex digits; 12 is the shortest form anyone prints. */
	return n >= 12 && n < UNITS_ID_MAX && all_of(s, n, "0123456789abcdef", false);
}

static bool is_pod_uid(const char *s, size_t n)
{
	/* A UUID, or the 32-digit hash of a static pod; "_" stands for "-" in slice names. */
	return n >= 8 && n < UNITS_ID_MAX && all_of(s, n, "0123456789abcdef-_", false);
}

static void copy_id(char *dst, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = s[i] == '_' ? '-' : s[i];
	dst[n] = 0;
}

/*
 * A unit name systemd could have made: its characters (systemd.unit(5)), a non-empty
 * prefix, and no leading "-" or "." (the root slice "-.slice" is a slice, never a unit a
 * remedy restarts, and a leading "-" would read as an option on a command line).
 */
static bool is_unit(struct comp c)
{
	size_t sfx;

	if (has_suffix(c, ".service"))
		sfx = strlen(".service");
	else if (has_suffix(c, ".scope"))
		sfx = strlen(".scope");
	else
		return false;
	return c.n > sfx && c.n < UNITS_NAME_MAX && c.s[0] != '-' && c.s[0] != '.' &&
	       all_of(c.s, c.n, ":-_.\\@", true);
}

/* "user-1000.slice" -> 1000; "user@1000.service" -> 1000; else -1. */
static long uid_of(struct comp c, const char *prefix, const char *suffix)
{
	size_t p = strlen(prefix), s = strlen(suffix);
	long uid = 0;

	if (!has_prefix(c, prefix) || !has_suffix(c, suffix) || c.n <= p + s || c.n - p - s > 10)
		return -1;
	for (size_t i = p; i < c.n - s; i++) {
		if (c.s[i] < '0' || c.s[i] > '9')
			return -1;
		uid = uid * 10 + (c.s[i] - '0');
	}
	return uid <= UINT32_MAX ? uid : -1;
}

/* A container scope: PREFIX + hex ID + ".scope". */
static bool container_scope(struct comp c, struct unit_ref *u)
{
	for (size_t i = 0; i < sizeof(scope_prefixes) / sizeof(scope_prefixes[0]); i++) {
		const struct scope_prefix *sp = &scope_prefixes[i];
		size_t p = strlen(sp->prefix), s = strlen(".scope");

		if (!has_prefix(c, sp->prefix) || !has_suffix(c, ".scope") || c.n <= p + s)
			continue;
		if (!is_hex_id(c.s + p, c.n - p - s))
			return false;
		u->runtime = sp->runtime;
		u->monitor = sp->monitor;
		copy_id(u->container, c.s + p, c.n - p - s);
		return true;
	}
	return false;
}

/*
 * A kubelet slice (systemd driver): "[ROOT-]kubepods[-QOS][-podUID].slice", each level
 * repeating its parent's name.  Sets the QoS class and the pod UID it names.
 */
static void kube_slice(struct comp c, struct unit_ref *u)
{
	struct comp rest = { c.s, c.n - strlen(".slice") };
	const char *k = NULL;

	for (size_t i = 0; i + 8 <= rest.n; i++)
		if (!memcmp(rest.s + i, "kubepods", 8) && (i == 0 || rest.s[i - 1] == '-')) {
			k = rest.s + i;
			break;
		}
	if (!k)
		return;
	rest.n -= (size_t)(k - rest.s) + 8;
	rest.s = k + 8;
	for (size_t i = 0; i < sizeof(qos_words) / sizeof(qos_words[0]); i++) {
		size_t n = strlen(qos_words[i].word);

		if (rest.n > n && rest.s[0] == '-' && !memcmp(rest.s + 1, qos_words[i].word, n) &&
		    (rest.n == n + 1 || rest.s[n + 1] == '-')) {
			u->qos = qos_words[i].qos;
			rest.s += n + 1;
			rest.n -= n + 1;
			break;
		}
	}
	if (rest.n > 4 && !memcmp(rest.s, "-pod", 4) && is_pod_uid(rest.s + 4, rest.n - 4))
		copy_id(u->pod, rest.s + 4, rest.n - 4);
}

/*
 * "SLICE:PREFIX:ID", systemd's notation for a container's cgroup, which containerd with
 * its cgroupfs driver but a kubelet on the systemd driver writes literally as one folder
 * name (at the root, or under containerd.service in name=systemd).
 */
static bool systemd_notation(struct comp c, struct unit_ref *u)
{
	const char *a = memchr(c.s, ':', c.n), *b;
	struct unit_ref r = { .uid = -1 };
	struct comp slice, id;

	if (!a || !(b = memchr(a + 1, ':', c.n - (size_t)(a + 1 - c.s))))
		return false;
	slice = (struct comp){ c.s, (size_t)(a - c.s) };
	id = (struct comp){ b + 1, c.n - (size_t)(b + 1 - c.s) };
	if (!has_suffix(slice, ".slice") || !is_hex_id(id.s, id.n))
		return false;
	for (size_t i = 0; i < sizeof(scope_prefixes) / sizeof(scope_prefixes[0]); i++) {
		const char *p = scope_prefixes[i].prefix;
		size_t n = strlen(p) - 1; /* without its "-" */

		if ((size_t)(b - a - 1) == n && !memcmp(a + 1, p, n)) {
			r.runtime = scope_prefixes[i].runtime;
			r.monitor = scope_prefixes[i].monitor;
			break;
		}
	}
	if (r.runtime == RUNTIME_NONE)
		return false;
	kube_slice(slice, &r);
	copy_id(r.container, id.s, id.n);
	u->runtime = r.runtime;
	u->monitor = r.monitor;
	memcpy(u->container, r.container, sizeof(u->container));
	if (r.pod[0]) {
		memcpy(u->pod, r.pod, sizeof(u->pod));
		u->qos = r.qos;
	}
	return true;
}

/* cgroupfs layouts, recognised only from the root: /docker/ID, /kubepods/[QOS/]podUID/ID. */
static void cgroupfs_layout(const struct comp *c, size_t n, struct unit_ref *u)
{
	size_t i = 1;

	if (n >= 1 && systemd_notation(c[0], u))
		return;
	if (n >= 2 && comp_is(c[0], "docker") && is_hex_id(c[1].s, c[1].n)) {
		u->runtime = RUNTIME_DOCKER;
		copy_id(u->container, c[1].s, c[1].n);
		return;
	}
	if (n >= 2 && comp_is(c[0], "libpod_parent")) {
		container_scope((struct comp){ c[1].s, c[1].n }, u);
		return;
	}
	if (n < 2 || !comp_is(c[0], "kubepods"))
		return;
	for (size_t q = 0; q < sizeof(qos_words) / sizeof(qos_words[0]); q++)
		if (comp_is(c[1], qos_words[q].word)) {
			u->qos = qos_words[q].qos;
			i = 2;
		}
	if (i >= n || !has_prefix(c[i], "pod") || !is_pod_uid(c[i].s + 3, c[i].n - 3))
		return;
	copy_id(u->pod, c[i].s + 3, c[i].n - 3);
	if (i + 1 < n && is_hex_id(c[i + 1].s, c[i + 1].n))
		copy_id(u->container, c[i + 1].s, c[i + 1].n);
}

static enum unit_kind kind_of(const struct unit_ref *u)
{
	struct comp unit = { u->unit, strlen(u->unit) };
	struct comp user = { u->user_unit, strlen(u->user_unit) };

	if (u->pod[0])
		return UNIT_POD;
	if (u->container[0])
		return UNIT_CONTAINER;
	if (user.n)
		return comp_is(user, "init.scope")  ? UNIT_USER_MANAGER :
		       has_suffix(user, ".service") ? UNIT_USER_SERVICE :
						      UNIT_USER_SCOPE;
	if (!unit.n)
		return UNIT_NONE;
	if (comp_is(unit, "init.scope"))
		return UNIT_INIT;
	if (uid_of(unit, "user@", ".service") >= 0)
		return UNIT_USER_MANAGER;
	if (has_prefix(unit, "session-") && has_suffix(unit, ".scope") && unit.n > 14 &&
	    all_of(unit.s + 8, unit.n - 14, "", true))
		return UNIT_SESSION;
	return has_suffix(unit, ".service") ? UNIT_SERVICE : UNIT_SCOPE;
}

#define MAX_COMPS 64

int units_from_cgroup(const char *path, struct unit_ref *u)
{
	struct comp c[MAX_COMPS];
	size_t n = 0, len;
	bool in_user = false;
	const char *p;

	memset(u, 0, sizeof(*u));
	u->uid = -1;
	if (!path || path[0] != '/' || (len = strnlen(path, PATH_MAX)) >= PATH_MAX)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f)
			return -EINVAL;
	for (p = path; *p;) {
		const char *e;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		e = strchrnul(p, '/');
		if ((e - p == 1 && p[0] == '.') || (e - p == 2 && p[0] == '.' && p[1] == '.'))
			return -EINVAL;
		/* Deeper than any manager nests: only the first levels name anything. */
		if (n < MAX_COMPS)
			c[n++] = (struct comp){ p, (size_t)(e - p) };
		p = e;
	}

	cgroupfs_layout(c, n, u);
	for (size_t i = 0; i < n && !u->container[0]; i++) {
		if (has_suffix(c[i], ".slice")) {
			/* Slices a user's manager makes are the user's to name: no pods there. */
			if (!in_user) {
				long uid = uid_of(c[i], "user-", ".slice");

				if (uid >= 0)
					u->uid = uid;
				kube_slice(c[i], u);
			}
			continue;
		}
		if (!is_unit(c[i]))
			break;
		if (!in_user) {
			long uid = uid_of(c[i], "user@", ".service");

			snprintf(u->unit, sizeof(u->unit), "%.*s", (int)c[i].n, c[i].s);
			if (container_scope(c[i], u))
				break;
			/* containerd.service/SLICE:cri-containerd:ID (see systemd_notation) */
			if (uid < 0) {
				if (i + 1 < n && comp_is(c[i], "containerd.service"))
					systemd_notation(c[i + 1], u);
				break;
			}
			u->uid = uid;
			in_user = true;
			continue;
		}
		snprintf(u->user_unit, sizeof(u->user_unit), "%.*s", (int)c[i].n, c[i].s);
		container_scope(c[i], u);
		break;
	}
	/* Between a pod slice and its container scope sits nothing; a pod alone is a pod. */
	if (u->pod[0] && u->qos == QOS_NONE)
		u->qos = QOS_GUARANTEED;
	u->kind = kind_of(u);
	return 0;
}

/* A unit name for a shell: plain when its characters need no quoting, else in '...'
 * (unit names never hold a quote). */
static const char *shell_name(const char *name, char *buf, size_t len)
{
	if (all_of(name, strlen(name), ":-_.@", true))
		return name;
	snprintf(buf, len, "'%s'", name);
	return buf;
}

void units_remedy(const struct unit_ref *u, char *buf, size_t len)
{
	char q1[UNITS_NAME_MAX + 3], q2[UNITS_NAME_MAX + 3];
	const char *unit = shell_name(u->unit, q1, sizeof(q1));
	const char *user = shell_name(u->user_unit, q2, sizeof(q2));

	if (!len)
		return;
	switch (u->kind) {
	case UNIT_SERVICE:
		snprintf(buf, len, "systemctl restart %s", unit);
		break;
	case UNIT_SCOPE:
		snprintf(buf, len,
			 "systemctl stop %s, then start its programs again (a scope cannot be "
			 "restarted)",
			 unit);
		break;
	case UNIT_INIT:
		snprintf(buf, len, "systemctl daemon-reexec (PID 1 starts its code again)");
		break;
	case UNIT_SESSION:
		snprintf(buf, len, "loginctl terminate-session %.*s, then log in again",
			 (int)(strlen(u->unit) - strlen("session-") - strlen(".scope")),
			 u->unit + strlen("session-"));
		break;
	case UNIT_USER_MANAGER:
		snprintf(buf, len, "systemctl restart user@%ld.service", u->uid);
		break;
	case UNIT_USER_SERVICE:
		snprintf(buf, len, "systemctl --user -M %ld@ restart %s", u->uid, user);
		break;
	case UNIT_USER_SCOPE:
		snprintf(buf, len,
			 "systemctl --user -M %ld@ stop %s, then start its programs again (a "
			 "scope cannot be restarted)",
			 u->uid, user);
		break;
	case UNIT_CONTAINER:
		switch (u->runtime) {
		case RUNTIME_DOCKER:
			snprintf(buf, len, "docker restart %s", u->container);
			break;
		case RUNTIME_PODMAN:
			snprintf(buf, len, "podman restart %s", u->container);
			break;
		default:
			/* A CRI container outside a pod slice: the kubelet restarts what stops. */
			snprintf(buf, len, "crictl stop %s (the kubelet starts it again)",
				 u->container);
			break;
		}
		break;
	case UNIT_POD:
		snprintf(buf, len,
			 "kubectl delete pod -n NAMESPACE NAME for the pod with UID %s (its "
			 "controller recreates it); find it with: kubectl get pods -A -o "
			 "custom-columns=NAMESPACE:.metadata.namespace,NAME:.metadata.name,"
			 "UID:.metadata.uid | grep %s",
			 u->pod, u->pod);
		break;
	default:
		snprintf(buf, len, "restart these processes: they belong to no unit or container");
		break;
	}
}

void units_group_name(const struct unit_ref *u, char *buf, size_t len)
{
	switch (u->kind) {
	case UNIT_SERVICE:
	case UNIT_SCOPE:
	case UNIT_INIT:
	case UNIT_SESSION:
		snprintf(buf, len, "%s", u->unit);
		break;
	case UNIT_USER_MANAGER:
		snprintf(buf, len, "user@%ld.service", u->uid);
		break;
	case UNIT_USER_SERVICE:
	case UNIT_USER_SCOPE:
		snprintf(buf, len, "user@%ld.service/%s", u->uid, u->user_unit);
		break;
	case UNIT_CONTAINER:
		snprintf(buf, len, "%s:%s",
			 u->runtime ? unit_runtime_name(u->runtime) : "container", u->container);
		break;
	case UNIT_POD:
		snprintf(buf, len, "pod:%s", u->pod);
		break;
	default:
		snprintf(buf, len, "none");
		break;
	}
}

static void add_str(struct json_object *o, const char *key, const char *v)
{
	if (v && v[0])
		json_object_object_add(o, key, json_object_new_string(v));
}

static void add_ref_fields(struct json_object *o, const struct unit_ref *u)
{
	add_str(o, "unit", u->unit);
	add_str(o, "user_unit", u->user_unit);
	if (u->uid >= 0)
		json_object_object_add(o, "uid", json_object_new_int64(u->uid));
	add_str(o, "runtime", unit_runtime_name(u->runtime));
	add_str(o, "container", u->container);
	add_str(o, "pod", u->pod);
	add_str(o, "qos", pod_qos_name(u->qos));
}

struct json_object *units_to_json(const struct unit_ref *u)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "kind", json_object_new_string(unit_kind_name(u->kind)));
	add_ref_fields(o, u);
	return o;
}

/* --- groups ------------------------------------------------------------------------------ */

struct group {
	struct unit_ref ref;
	char name[UNITS_NAME_MAX * 2];
	uint64_t hash;
	size_t count, npids;
	int *pids;
};

struct units_groups {
	size_t max_groups, max_pids, n, omitted;
	struct group *v;
};

int units_groups__new(size_t max_groups, size_t max_pids, struct units_groups **out)
{
	struct units_groups *g = calloc(1, sizeof(*g));

	*out = NULL;
	if (!g)
		return -ENOMEM;
	g->max_groups = max_groups;
	g->max_pids = max_pids;
	*out = g;
	return 0;
}

void units_groups__free(struct units_groups *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++)
		free(g->v[i].pids);
	free(g->v);
	free(g);
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

int units_groups_add(struct units_groups *g, int pid, const struct unit_ref *u)
{
	static const struct unit_ref none = { .kind = UNIT_NONE, .uid = -1 };
	char name[sizeof(((struct group *)0)->name)];
	struct group *gr = NULL;
	uint64_t h;

	if (!u)
		u = &none;
	units_group_name(u, name, sizeof(name));
	h = fnv1a(name) ^ (uint64_t)u->kind;
	for (size_t i = 0; i < g->n && !gr; i++)
		if (g->v[i].hash == h && g->v[i].ref.kind == u->kind && !strcmp(g->v[i].name, name))
			gr = &g->v[i];
	if (!gr) {
		if (g->n == g->max_groups) {
			g->omitted++;
			return 0;
		}
		if (!g->v && !(g->v = calloc(g->max_groups, sizeof(*g->v))))
			return -ENOMEM;
		gr = &g->v[g->n];
		if (g->max_pids && !(gr->pids = calloc(g->max_pids, sizeof(*gr->pids))))
			return -ENOMEM;
		g->n++;
		gr->ref = *u;
		gr->hash = h;
		snprintf(gr->name, sizeof(gr->name), "%s", name);
	}
	gr->count++;
	if (gr->npids < g->max_pids)
		gr->pids[gr->npids++] = pid;
	return 0;
}

struct json_object *units_groups_to_json(const struct units_groups *g)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < g->n; i++) {
		const struct group *gr = &g->v[i];
		struct json_object *o = json_object_new_object(), *pids = json_object_new_array();
		char remedy[1024];

		units_remedy(&gr->ref, remedy, sizeof(remedy));
		json_object_object_add(o, "name", json_object_new_string(gr->name));
		json_object_object_add(o, "kind",
				       json_object_new_string(unit_kind_name(gr->ref.kind)));
		json_object_object_add(o, "remedy", json_object_new_string(remedy));
		json_object_object_add(o, "count", json_object_new_int64((int64_t)gr->count));
		for (size_t k = 0; k < gr->npids; k++)
			json_object_array_add(pids, json_object_new_int(gr->pids[k]));
		json_object_object_add(o, "pids", pids);
		add_ref_fields(o, &gr->ref);
		json_object_array_add(a, o);
	}
	return a;
}

size_t units_groups_omitted(const struct units_groups *g)
{
	return g->omitted;
}
