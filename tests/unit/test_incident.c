// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * An incident built for real: the daemon takes a snapshot in a fresh state dir, a recorded
 * feature-loss migration is replayed into that store (shifted to the last minutes), the
 * daemon runs again and a real child, put by this test into a .service cgroup it made,
 * dies of a real SIGILL.  `report` must name the lost feature, the faulting process and
 * its unit; the bundle of that store must verify.
 *
 * And the page a support engineer opens: report.html in headless Chromium.  A screenshot
 * is kept under build/ (report-timeline.png), its timeline is not blank, the page makes no
 * network request and logs nothing to the console.  The checks are shown to catch a page
 * that does both.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <json-c/json.h>

#include "core/features.h"
#include "core/log.h"
#include "formats/bundle.h"
#include "testutil.h"

#define RECORDING CPUDRIFT_SRCDIR "/tests/fixtures/recordings/feature_drift.jsonl"

static char dir[256];
static pid_t daemon_pid;
static char cg_service[1200], cg_slice[1024];

static const char *in_dir(const char *rel)
{
	static char buf[8][512];
	static int k;

	k = (k + 1) % 8;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, rel);
	return buf[k];
}

static char *cd(const char *args, int *rc)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), "cd %s && %s %s", dir, tu_build("cpudrift"), args);
	return tu_run(cmd, rc);
}

static void make_dir(void)
{
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/cpudrift-incident-XXXXXX");
	cr_assert(mkdtemp(dir));
	f = fopen(in_dir("c.conf"), "w");
	cr_assert(f);
	fprintf(f,
		"state_dir = %s/st\njournal = off\ntextfile_path = off\nhooks_dir = off\n"
		"interval = 60\n",
		dir);
	fclose(f);
}

static void teardown(void)
{
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGKILL);
		waitpid(daemon_pid, NULL, 0);
		daemon_pid = 0;
	}
	if (cg_service[0])
		rmdir(cg_service);
	if (cg_slice[0])
		rmdir(cg_slice);
	cg_service[0] = cg_slice[0] = 0;
	if (dir[0])
		tu_rmtree(dir);
	dir[0] = 0;
}

/* --- the live incident ------------------------------------------------------------------- */

static void start_daemon(void)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (!pid) {
		int fd = open(in_dir("daemon.log"), O_WRONLY | O_CREAT | O_APPEND, 0644);

		dup2(fd, 1);
		dup2(fd, 2);
		execl(tu_build("cpudrift"), "cpudrift", "-v", "run", "--config", in_dir("c.conf"),
		      (char *)NULL);
		_exit(127);
	}
	daemon_pid = pid;
	/* Running in full mode: its first snapshot is stored and the fault watcher is on. */
	for (int t = 0; t < 300; t++) {
		int rc;
		char *out = cd("status --config c.conf 2>&1", &rc);

		free(out);
		if (rc == 0)
			return;
		usleep(100000);
	}
	cr_assert_fail("the daemon did not reach full mode:\n%s",
		       tu_read_file(in_dir("daemon.log")));
}

static void stop_daemon(void)
{
	int st;

	kill(daemon_pid, SIGTERM);
	waitpid(daemon_pid, &st, 0);
	daemon_pid = 0;
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the daemon did not stop cleanly");
}

/* Move every "real_ns"/"realtime_ns" of @o by @d: the recording happens minutes ago. */
static void shift(struct json_object *o, int64_t d)
{
	if (!json_object_is_type(o, json_type_object))
		return;
	json_object_object_foreach(o, k, v)
	{
		if ((!strcmp(k, "real_ns") || !strcmp(k, "realtime_ns")) &&
		    json_object_is_type(v, json_type_int))
			json_object_set_int64(v, json_object_get_int64(v) + d);
		else
			shift(v, d);
	}
}

static void write_shifted_recording(const char *out)
{
	FILE *in = fopen(RECORDING, "r"), *f = fopen(out, "w");
	char *line = NULL;
	size_t cap = 0;
	int64_t last = 0, d;
	struct timespec now;

	cr_assert(in && f);
	while (getline(&line, &cap, in) > 0) {
		struct json_object *o = json_tokener_parse(line), *r;

		if (o && json_object_object_get_ex(o, "real_ns", &r))
			last = json_object_get_int64(r);
		json_object_put(o);
	}
	clock_gettime(CLOCK_REALTIME, &now);
	d = (int64_t)now.tv_sec * 1000000000 - 60000000000LL - last;
	rewind(in);
	while (getline(&line, &cap, in) > 0) {
		struct json_object *o = json_tokener_parse(line);

		cr_assert(o);
		shift(o, d);
		fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	}
	free(line);
	fclose(in);
	fclose(f);
}

