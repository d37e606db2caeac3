// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Cgroup paths to units, containers and pods, on paths seen on real machines (each case
 * says where it was seen), the remedy for each, forged and malformed paths, and the
 * grouping of processes with its bounds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "analysis/units.h"

TestSuite(units);

#define DOCKER_ID "abddff03dfd7710c79a750ce3e730365cbb2c8247a974170c1062683bc3e9152"
#define CTRD_ID "09d185410c4e25236cc24717f881589bb0978b24eafd101624e627a4dd8d3439"
#define CRIO_ID "5eed917563583925ffdbd40a64efb2aaffe58638e57add8becaf460fe74f5b1c"

static const struct unit_case {
	const char *seen; /* where such a path was seen */
	const char *path;
	enum unit_kind kind;
	const char *name; /* units_group_name */
	const char *unit, *user_unit;
	long uid;
	enum unit_runtime runtime;
	const char *container, *pod;
	enum pod_qos qos;
	const char *remedy; /* the start of units_remedy */
} cases[] = {
	{ "Debian 12, systemd 252: a system service", "/system.slice/nginx.service", UNIT_SERVICE,
	  "nginx.service", "nginx.service", "", -1, RUNTIME_NONE, "", "", QOS_NONE,
	  "systemctl restart nginx.service" },
	{ "systemd-cgls: a template instance in its slice",
	  "/system.slice/system-getty.slice/getty@tty1.service", UNIT_SERVICE, "getty@tty1.service",
	  "getty@tty1.service", "", -1, RUNTIME_NONE, "", "", QOS_NONE,
	  "systemctl restart getty@tty1.service" },
	{ "systemd: a unit with an escaped name",
	  "/system.slice/system-systemd\\x2dfsck.slice/systemd-fsck@dev-vda1.service", UNIT_SERVICE,
	  "systemd-fsck@dev-vda1.service", "systemd-fsck@dev-vda1.service", "", -1, RUNTIME_NONE,
	  "", "", QOS_NONE, "systemctl restart systemd-fsck@dev-vda1.service" },
	{ "a service with a backslash in its name is quoted", "/system.slice/foo\\x2dbar.service",
	  UNIT_SERVICE, "foo\\x2dbar.service", "foo\\x2dbar.service", "", -1, RUNTIME_NONE, "", "",
	  QOS_NONE, "systemctl restart 'foo\\x2dbar.service'" },
	{ "a service's own sub-cgroup (Delegate=yes)", "/system.slice/buildkitd.service/worker/x",
	  UNIT_SERVICE, "buildkitd.service", "buildkitd.service", "", -1, RUNTIME_NONE, "", "",
	  QOS_NONE, "systemctl restart buildkitd.service" },
	{ "systemd-run --scope", "/system.slice/run-r1c2d3e.scope", UNIT_SCOPE, "run-r1c2d3e.scope",
	  "run-r1c2d3e.scope", "", -1, RUNTIME_NONE, "", "", QOS_NONE,
	  "systemctl stop run-r1c2d3e.scope, then" },
	{ "PID 1 under systemd", "/init.scope", UNIT_INIT, "init.scope", "init.scope", "", -1,
	  RUNTIME_NONE, "", "", QOS_NONE, "systemctl daemon-reexec" },
	{ "logind: an ssh login session", "/user.slice/user-1000.slice/session-3.scope",
	  UNIT_SESSION, "session-3.scope", "session-3.scope", "", 1000, RUNTIME_NONE, "", "",
	  QOS_NONE, "loginctl terminate-session 3, then log in again" },
	{ "logind: a session of a non-interactive class",
	  "/user.slice/user-0.slice/session-c1.scope", UNIT_SESSION, "session-c1.scope",
	  "session-c1.scope", "", 0, RUNTIME_NONE, "", "", QOS_NONE,
	  "loginctl terminate-session c1" },
	{ "the user manager itself", "/user.slice/user-1000.slice/user@1000.service/init.scope",
	  UNIT_USER_MANAGER, "user@1000.service", "user@1000.service", "init.scope", 1000,
	  RUNTIME_NONE, "", "", QOS_NONE, "systemctl restart user@1000.service" },
	{ "a user service (GNOME, systemd 252)",
	  "/user.slice/user-1000.slice/user@1000.service/session.slice/pipewire.service",
	  UNIT_USER_SERVICE, "user@1000.service/pipewire.service", "user@1000.service",
	  "pipewire.service", 1000, RUNTIME_NONE, "", "", QOS_NONE,
	  "systemctl --user -M 1000@ restart pipewire.service" },
	{ "a user's application scope (GNOME terminal)",
	  "/user.slice/user-1000.slice/user@1000.service/app.slice/app-org.gnome.Terminal.slice/"
	  "vte-spawn-0f1e2d3c-aaaa-bbbb-cccc-0123456789ab.scope",
	  UNIT_USER_SCOPE, "user@1000.service/vte-spawn-0f1e2d3c-aaaa-bbbb-cccc-0123456789ab.scope",
	  "user@1000.service", "vte-spawn-0f1e2d3c-aaaa-bbbb-cccc-0123456789ab.scope", 1000,
	  RUNTIME_NONE, "", "", QOS_NONE, "systemctl --user -M 1000@ stop vte-spawn-" },
	{ "ctrsploit#280: docker, cgroupfs driver", "/docker/" DOCKER_ID, UNIT_CONTAINER,
	  "docker:" DOCKER_ID, "", "", -1, RUNTIME_DOCKER, DOCKER_ID, "", QOS_NONE,
	  "docker restart " DOCKER_ID },
	{ "docker, systemd driver", "/system.slice/docker-" DOCKER_ID ".scope", UNIT_CONTAINER,
	  "docker:" DOCKER_ID, "docker-" DOCKER_ID ".scope", "", -1, RUNTIME_DOCKER, DOCKER_ID, "",
	  QOS_NONE, "docker restart " DOCKER_ID },
	{ "the docker daemon itself", "/system.slice/docker.service", UNIT_SERVICE,
	  "docker.service", "docker.service", "", -1, RUNTIME_NONE, "", "", QOS_NONE,
	  "systemctl restart docker.service" },
	{ "pharos-cluster#440: dockershim under a BestEffort pod",
	  "/kubepods.slice/kubepods-besteffort.slice/"
	  "kubepods-besteffort-pod9692aa0e_748e_11e8_8dfa_76d458035df6.slice/docker-" DOCKER_ID
	  ".scope",
	  UNIT_POD, "pod:9692aa0e-748e-11e8-8dfa-76d458035df6", "docker-" DOCKER_ID ".scope", "",
	  -1, RUNTIME_DOCKER, DOCKER_ID, "9692aa0e-748e-11e8-8dfa-76d458035df6", QOS_BESTEFFORT,
	  "kubectl delete pod" },
	{ "netdata#4868: containerd under a Burstable pod",
	  "/kubepods.slice/kubepods-burstable.slice/"
	  "kubepods-burstable-pod03f3f104_3215_44f2_9686_d4dd1f05a7ed.slice/cri-containerd-" CTRD_ID
	  ".scope",
	  UNIT_POD, "pod:03f3f104-3215-44f2-9686-d4dd1f05a7ed", "cri-containerd-" CTRD_ID ".scope",
	  "", -1, RUNTIME_CONTAINERD, CTRD_ID, "03f3f104-3215-44f2-9686-d4dd1f05a7ed",
	  QOS_BURSTABLE, "kubectl delete pod" },
	{ "netdata#4868: a static pod (UID is a hash)",
	  "/kubepods.slice/kubepods-burstable.slice/"
	  "kubepods-burstable-pod187bff14cccb94f179e943eacce55bb3.slice/cri-containerd-" CTRD_ID
	  ".scope",
	  UNIT_POD, "pod:187bff14cccb94f179e943eacce55bb3", "cri-containerd-" CTRD_ID ".scope", "",
	  -1, RUNTIME_CONTAINERD, CTRD_ID, "187bff14cccb94f179e943eacce55bb3", QOS_BURSTABLE,
	  "kubectl delete pod" },
	{ "runc#4620: CRI-O under a Burstable pod",
	  "/kubepods.slice/kubepods-burstable.slice/"
	  "kubepods-burstable-poda5c1f8d5_1919_434d_add7_4afaafdaef89.slice/crio-" CRIO_ID ".scope",
	  UNIT_POD, "pod:a5c1f8d5-1919-434d-add7-4afaafdaef89", "crio-" CRIO_ID ".scope", "", -1,
	  RUNTIME_CRIO, CRIO_ID, "a5c1f8d5-1919-434d-add7-4afaafdaef89", QOS_BURSTABLE,
	  "kubectl delete pod" },
	{ "CRI-O's conmon beside a Guaranteed pod's container",
	  "/kubepods.slice/kubepods-poda5c1f8d5_1919_434d_add7_4afaafdaef89.slice/crio-conmon-" CRIO_ID
	  ".scope",
	  UNIT_POD, "pod:a5c1f8d5-1919-434d-add7-4afaafdaef89", "crio-conmon-" CRIO_ID ".scope", "",
	  -1, RUNTIME_CRIO, CRIO_ID, "a5c1f8d5-1919-434d-add7-4afaafdaef89", QOS_GUARANTEED,
	  "kubectl delete pod" },
	{ "kubernetes-mesos#565 / cadvisor#2540: cgroupfs driver, Burstable",
	  "/kubepods/burstable/pod1ff47ee6-9685-4726-ac6f-0ff070c452d6/" CTRD_ID, UNIT_POD,
	  "pod:1ff47ee6-9685-4726-ac6f-0ff070c452d6", "", "", -1, RUNTIME_NONE, CTRD_ID,
	  "1ff47ee6-9685-4726-ac6f-0ff070c452d6", QOS_BURSTABLE, "kubectl delete pod" },
	{ "cgroupfs driver, Guaranteed (no QoS folder)",
	  "/kubepods/pod1ff47ee6-9685-4726-ac6f-0ff070c452d6/" CTRD_ID, UNIT_POD,
	  "pod:1ff47ee6-9685-4726-ac6f-0ff070c452d6", "", "", -1, RUNTIME_NONE, CTRD_ID,
	  "1ff47ee6-9685-4726-ac6f-0ff070c452d6", QOS_GUARANTEED, "kubectl delete pod" },
	{ "opentelemetry-java#4507: containerd writing systemd's notation as one folder",
	  "/system.slice/containerd.service/"
	  "kubepods-besteffort-pod0125ec2f_b64a_4868_8f5b_94b56cbab864.slice:cri-containerd:" CTRD_ID,
	  UNIT_POD, "pod:0125ec2f-b64a-4868-8f5b-94b56cbab864", "containerd.service", "", -1,
	  RUNTIME_CONTAINERD, CTRD_ID, "0125ec2f-b64a-4868-8f5b-94b56cbab864", QOS_BESTEFFORT,
	  "kubectl delete pod" },
	{ "the same notation at the root (cpuset line of the same report)",
	  "/kubepods-besteffort-pod0125ec2f_b64a_4868_8f5b_94b56cbab864.slice:cri-containerd:" CTRD_ID,
	  UNIT_POD, "pod:0125ec2f-b64a-4868-8f5b-94b56cbab864", "", "", -1, RUNTIME_CONTAINERD,
	  CTRD_ID, "0125ec2f-b64a-4868-8f5b-94b56cbab864", QOS_BESTEFFORT, "kubectl delete pod" },
	{ "podman (root), systemd driver", "/machine.slice/libpod-" CTRD_ID ".scope",
	  UNIT_CONTAINER, "podman:" CTRD_ID, "libpod-" CTRD_ID ".scope", "", -1, RUNTIME_PODMAN,
	  CTRD_ID, "", QOS_NONE, "podman restart " CTRD_ID },
	{ "podman rootless, in the user's manager",
	  "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" CTRD_ID ".scope",
	  UNIT_CONTAINER, "podman:" CTRD_ID, "user@1000.service", "libpod-" CTRD_ID ".scope", 1000,
	  RUNTIME_PODMAN, CTRD_ID, "", QOS_NONE, "podman restart " CTRD_ID },
	{ "the root cgroup (kernel threads, this test machine)", "/", UNIT_NONE, "none", "", "", -1,
	  RUNTIME_NONE, "", "", QOS_NONE, "restart these processes" },
	{ "a folder no manager made (this test machine's sandbox)", "/process_api/0179dcb0",
	  UNIT_NONE, "none", "", "", -1, RUNTIME_NONE, "", "", QOS_NONE,
	  "restart these processes" },
	/* forged names: only a manager's places count */
	{ "a docker-looking scope a service made under delegation",
	  "/system.slice/foo.service/docker-" DOCKER_ID ".scope", UNIT_SERVICE, "foo.service",
	  "foo.service", "", -1, RUNTIME_NONE, "", "", QOS_NONE, "systemctl restart foo.service" },
	{ "a pod slice a user made in their own manager",
	  "/user.slice/user-1000.slice/user@1000.service/app.slice/"
	  "kubepods-pod9692aa0e_748e_11e8_8dfa_76d458035df6.slice/x.service",
	  UNIT_USER_SERVICE, "user@1000.service/x.service", "user@1000.service", "x.service", 1000,
	  RUNTIME_NONE, "", "", QOS_NONE, "systemctl --user -M 1000@ restart x.service" },
	{ "a user's service's own sub-cgroup",
	  "/user.slice/user-1000.slice/user@1000.service/app.slice/x.service/y.service",
	  UNIT_USER_SERVICE, "user@1000.service/x.service", "user@1000.service", "x.service", 1000,
	  RUNTIME_NONE, "", "", QOS_NONE, "systemctl --user -M 1000@ restart x.service" },
	{ "the notation under a service that is not containerd",
	  "/system.slice/evil.service/"
	  "kubepods-pod0125ec2f_b64a_4868_8f5b_94b56cbab864.slice:cri-containerd:" CTRD_ID,
	  UNIT_SERVICE, "evil.service", "evil.service", "", -1, RUNTIME_NONE, "", "", QOS_NONE,
	  "systemctl restart evil.service" },
	{ "a unit name with a shell metacharacter is no unit", "/system.slice/a;b.service",
	  UNIT_NONE, "none", "", "", -1, RUNTIME_NONE, "", "", QOS_NONE,
	  "restart these processes" },
	{ "a leading dash would read as an option", "/system.slice/-x.service", UNIT_NONE, "none",
	  "", "", -1, RUNTIME_NONE, "", "", QOS_NONE, "restart these processes" },
	{ "a docker scope with a non-hex ID", "/system.slice/docker-zz;rm.scope", UNIT_NONE, "none",
	  "", "", -1, RUNTIME_NONE, "", "", QOS_NONE, "restart these processes" },
};

