/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a process belongs to, from its cgroup path (pure): the systemd unit (services,
 * scopes, login sessions, the units of a user's manager), the container (docker,
 * containerd, CRI-O, podman) and the Kubernetes pod (UID and QoS class), and the remedy for
 * each: what to restart so that its programs pick their code paths again on this CPU.
 * Processes are then grouped by what the remedy acts on.
 *
 * A name counts only where its manager puts it: the first unit below the slices is the
 * system unit, the first unit below user@UID.service's slices is the user unit, containers
 * and pods are recognised only in those places or at the root of a cgroupfs layout
 * (/docker/ID, /kubepods/...).  Sub-cgroups a unit creates under delegation (where any
 * user may choose names) are never read as units, containers or pods.
 */
#ifndef CPUDRIFT_UNITS_H
#define CPUDRIFT_UNITS_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

/* X(ID, "name"): what a group's remedy acts on, from the most specific down. */
#define UNIT_KINDS(X)                   \
	X(NONE, "none")                 \
	X(SERVICE, "service")           \
	X(SCOPE, "scope")               \
	X(INIT, "init")                 \
	X(SESSION, "session")           \
	X(USER_MANAGER, "user-manager") \
	X(USER_SERVICE, "user-service") \
	X(USER_SCOPE, "user-scope")     \
	X(CONTAINER, "container")       \
	X(POD, "pod")

enum unit_kind {
#define X(id, name) UNIT_##id,
	UNIT_KINDS(X)
#undef X
		UNIT__COUNT
};

/* X(ID, "name") */
#define UNIT_RUNTIMES(X)            \
	X(NONE, "")                 \
	X(DOCKER, "docker")         \
	X(CONTAINERD, "containerd") \
	X(CRIO, "cri-o")            \
	X(PODMAN, "podman")

enum unit_runtime {
#define X(id, name) RUNTIME_##id,
	UNIT_RUNTIMES(X)
#undef X
};

/* X(ID, "name"): the kubelet's QoS classes, which name its cgroup slices */
#define POD_QOS_CLASSES(X)          \
	X(NONE, "")                 \
	X(GUARANTEED, "guaranteed") \
	X(BURSTABLE, "burstable")   \
	X(BESTEFFORT, "besteffort")

enum pod_qos {
#define X(id, name) QOS_##id,
	POD_QOS_CLASSES(X)
#undef X
};

const char *unit_kind_name(enum unit_kind k);
const char *unit_runtime_name(enum unit_runtime r);
const char *pod_qos_name(enum pod_qos q);

#define UNITS_NAME_MAX 256 /* systemd's UNIT_NAME_MAX */
#define UNITS_ID_MAX 65 /* a container ID (64 hex digits) or a pod UID, and the NUL */

struct unit_ref {
	enum unit_kind kind; /* what the remedy acts on: the pod, else the container, else a unit */
	char unit[UNITS_NAME_MAX]; /* system unit ("nginx.service", "session-3.scope"); "" */
	char user_unit[UNITS_NAME_MAX]; /* unit of the user's manager ("foo.service"); "" */
	long uid; /* from user-UID.slice or user@UID.service; -1 */
	enum unit_runtime runtime;
	char container[UNITS_ID_MAX]; /* container ID, lower-case hex; "" */
	bool monitor; /* the runtime's monitor (crio-conmon-, libpod-conmon-), not the payload */
	char pod[UNITS_ID_MAX]; /* pod UID as Kubernetes writes it (dashes); "" */
	enum pod_qos qos;
};

/**
 * What @cgroup_path (a /proc/PID/cgroup path: the v2 "0::" line, else name=systemd's)
 * belongs to.  "/" and paths no manager made are UNIT_NONE.  0, or -EINVAL for a path it
 * cannot parse (not absolute, "." or ".." components as seen from another cgroup
 * namespace, control characters, longer than PATH_MAX); @out is then UNIT_NONE.
 */
int units_from_cgroup(const char *cgroup_path, struct unit_ref *out);

/**
 * The remedy for @u's group in a sentence that starts with the command to run
 * ("systemctl restart nginx.service", "docker restart ID", ...).  Names that reach it passed
 * systemd's or the runtime's own character rules; the few that need it are quoted, so the
 * command can be pasted into a shell.  Always NUL-terminated (truncated to @len).
 */
void units_remedy(const struct unit_ref *u, char *buf, size_t len);

/**
 * The group's name: the unit ("nginx.service"), "user@UID.service/UNIT" for a user's units,
 * "RUNTIME:ID" for a container ("docker:4f2a..."), "pod:UID", or "none".
 */
void units_group_name(const struct unit_ref *u, char *buf, size_t len);

/** {"kind", "unit", "user_unit", "uid", "runtime", "container", "pod", "qos"}, "" and -1 left out. */
struct json_object *units_to_json(const struct unit_ref *u);

/*
 * Processes grouped by what their remedy acts on.  Groups keep the order in which their
 * first process was added (add the processes ranked, and the group of the most exposed
 * process comes first).  Memory is bounded: at most @max_groups groups and @max_pids pids
 * each are kept; the rest is counted.
 */
struct units_groups;

/** 0 or -ENOMEM. */
int units_groups__new(size_t max_groups, size_t max_pids, struct units_groups **out);
void units_groups__free(struct units_groups *g);

/** One process; @u NULL: its cgroup is unknown (it joins "none").  0 or -ENOMEM. */
int units_groups_add(struct units_groups *g, int pid, const struct unit_ref *u);

/**
 * [{"name", "kind", "remedy", "count", "pids", and "unit", "user_unit", "uid", "runtime",
 * "container", "pod", "qos" where they apply}]; "count" counts every process added to the
 * group, "pids" holds the first @max_pids of them.
 */
struct json_object *units_groups_to_json(const struct units_groups *g);

/** Processes whose group did not fit in @max_groups (left out of the JSON). */
size_t units_groups_omitted(const struct units_groups *g);

#endif