/* The unified cgroup hierarchy's mount point (/sys/fs/cgroup or .../unified). */
static bool cgroup2_root(char *out, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[1024], mnt[200], fs[64];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *dash = strstr(line, " - ");

		if (dash && sscanf(dash, " - %63s", fs) == 1 && !strcmp(fs, "cgroup2") &&
		    sscanf(line, "%*s %*s %*s %*s %199s", mnt) == 1) {
			snprintf(out, size, "%s", mnt);
			found = true;
		}
	}
	fclose(f);
	return found;
}

/*
 * A child in our .service cgroup that faults when told (sigill_child @mode [@arg]: ud2, or
 * bytes HEX); returns its pid.
 */
static pid_t victim(int *go, const char *mode, const char *arg)
{
	int in[2], out[2];
	char procs[1300], addr[64];
	pid_t pid;
	FILE *f;

	cr_assert_eq(pipe(in), 0);
	cr_assert_eq(pipe(out), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (!pid) {
		int fd;

		snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg_service);
		fd = open(procs, O_WRONLY);
		if (fd < 0 || write(fd, "0", 1) != 1)
			_exit(126);
		close(fd);
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl(tu_build("tests/helpers/sigill_child"), "sigill_child", mode, arg,
		      (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	f = fdopen(out[0], "r");
	cr_assert(f && fgets(addr, sizeof(addr), f), "the victim did not start");
	fclose(f);
	*go = in[1];
	return pid;
}

/* Our .service cgroup under a slice of ours: its name in @unit. */
static void make_unit(const char *root, char *unit, size_t size)
{
	snprintf(cg_slice, sizeof(cg_slice), "%s/cpudrift-test.slice", root);
	snprintf(unit, size, "cpudrift-victim-%d.service", (int)getpid());
	snprintf(cg_service, sizeof(cg_service), "%s/%s", cg_slice, unit);
	cr_assert(!mkdir(cg_slice, 0755) || errno == EEXIST, "mkdir %s: %s", cg_slice,
		  strerror(errno));
	cr_assert_eq(mkdir(cg_service, 0755), 0, "mkdir %s: %s", cg_service, strerror(errno));
}

static bool fault_stored(pid_t pid)
{
	char needle[64], *out;
	int rc;
	bool found;

	snprintf(needle, sizeof(needle), "\"pid\":%d,", (int)pid);
	out = cd("events --config c.conf --kind fault.sigill --json 2>&1", &rc);
	found = strstr(out, needle) != NULL;
	free(out);
	return found;
}

Test(incident, a_real_incident_names_the_loss_the_process_and_its_unit, .fini = teardown,
     .timeout = 180)
{
	char root[256], unit[96], args[256], *out;
	struct json_object *r, *cas, *c0, *rm;
	int rc, go, st;
	pid_t pid;
	bool lost = false, fatal;

	if (geteuid())
		cr_skip_test("the live incident needs root (BPF, cgroups)");
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		cr_skip_test("no BTF at /sys/kernel/btf/vmlinux");
	if (!cgroup2_root(root, sizeof(root)))
		cr_skip_test("no cgroup2 hierarchy mounted");
	make_dir();

	/* 1. The daemon takes its first snapshot (the baseline) and stops. */
	start_daemon();
	stop_daemon();
	/* 2. A recorded migration that loses AVX-512, as if it happened a few minutes ago. */
	write_shifted_recording(in_dir("shifted.jsonl"));
	out = cd("run --config c.conf --replay shifted.jsonl 2>&1", &rc);
	cr_assert_eq(rc, 0, "run --replay failed:\n%s", out);
	free(out);
	/* 3. The daemon again, and a real SIGILL from a child in a .service cgroup of ours. */
	start_daemon();
	make_unit(root, unit, sizeof(unit));
	pid = victim(&go, "ud2", NULL);
	cr_assert_eq(write(go, "x", 1), 1);
	close(go);
	/* The child stays a zombie (in its cgroup) until the daemon has stored its fault. */
	for (int t = 0; t < 200 && !fault_stored(pid); t++)
		usleep(100000);
	cr_expect(fault_stored(pid), "the victim's SIGILL was not stored:\n%s",
		  tu_read_file(in_dir("daemon.log")));
	waitpid(pid, &st, 0);
	cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGILL, "the victim did not die of SIGILL");
	stop_daemon();

	/* 4. The report names the lost feature, the process that died and its unit. */
	out = cd("report --config c.conf --since -1h --json", &rc);
	r = json_tokener_parse(out);
	free(out);
	cr_assert_not_null(r);
	cr_expect_eq(rc, 1, "a window with a lost feature exits 1");
	rm = json_object_object_get(json_object_object_get(r, "change"), "removed");
	for (size_t i = 0; rm && i < json_object_array_length(rm); i++)
		lost |= !strcmp(json_object_get_string(json_object_array_get_idx(rm, i)),
				"avx512f");
	cr_expect(lost, "the report does not name avx512f as lost");
	/* The fault names the process and its unit... */
	cas = json_object_object_get(json_object_object_get(r, "faults"), "list");
	c0 = NULL;
	for (size_t i = 0; cas && i < json_object_array_length(cas); i++)
		if (json_object_get_int(json_object_object_get(json_object_array_get_idx(cas, i),
							       "pid")) == pid)
			c0 = json_object_array_get_idx(cas, i);
	cr_assert_not_null(c0, "the victim (pid %d) is not among the faults: %s", (int)pid,
			   json_object_to_json_string(json_object_object_get(r, "faults")));
	cr_expect_str_eq(json_object_get_string(json_object_object_get(c0, "comm")),
			 "sigill_child");
	cr_expect_str_eq(json_object_get_string(json_object_object_get(c0, "unit")), unit);
	/* ...and the process is grouped under it, a casualty when the record says it was fatal. */
	fatal = json_object_get_boolean(json_object_object_get(c0, "fatal"));
	cas = json_object_object_get(json_object_object_get(r, fatal ? "casualties" : "survived"),
				     "groups");
	c0 = NULL;
	for (size_t i = 0; cas && i < json_object_array_length(cas); i++)
		if (!strcmp(json_object_get_string(json_object_object_get(
				    json_object_array_get_idx(cas, i), "name")),
			    unit))
			c0 = json_object_array_get_idx(cas, i);
	cr_expect_not_null(c0, "no group %s under %s", unit, fatal ? "casualties" : "survived");
	cr_expect_str_eq(json_object_get_string(json_object_object_get(c0, "kind")), "service");
	json_object_put(r);
	out = cd("report --config c.conf --since -1h", &rc);
	cr_expect(strstr(out, "avx512f") && strstr(out, "sigill_child") && strstr(out, unit) &&
			  strstr(out, "systemctl restart app.service"),
		  "the text report misses the loss, the process or its unit:\n%s", out);
	free(out);

	/* 5. Its bundle verifies. */
	snprintf(args, sizeof(args), "evidence --config c.conf --since -1h -o inc.tar.gz 2>&1");
	out = cd(args, &rc);
	cr_expect_eq(rc, 0, "%s", out);
	free(out);
	out = cd("evidence verify inc.tar.gz", &rc);
	cr_expect_eq(rc, 0, "%s", out);
	free(out);
}

/* --- one incident, selected by its ID ------------------------------------------------------ */

/*
 * vfrczps xmm0, xmm1 (XOP): AMD dropped XOP after Bulldozer, so this CPU lacks it, and no
 * other test executes it, so no other test's fault on this shared machine reads as the
 * loss seeded below (test_daemon_atrisk.c does the same with TBM).
 */
#define LOST_FEATURE "xop"
#define LOST_BYTES "8fe97880c1"

/* Add LOST_FEATURE to a snapshot's CPUID (its bit from the feature table). */
static void add_lost(struct json_object *snap)
{
	static const char *const regs[] = { "eax", "ebx", "ecx", "edx" };
	const struct feature *f = &feature_table[feature_lookup(LOST_FEATURE)];
	struct json_object *vcpus, *feats;

	cr_assert(json_object_object_get_ex(snap, "vcpus", &vcpus));
	for (size_t i = 0; i < json_object_array_length(vcpus); i++) {
		struct json_object *leaves;

		cr_assert(json_object_object_get_ex(json_object_array_get_idx(vcpus, i), "leaves",
						    &leaves));
		for (size_t k = 0; k < json_object_array_length(leaves); k++) {
			struct json_object *l = json_object_array_get_idx(leaves, k), *v;
			char hex[24];

			json_object_object_get_ex(l, "leaf", &v);
			if (strtoul(json_object_get_string(v), NULL, 16) != f->leaf)
				continue;
			json_object_object_get_ex(l, "subleaf", &v);
			if ((unsigned)json_object_get_int(v) != f->subleaf)
				continue;
			json_object_object_get_ex(l, regs[f->reg], &v);
			snprintf(hex, sizeof(hex), "0x%08lx",
				 strtoul(json_object_get_string(v), NULL, 16) | (1ul << f->bit));
			json_object_object_add(l, regs[f->reg], json_object_new_string(hex));
		}
	}
	if (json_object_object_get_ex(snap, "features", &feats))
		json_object_array_add(feats, json_object_new_string(LOST_FEATURE));
}

static void shift_key(struct json_object *o, const char *key, int64_t by)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, key, &v))
		json_object_object_add(o, key,
				       json_object_new_int64(json_object_get_int64(v) + by));
}