Test(units, real_world_paths)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct unit_case *c = &cases[i];
		struct unit_ref u;
		char buf[1024];

		cr_assert_eq(units_from_cgroup(c->path, &u), 0, "%s: %s", c->seen, c->path);
		cr_expect_eq(u.kind, c->kind, "%s: kind %s, want %s", c->seen,
			     unit_kind_name(u.kind), unit_kind_name(c->kind));
		cr_expect_str_eq(u.unit, c->unit, "%s: unit", c->seen);
		cr_expect_str_eq(u.user_unit, c->user_unit, "%s: user unit", c->seen);
		cr_expect_eq(u.uid, c->uid, "%s: uid %ld", c->seen, u.uid);
		cr_expect_eq(u.runtime, c->runtime, "%s: runtime %s", c->seen,
			     unit_runtime_name(u.runtime));
		cr_expect_str_eq(u.container, c->container, "%s: container", c->seen);
		cr_expect_str_eq(u.pod, c->pod, "%s: pod", c->seen);
		cr_expect_eq(u.qos, c->qos, "%s: qos %s", c->seen, pod_qos_name(u.qos));
		units_group_name(&u, buf, sizeof(buf));
		cr_expect_str_eq(buf, c->name, "%s: group name", c->seen);
		units_remedy(&u, buf, sizeof(buf));
		cr_expect(!strncmp(buf, c->remedy, strlen(c->remedy)),
			  "%s: remedy '%s', want '%s...'", c->seen, buf, c->remedy);
	}
}