/*
 * This machine as `cpudrift record` sees it, replayed into the store: first with
 * LOST_FEATURE, two seconds later as it is.  A real loss of this boot: the first snapshot
 * is the baseline, the drift opens an incident, and the replay leaves it open for the
 * daemon to continue.
 */
static void seed_loss(void)
{
	struct json_object *cpuid = NULL, *probe = NULL;
	char *rec, *save = NULL, *out;
	FILE *f;
	int rc;

	out = cd("record -o rec.jsonl --duration 1 2>&1", &rc);
	cr_assert_eq(rc, 0, "cpudrift record failed:\n%s", out);
	free(out);
	rec = tu_read_file(in_dir("rec.jsonl"));
	cr_assert_not_null(rec);
	for (char *l = strtok_r(rec, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		struct json_object *o = json_tokener_parse(l), *src = NULL;

		if (o && json_object_object_get_ex(o, "src", &src) && !cpuid &&
		    !strcmp(json_object_get_string(src), "cpuid"))
			cpuid = o;
		else if (src && !probe && !strcmp(json_object_get_string(src), "probe"))
			probe = o;
		else
			json_object_put(o);
	}
	free(rec);
	cr_assert(cpuid && probe, "no snapshot and probe run in the recording");
	f = fopen(in_dir("seed.jsonl"), "w");
	cr_assert_not_null(f);
	for (int pass = 0; pass < 2; pass++) {
		struct json_object *c = NULL, *p = NULL, *snap, *cap;
		int64_t by = pass ? 0 : -2 * 1000000000LL;

		json_object_deep_copy(cpuid, &c, NULL);
		json_object_deep_copy(probe, &p, NULL);
		cr_assert(json_object_object_get_ex(c, "snapshot", &snap));
		cr_assert(json_object_object_get_ex(snap, "captured", &cap));
		shift_key(c, "mono_ns", by);
		shift_key(c, "real_ns", by);
		shift_key(p, "mono_ns", by);
		shift_key(p, "real_ns", by);
		shift_key(cap, "monotonic_ns", by);
		shift_key(cap, "realtime_ns", by);
		if (!pass)
			add_lost(snap);
		fprintf(f, "%s\n%s\n", json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN),
			json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN));
		json_object_put(c);
		json_object_put(p);
	}
	fclose(f);
	json_object_put(cpuid);
	json_object_put(probe);
	out = cd("run --config c.conf --replay seed.jsonl 2>&1", &rc);
	cr_assert_eq(rc, 0, "run --replay failed:\n%s", out);
	free(out);
}

/* The one incident the store holds, from its issues (every issue names the same one). */
static void the_incident(char *id, size_t size)
{
	char *out, *save = NULL;
	int rc;

	id[0] = 0;
	out = cd("events --config c.conf --kind migration.suspected --json", &rc);
	for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		struct json_object *o = json_tokener_parse(l);
		const char *v = json_object_get_string(
			json_object_object_get(json_object_object_get(o, "body"), "incident_id"));

		cr_assert_not_null(v, "an issue without incident_id: %s", l);
		if (!id[0])
			snprintf(id, size, "%s", v);
		cr_expect_str_eq(v, id, "a second incident");
		json_object_put(o);
	}
	free(out);
	cr_assert(id[0], "the seeded loss opened no incident");
}

static struct json_object *jpath(struct json_object *o, const char *p)
{
	char buf[256], *save = NULL, *k;

	snprintf(buf, sizeof(buf), "%s", p);
	for (k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
		o = json_object_object_get(o, k);
	return o;
}

/* The entry of @list (an array of objects) whose "pid" is @pid, or NULL. */
static struct json_object *with_pid(struct json_object *list, pid_t pid)
{
	for (size_t i = 0; list && i < json_object_array_length(list); i++)
		if (json_object_get_int(json_object_object_get(json_object_array_get_idx(list, i),
							       "pid")) == pid)
			return json_object_array_get_idx(list, i);
	return NULL;
}

static bool array_has(struct json_object *a, const char *s)
{
	for (size_t i = 0; a && i < json_object_array_length(a); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(a, i)), s))
			return true;
	return false;
}