Test(units, conmon_is_marked_as_the_monitor)
{
	struct unit_ref u;

	cr_assert_eq(units_from_cgroup("/machine.slice/libpod-conmon-" CTRD_ID ".scope", &u), 0);
	cr_expect(u.monitor);
	cr_expect_eq(u.kind, UNIT_CONTAINER);
	cr_assert_eq(units_from_cgroup("/machine.slice/libpod-" CTRD_ID ".scope", &u), 0);
	cr_expect_not(u.monitor);
}

Test(units, the_pod_remedy_names_the_uid_twice)
{
	struct unit_ref u;
	char buf[1024];

	cr_assert_eq(units_from_cgroup("/kubepods/besteffort/pod1ff47ee6-9685-4726-ac6f-"
				       "0ff070c452d6/" CTRD_ID,
				       &u),
		     0);
	units_remedy(&u, buf, sizeof(buf));
	cr_expect(strstr(buf, "grep 1ff47ee6-9685-4726-ac6f-0ff070c452d6"), "%s", buf);
}

Test(units, unparseable_paths_are_einval_and_none)
{
	static const char *const bad[] = {
		"",
		"system.slice/nginx.service", /* relative */
		"/../../system.slice/nginx.service", /* another cgroup namespace's view */
		"/system.slice/./nginx.service",
		"/user.slice/x\n0::/system.slice/sshd.service", /* a forged line */
		"/system.slice/a\tb.service",
		"/system.slice/\x7f.service",
	};
	char longp[8192];
	struct unit_ref u;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&u, 0xff, sizeof(u));
		cr_expect_eq(units_from_cgroup(bad[i], &u), -EINVAL, "accepted '%s'", bad[i]);
		cr_expect_eq(u.kind, UNIT_NONE);
		cr_expect_str_eq(u.unit, "");
	}
	cr_expect_eq(units_from_cgroup(NULL, &u), -EINVAL);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = 0;
	cr_expect_eq(units_from_cgroup(longp, &u), -EINVAL);
}

Test(units, deep_and_odd_but_valid_paths_parse)
{
	char deep[4000] = "/system.slice/deep.service";
	struct unit_ref u;

	for (int i = 0; i < 300; i++)
		strcat(deep, "/d");
	cr_assert_eq(units_from_cgroup(deep, &u), 0);
	cr_expect_str_eq(u.unit, "deep.service");
	cr_expect_eq(units_from_cgroup("//system.slice//x.service/", &u), 0);
	cr_expect_str_eq(u.unit, "x.service");
	/* a UID beyond 32 bits is no UID */
	cr_expect_eq(units_from_cgroup("/user.slice/user-99999999999.slice/session-1.scope", &u),
		     0);
	cr_expect_eq(u.uid, -1);
}

Test(units, remedy_is_truncated_safely)
{
	struct unit_ref u;
	char buf[8];

	cr_assert_eq(units_from_cgroup("/system.slice/nginx.service", &u), 0);
	units_remedy(&u, buf, sizeof(buf));
	cr_expect_str_eq(buf, "systemc");
	units_remedy(&u, buf, 0); /* writes nothing */
}

static struct json_object *get(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	cr_assert(json_object_object_get_ex(o, k, &v), "no '%s' in %s", k,
		  json_object_to_json_string(o));
	return v;
}