static struct json_object *incident_report(const char *id, int *rc)
{
	char args[256], *out;
	struct json_object *r;

	snprintf(args, sizeof(args), "report --config c.conf --incident %s --json 2>&1", id);
	out = cd(args, rc);
	r = json_tokener_parse(out);
	cr_assert_not_null(r, "report --incident printed no JSON:\n%s", out);
	free(out);
	return r;
}

/* The victim is one of the incident's own processes yet (the daemon stored its issue). */
static bool joined(const char *id, pid_t pid)
{
	int rc;
	struct json_object *r = incident_report(id, &rc);
	bool in = with_pid(jpath(r, "incident.casualties"), pid) ||
		  with_pid(jpath(r, "incident.survived"), pid);

	json_object_put(r);
	return in;
}

Test(incident, report_and_evidence_select_a_real_incident_by_its_id, .fini = teardown,
     .timeout = 180)
{
	char root[256], unit[96], id[64], args[512], *out;
	struct json_object *r, *f, *p, *m;
	int rc, go, st;
	pid_t pid;

	if (geteuid())
		cr_skip_test("the live incident needs root (BPF, cgroups)");
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		cr_skip_test("no BTF at /sys/kernel/btf/vmlinux");
	if (!cgroup2_root(root, sizeof(root)))
		cr_skip_test("no cgroup2 hierarchy mounted");
	make_dir();

	/* 1. A loss of this boot opens an incident; the daemon takes it back, still open. */
	seed_loss();
	the_incident(id, sizeof(id));
	start_daemon();
	/* 2. A child in a .service cgroup of ours executes the lost instruction: it dies. */
	make_unit(root, unit, sizeof(unit));
	pid = victim(&go, "bytes", LOST_BYTES);
	cr_assert_eq(write(go, "x", 1), 1);
	close(go);
	for (int t = 0; t < 200 && !fault_stored(pid); t++)
		usleep(100000);
	cr_expect(fault_stored(pid), "the victim's SIGILL was not stored:\n%s",
		  tu_read_file(in_dir("daemon.log")));
	waitpid(pid, &st, 0);
	cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGILL, "the victim did not die of SIGILL");
	/* Its fault joins the open incident, which the daemon stores again. */
	for (int t = 0; t < 100 && !joined(id, pid); t++)
		usleep(100000);
	stop_daemon();

	/* 3. report --incident: the incident by its ID, the loss, the process, its unit. */
	r = incident_report(id, &rc);
	cr_expect_eq(rc, 1, "an incident that killed a process exits 1");
	cr_expect_str_eq(json_object_get_string(jpath(r, "window.incident")), id);
	cr_expect_str_eq(json_object_get_string(jpath(r, "incident.id")), id);
	cr_expect_str_eq(json_object_get_string(jpath(r, "incident.state")), "open");
	cr_expect(array_has(jpath(r, "change.removed"), LOST_FEATURE),
		  "the report does not name %s as lost: %s", LOST_FEATURE,
		  json_object_to_json_string(jpath(r, "change")));
	f = with_pid(jpath(r, "faults.list"), pid);
	cr_assert_not_null(f, "the victim (pid %d) is not among the incident's faults: %s",
			   (int)pid, json_object_to_json_string(jpath(r, "faults")));
	cr_expect_str_eq(json_object_get_string(jpath(f, "comm")), "sigill_child");
	cr_expect_str_eq(json_object_get_string(jpath(f, "unit")), unit);
	cr_expect_str_eq(json_object_get_string(jpath(f, "feature")), LOST_FEATURE);
	cr_expect_str_eq(json_object_get_string(jpath(f, "class")), "feature-lost");
	cr_expect(json_object_get_boolean(jpath(f, "fatal")), "a SIGILL with no handler is fatal");
	/* The incident's own casualty: the victim, in its unit, of the lost feature. */
	p = with_pid(jpath(r, "incident.casualties"), pid);
	cr_assert_not_null(p, "the victim is not the incident's casualty: %s",
			   json_object_to_json_string(jpath(r, "incident")));
	cr_expect_str_eq(json_object_get_string(jpath(p, "comm")), "sigill_child");
	cr_expect_str_eq(json_object_get_string(jpath(p, "unit")), unit);
	cr_expect_str_eq(json_object_get_string(jpath(p, "feature")), LOST_FEATURE);
	cr_expect_null(with_pid(jpath(r, "incident.survived"), pid));
	cr_expect_geq(json_object_get_int(jpath(r, "incident.history.total")), 2,
		      "the opening issue and the one the casualty made");
	json_object_put(r);
	snprintf(args, sizeof(args), "report --config c.conf --incident %s", id);
	out = cd(args, &rc);
	snprintf(args, sizeof(args), "## Incident %s (open)", id);
	cr_expect(strstr(out, args) && strstr(out, LOST_FEATURE) && strstr(out, "sigill_child") &&
			  strstr(out, unit) && strstr(out, "Casualties (1)"),
		  "the text report misses the incident, the loss, the process or its unit:\n%s",
		  out);
	free(out);
	/* Without a selection, the open incident is pointed to. */
	out = cd("report --config c.conf", &rc);
	snprintf(args, sizeof(args), "`cpudrift report --incident %s`", id);
	cr_expect(strstr(out, args), "the open incident is not pointed to:\n%s", out);
	free(out);

	/* 4. evidence --incident: incident.json as stored, the manifest names it, it verifies. */
	snprintf(args, sizeof(args), "evidence --config c.conf --incident %s -o inc.tar.gz 2>&1",
		 id);
	out = cd(args, &rc);
	cr_expect_eq(rc, 0, "%s", out);
	free(out);
	out = cd("evidence verify inc.tar.gz", &rc);
	cr_expect_eq(rc, 0, "%s", out);
	free(out);
	{
		struct errbuf err = { "" };
		char *data = NULL;
		size_t len = 0;

		cr_assert_eq(bundle_read_member(in_dir("inc.tar.gz"), "incident.json", &data, &len,
						&err),
			     0, "no incident.json in the bundle: %s", err.msg);
		m = json_tokener_parse(data);
		cr_expect_str_eq(json_object_get_string(jpath(m, "id")), id);
		cr_expect(strstr(data, "sigill_child"), "incident.json lacks the casualty: %s",
			  data);
		json_object_put(m);
		free(data);
	}
	{
		struct errbuf err = { "" };
		size_t len;

		cr_assert_eq(
			bundle_read_member(in_dir("inc.tar.gz"), "manifest.json", &out, &len, &err),
			0, "%s", err.msg);
	}
	m = json_tokener_parse(out);
	free(out);
	cr_expect_str_eq(json_object_get_string(jpath(m, "window.incident")), id);
	cr_expect_not_null(json_object_object_get(jpath(m, "members"), "incident.json"),
			   "the manifest does not list incident.json");
	json_object_put(m);

	/* 5. An ID the store does not hold: exit 2, said plainly, no bundle written. */
	out = cd("report --config c.conf --incident 00000000-1 2>&1", &rc);
	cr_expect_eq(rc, 2);
	cr_expect(strstr(out, "no incident '00000000-1'"), "%s", out);
	free(out);
	out = cd("evidence --config c.conf --incident 00000000-1 -o none.tar.gz 2>&1", &rc);
	cr_expect_eq(rc, 2);
	cr_expect(strstr(out, "no incident '00000000-1'"), "%s", out);
	cr_expect(access(in_dir("none.tar.gz"), F_OK), "a bundle for no incident was written");
	free(out);
}