Test(units, groups_keep_rank_order_and_bounds)
{
	struct units_groups *g;
	struct unit_ref nginx, session, pod;
	struct json_object *a, *first, *pids;

	cr_assert_eq(units_from_cgroup("/system.slice/nginx.service", &nginx), 0);
	cr_assert_eq(units_from_cgroup("/user.slice/user-1000.slice/session-3.scope", &session), 0);
	cr_assert_eq(units_from_cgroup("/kubepods/pod1ff47ee6-9685-4726-ac6f-0ff070c452d6/" CTRD_ID,
				       &pod),
		     0);
	cr_assert_eq(units_groups__new(3, 2, &g), 0);
	cr_assert_eq(units_groups_add(g, 10, &session), 0);
	cr_assert_eq(units_groups_add(g, 11, &nginx), 0);
	cr_assert_eq(units_groups_add(g, 12, &nginx), 0);
	cr_assert_eq(units_groups_add(g, 13, &nginx), 0);
	cr_assert_eq(units_groups_add(g, 14, NULL), 0);
	cr_assert_eq(units_groups_add(g, 15, &pod), 0); /* a fourth group: counted, not kept */
	a = units_groups_to_json(g);
	cr_assert_eq(json_object_array_length(a), 3);
	cr_expect_eq(units_groups_omitted(g), 1);
	first = json_object_array_get_idx(a, 0);
	cr_expect_str_eq(json_object_get_string(get(first, "name")), "session-3.scope");
	cr_expect_str_eq(json_object_get_string(get(first, "kind")), "session");
	cr_expect_eq(json_object_get_int(get(first, "uid")), 1000);
	first = json_object_array_get_idx(a, 1);
	cr_expect_str_eq(json_object_get_string(get(first, "name")), "nginx.service");
	cr_expect_str_eq(json_object_get_string(get(first, "remedy")),
			 "systemctl restart nginx.service");
	cr_expect_eq(json_object_get_int(get(first, "count")), 3);
	pids = get(first, "pids");
	cr_expect_eq(json_object_array_length(pids), 2, "at most max_pids pids");
	cr_expect_eq(json_object_get_int(json_object_array_get_idx(pids, 0)), 11);
	first = json_object_array_get_idx(a, 2);
	cr_expect_str_eq(json_object_get_string(get(first, "kind")), "none");
	cr_expect_str_eq(json_object_get_string(get(first, "name")), "none");
	json_object_put(a);
	units_groups__free(g);
	units_groups__free(NULL);
}

Test(units, to_json_leaves_out_what_is_unknown)
{
	struct unit_ref u;
	struct json_object *o, *v;

	cr_assert_eq(units_from_cgroup("/docker/" DOCKER_ID, &u), 0);
	o = units_to_json(&u);
	cr_expect_str_eq(json_object_get_string(get(o, "kind")), "container");
	cr_expect_str_eq(json_object_get_string(get(o, "runtime")), "docker");
	cr_expect_str_eq(json_object_get_string(get(o, "container")), DOCKER_ID);
	cr_expect_not(json_object_object_get_ex(o, "pod", &v));
	cr_expect_not(json_object_object_get_ex(o, "uid", &v));
	json_object_put(o);
}