/* --- the page in Chromium ---------------------------------------------------------------- */

/* A PNG's pixels as RGBA (8-bit RGB or RGBA, not interlaced: what Chromium writes). */
static unsigned char *png_rgba(const char *path, unsigned *w, unsigned *h)
{
	FILE *f = fopen(path, "rb");
	unsigned char sig[8], hdr[8], *idat = NULL, *raw, *img;
	size_t nidat = 0;
	unsigned ct = 0, bpp;
	uLongf rawlen;

	cr_assert(f, "no screenshot at %s", path);
	cr_assert_eq(fread(sig, 1, 8, f), 8);
	while (fread(hdr, 1, 8, f) == 8) {
		unsigned len = (unsigned)hdr[0] << 24 | hdr[1] << 16 | hdr[2] << 8 | hdr[3];
		unsigned char *d = malloc(len + 4);

		cr_assert_eq(fread(d, 1, len + 4, f), len + 4);
		if (!memcmp(hdr + 4, "IHDR", 4)) {
			*w = (unsigned)d[0] << 24 | d[1] << 16 | d[2] << 8 | d[3];
			*h = (unsigned)d[4] << 24 | d[5] << 16 | d[6] << 8 | d[7];
			cr_assert_eq(d[8], 8, "not 8-bit");
			ct = d[9];
			cr_assert_eq(d[12], 0, "interlaced");
		} else if (!memcmp(hdr + 4, "IDAT", 4)) {
			idat = realloc(idat, nidat + len);
			memcpy(idat + nidat, d, len);
			nidat += len;
		}
		free(d);
	}
	fclose(f);
	cr_assert(ct == 2 || ct == 6, "colour type %u", ct);
	bpp = ct == 6 ? 4 : 3;
	rawlen = (uLongf)*h * (1 + *w * bpp);
	raw = malloc(rawlen);
	cr_assert_eq(uncompress(raw, &rawlen, idat, nidat), Z_OK);
	free(idat);
	img = malloc((size_t)*w * *h * 4);
	for (unsigned y = 0; y < *h; y++) {
		unsigned char *row = raw + (size_t)y * (1 + *w * bpp), *cur = row + 1;
		unsigned char *prev = y ? raw + (size_t)(y - 1) * (1 + *w * bpp) + 1 : NULL;

		for (unsigned i = 0; i < *w * bpp; i++) {
			int a = i >= bpp ? cur[i - bpp] : 0, b = prev ? prev[i] : 0,
			    c = prev && i >= bpp ? prev[i - bpp] : 0, p, pa, pb, pc;

			switch (row[0]) {
			case 1:
				cur[i] += a;
				break;
			case 2:
				cur[i] += b;
				break;
			case 3:
				cur[i] += (a + b) / 2;
				break;
			case 4:
				p = a + b - c;
				pa = abs(p - a);
				pb = abs(p - b);
				pc = abs(p - c);
				cur[i] += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
				break;
			}
		}
		for (unsigned x = 0; x < *w; x++) {
			memcpy(img + ((size_t)y * *w + x) * 4, cur + x * bpp, 3);
			img[((size_t)y * *w + x) * 4 + 3] = 255;
		}
	}
	free(raw);
	return img;
}

static int count_color(const unsigned char *img, unsigned w, unsigned h, unsigned rgb)
{
	int n = 0;

	for (size_t i = 0; i < (size_t)w * h; i++) {
		int dr = img[i * 4] - (int)(rgb >> 16), dg = img[i * 4 + 1] - (int)(rgb >> 8 & 255),
		    db = img[i * 4 + 2] - (int)(rgb & 255);

		n += dr * dr + dg * dg + db * db < 300;
	}
	return n;
}

/* Requests the page made (not the browser's own): their URLs, one a line; "" when none. */
static char *page_requests(const char *netlog)
{
	struct json_object *o = json_object_from_file(netlog), *types, *id, *events;
	char *urls = calloc(1, 1);
	size_t n = 0;

	cr_assert_not_null(o, "Chromium wrote no net log at %s", netlog);
	types = json_object_object_get(json_object_object_get(o, "constants"), "logEventTypes");
	id = json_object_object_get(types, "URL_REQUEST_START_JOB");
	cr_assert_not_null(id);
	events = json_object_object_get(o, "events");
	for (size_t i = 0; i < json_object_array_length(events); i++) {
		struct json_object *e = json_object_array_get_idx(events, i), *p;
		const char *url, *nik;

		if (json_object_get_int(json_object_object_get(e, "type")) !=
		    json_object_get_int(id))
			continue;
		p = json_object_object_get(e, "params");
		url = json_object_get_string(json_object_object_get(p, "url"));
		nik = json_object_get_string(json_object_object_get(p, "network_isolation_key"));
		/* The page's own requests carry its site (file://) in their isolation key. */
		if (!url || !nik || !strstr(nik, "file://") || !strncmp(url, "file:", 5) ||
		    !strncmp(url, "data:", 5))
			continue;
		urls = realloc(urls, n + strlen(url) + 2);
		n += (size_t)sprintf(urls + n, "%s\n", url);
	}
	json_object_put(o);
	return urls;
}

struct page {
	char *requests, *console;
	unsigned char *img;
	unsigned w, h;
};

static void open_page(const char *html, const char *png, struct page *pg)
{
	char cmd[4096], *log, *line, *save;
	int rc;

	snprintf(cmd, sizeof(cmd),
		 "rm -rf %s/profile && timeout 120 chromium --headless --no-sandbox --disable-gpu "
		 "--disable-background-networking --disable-component-update --disable-sync "
		 "--no-first-run --user-data-dir=%s/profile --enable-logging=stderr --v=0 "
		 "--log-net-log=%s/net.json --window-size=1300,1100 --screenshot=%s file://%s 2>&1",
		 dir, dir, dir, png, html);
	log = tu_run(cmd, &rc);
	cr_assert_eq(rc, 0, "chromium failed:\n%s", log);
	pg->console = calloc(1, strlen(log) + 1);
	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strstr(line, ":CONSOLE"))
			strcat(strcat(pg->console, line), "\n");
	free(log);
	snprintf(cmd, sizeof(cmd), "%s/net.json", dir);
	pg->requests = page_requests(cmd);
	pg->img = png_rgba(png, &pg->w, &pg->h);
}

static void page_free(struct page *pg)
{
	free(pg->requests);
	free(pg->console);
	free(pg->img);
}

Test(incident, report_html_in_chromium, .fini = teardown, .timeout = 240)
{
	char *out, *html, shot[512];
	struct errbuf err;
	struct page pg = { 0 }, ctl = { 0 };
	size_t len;
	FILE *f;
	int rc;

	if (access("/usr/bin/chromium", X_OK))
		cr_skip_test("chromium is missing (make test-deps installs it)");
	make_dir();
	out = cd("run --config c.conf --replay " RECORDING " 2>&1", &rc);
	cr_assert_eq(rc, 0, "%s", out);
	free(out);
	out = cd("evidence --config c.conf -o ev.tar.gz 2>&1", &rc);
	cr_assert_eq(rc, 0, "%s", out);
	free(out);
	cr_assert_eq(bundle_read_member(in_dir("ev.tar.gz"), "report.html", &html, &len, &err), 0,
		     "%s", err.msg);
	f = fopen(in_dir("report.html"), "w");
	fwrite(html, 1, len, f);
	fclose(f);
	free(html);

	/* The checks catch a page that fetches and logs (else they prove nothing). */
	f = fopen(in_dir("control.html"), "w");
	fprintf(f, "<html><body><img src=\"http://127.0.0.1:9/x.png\">"
		   "<script>console.error('control')</script></body></html>\n");
	fclose(f);
	open_page(in_dir("control.html"), in_dir("control.png"), &ctl);
	cr_expect(strstr(ctl.requests, "127.0.0.1:9"), "the net-log check misses a request");
	cr_expect(strstr(ctl.console, "control"), "the console check misses console.error");
	page_free(&ctl);

	snprintf(shot, sizeof(shot), "%s", tu_build("report-timeline.png"));
	open_page(in_dir("report.html"), shot, &pg);
	cr_expect_str_eq(pg.requests, "", "report.html made network requests:\n%s", pg.requests);
	cr_expect_str_eq(pg.console, "", "report.html logged to the console:\n%s", pg.console);
	/* The timeline is drawn: stall bars, the CPUID-exit line, the change and the verdict. */
	cr_expect_gt(count_color(pg.img, pg.w, pg.h, 0x6a1b9a), 40, "no stall bars in %s", shot);
	cr_expect_gt(count_color(pg.img, pg.w, pg.h, 0x2e7d32), 40, "no CPUID-exit line in %s",
		     shot);
	cr_expect_gt(count_color(pg.img, pg.w, pg.h, 0x1565c0), 40, "no CPU-change mark in %s",
		     shot);
	cr_expect_gt(count_color(pg.img, pg.w, pg.h, 0xc62828), 40, "no critical marks in %s",
		     shot);
	page_free(&pg);
}
