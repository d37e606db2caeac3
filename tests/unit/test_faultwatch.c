// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Live fault-watcher tests: the BPF program attached for real, real children faulting
 * (tests/helpers/sigill_child), forging (tests/helpers/forge) and tracing
 * (tests/helpers/tracer), the forgers run as the unprivileged user nobody.  They need root
 * and kernel BTF and skip otherwise.
 */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "analysis/attrib.h"
#include "analysis/faultevent.h"
#include "analysis/classify.h"
#include "analysis/tracker.h"
#include "capture/capture.h"
#include "capture/faultwatch.h"
#include "capture/probe.h"
#include "capture/selfcode.h"
#include "core/log.h"
#include "core/snapshot.h"

#define MAX_SEEN 4096
#define NOBODY 65534

static struct fault *seen;
static int nseen;
static struct forged_signal forged[64];
static int nforged;

static int collect(const struct fault *f, void *ctx)
{
	(void)ctx;
	if (nseen < MAX_SEEN)
		seen[nseen++] = *f;
	return 0;
}

static int collect_forged(const struct forged_signal *s, void *ctx)
{
	(void)ctx;
	if (nforged < 64)
		forged[nforged++] = *s;
	return 0;
}

static void need_live(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root");
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		cr_skip_test("no BTF");
}

static const char *helper(const char *name)
{
	static char path[4][4096];
	static int k;
	const char *b = getenv("CPUDRIFT_BUILD");

	k = (k + 1) % 4;
	snprintf(path[k], sizeof(path[k]), "%s/tests/helpers/%s", b ? b : "build", name);
	if (access(path[k], X_OK))
		cr_skip_test("helper %s not built (run through make test)", path[k]);
	return path[k];
}

static struct faultwatch *attach_with(struct faultwatch_opts *o)
{
	struct errbuf err = { "" };
	struct faultwatch *fw;
	int ret;

	if (!seen)
		seen = calloc(MAX_SEEN, sizeof(*seen));
	cr_assert_not_null(seen);
	nseen = 0;
	nforged = 0;
	o->on_forged = collect_forged;
	ret = faultwatch__new(o, collect, NULL, &fw, &err);
	cr_assert_eq(ret, 0, "%s", err.msg);
	if (o->variant != FAULT_VARIANT_AUTO)
		cr_assert_eq(faultwatch_variant(fw), o->variant);
	return fw;
}

static struct faultwatch *attach(enum fault_variant v)
{
	struct faultwatch_opts o = { .variant = v };

	return attach_with(&o);
}

struct child {
	pid_t pid;
	int go; /* write a byte to release the child */
	FILE *out; /* its announcements */
	uint64_t ip;
	long first; /* the first number it printed (a pid for forge and tracer) */
};

/* Fork, drop to @uid (nobody) unless it is 0, and exec @args with pipes on stdin/stdout. */
static void spawn_as(struct child *c, const char *const *args, uid_t uid)
{
	int in[2], out[2];
	char line[128], *end;

	cr_assert_eq(pipe(in), 0);
	cr_assert_eq(pipe(out), 0);
	c->pid = fork();
	cr_assert_geq(c->pid, 0);
	if (!c->pid) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		if (uid && (setgroups(0, NULL) || setgid(uid) || setuid(uid)))
			_exit(126);
		execv(args[0], (char *const *)args);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->go = in[1];
	c->out = fdopen(out[0], "r");
	cr_assert_not_null(fgets(line, sizeof(line), c->out), "child did not start");
	c->first = strtol(line, &end, 0);
	/* sigill_child prints the IP alone; forge and tracer print "PID IP". */
	c->ip = *end == ' ' ? strtoull(end + 1, NULL, 0) : strtoull(line, NULL, 0);
}

static void spawn(struct child *c, const char *const *args)
{
	spawn_as(c, args, 0);
}

static void release(struct child *c)
{
	cr_assert_eq(write(c->go, "g", 1), 1);
}

static int reap(struct child *c)
{
	int st = 0;

	close(c->go);
	fclose(c->out);
	/* Criterion's timeout timer interrupts system calls: wait for the real end. */
	while (waitpid(c->pid, &st, 0) < 0)
		cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
	return st;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const struct fault *find(pid_t pid)
{
	for (int i = 0; i < nseen; i++)
		if (seen[i].pid == pid)
			return &seen[i];
	return NULL;
}

/* Poll until an event of @pid arrives or @timeout_s passes; the event or NULL. */
static const struct fault *wait_event(struct faultwatch *fw, pid_t pid, double timeout_s)
{
	double end = now_s() + timeout_s;

	do {
		if (find(pid))
			return find(pid);
		faultwatch_poll(fw, 50);
	} while (now_s() < end);
	return find(pid);
}

/* Everything the watcher has for @pid, records and flushes: the sum of their deltas. */
static uint64_t counted(struct faultwatch *fw, pid_t pid)
{
	uint64_t sum = 0;

	faultwatch_consume(fw, 0, NULL);
	cr_assert_geq(faultwatch_flush(fw, 0, 0, NULL), 0);
	for (int i = 0; i < nseen; i++)
		if (seen[i].pid == pid)
			sum += seen[i].delta;
	return sum;
}

static uint64_t forged_count(struct faultwatch *fw)
{
	struct watcher_counts c;

	cr_assert_eq(faultwatch_stats(fw, &c), 0);
	return c.forged;
}

static const struct forged_signal *forged_from(pid_t pid)
{
	for (int i = 0; i < nforged; i++)
		if (forged[i].sender_pid == pid)
			return &forged[i];
	return NULL;
}

static struct snapshot *live_snapshot(void)
{
	struct capture_opts co = { .only_cpu = -1, .skip_extra = true };
	struct errbuf err = { "" };
	struct snapshot *s = NULL;

	cr_assert_eq(capture_snapshot(&s, &co, &err), 0, "%s", err.msg);
	return s;
}

/* The class the daemon's analysis gives @f: this binary's probe code known. */
static enum fault_class classify_live(const struct fault *f, const struct snapshot *s,
				      struct attribution *a)
{
	struct code_range probes;
	struct classification c;
	struct classify_input in = {
		.advertised = &s->features,
		.has_xcr0 = s->has_xcr0,
		.xcr0 = s->xcr0,
		.amx_permitted = -1,
		.probe_code = selfcode_probe_range(&probes) ? NULL : &probes,
	};

	faultevent_classify(f, &in, a, &c);
	return c.cls;
}

/* A ud2 child under @v: right IP, bytes, identity, attribution and class within a second. */
static void ud2_under(enum fault_variant v, bool handled)
{
	const char *args[] = { helper("sigill_child"), handled ? "handled" : "ud2", NULL };
	struct faultwatch *fw = attach(v);
	struct snapshot *s = live_snapshot();
	const struct fault *f;
	struct attribution a;
	char line[64];
	struct child c;
	int st;

	spawn(&c, args);
	release(&c);
	f = wait_event(fw, c.pid, 1.0);
	cr_assert_not_null(f, "no event within 1 s for ud2 in pid %d (%s)", c.pid,
			   fault_variant_name(v));
	cr_expect_eq(f->ip, c.ip, "ip 0x%llx, child says 0x%llx", (unsigned long long)f->ip,
		     (unsigned long long)c.ip);
	cr_expect_eq(f->sig, SIGILL);
	cr_expect_eq(f->si_code, ILL_ILLOPN);
	cr_expect_eq(f->trap_nr, 6u);
	cr_expect_eq(f->origin, FAULT_ORIGIN_CPU);
	cr_expect_eq(f->fatal, !handled);
	cr_expect_str_eq(f->comm, "sigill_child");
	cr_assert_geq(f->nbytes, 2u);
	cr_expect(f->bytes[0] == 0x0f && f->bytes[1] == 0x0b);
	cr_expect_eq(f->count, 1u);
	cr_expect_eq(f->delta, 1u);
	/* What identifies the code comes from the kernel, at the fault: dead or alive. */
	cr_expect(strstr(f->exe, "/sigill_child") != NULL, "exe '%s'", f->exe);
	cr_expect(f->exe_file.valid && f->exe_file.ino, "no exe identity");
	cr_expect(f->has_map && strstr(f->map_path, "/sigill_child"), "map '%s'", f->map_path);
	cr_expect(f->map_file.valid && f->map_file.ino == f->exe_file.ino,
		  "the mapping is not the executable");
	cr_expect_eq(classify_live(f, s, &a), FC_NOT_FEATURE_RELATED);
	cr_expect_str_eq(a.mnemonic, "ud2");
	cr_expect_eq(featset_count(&a.features), 0);
	if (handled) {
		/* The child is still alive: /proc, checked, adds its cgroup. */
		cr_expect_neq(f->cgroup[0], '\0');
		/* Read its second announcement, or closing the pipe would kill it with SIGPIPE. */
		cr_expect_not_null(fgets(line, sizeof(line), c.out));
		release(&c);
	}
	st = reap(&c);
	if (handled)
		cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "handled child died: %#x", st);
	else
		cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGILL);
	faultwatch__free(fw);
	snapshot__free(s);
}

TestSuite(faultwatch, .init = need_live);

Test(faultwatch, ud2_is_reported_with_its_exe_and_mapping)
{
	ud2_under(FAULT_VARIANT_AUTO, false);
}

Test(faultwatch, handled_fault_is_reported)
{
	ud2_under(FAULT_VARIANT_AUTO, true);
}

/*
 * Fatal means the signal kills: also when the process had a handler but blocked SIGILL, or
 * ignored it.  A fault is not deliverable to a handler then: force_sig_info_to_task
 * (kernel/signal.c) resets the action to SIG_DFL and unblocks the signal before it is
 * generated, which is what the program reads.
 */
static void forced(const char *mode)
{
	const char *args[] = { helper("sigill_child"), mode, NULL };
	struct faultwatch *fw = attach(FAULT_VARIANT_AUTO);
	const struct fault *f;
	struct child c;
	int st;

	spawn(&c, args);
	release(&c);
	f = wait_event(fw, c.pid, 1.0);
	cr_assert_not_null(f, "no event within 1 s for a %s ud2 in pid %d", mode, c.pid);
	cr_expect(f->fatal, "a %s SIGILL is not marked fatal", mode);
	st = reap(&c);
	cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGILL, "%s child: status %#x", mode, st);
	faultwatch__free(fw);
}

Test(faultwatch, a_blocked_or_ignored_sigill_is_fatal)
{
	forced("blocked");
	forced("ignored");
}

Test(faultwatch, raw_tp_variant_gives_the_same_facts)
{
	ud2_under(FAULT_VARIANT_RAW_TP, true);
}

Test(faultwatch, tp_btf_variant)
{
	ud2_under(FAULT_VARIANT_TP_BTF, false);
}

Test(faultwatch, plain_tracepoint_variant_is_refused)
{
	struct faultwatch_opts o = { .variant = FAULT_VARIANT_TRACEPOINT };
	struct errbuf err = { "" };
	struct faultwatch *fw = NULL;

	cr_expect_eq(faultwatch__new(&o, collect, NULL, &fw, &err), -EOPNOTSUPP);
	cr_expect_null(fw);
	cr_expect(strstr(err.msg, "si_addr"), "no reason given: %s", err.msg);
}

Test(faultwatch, missing_feature_is_attributed_and_never_advertised)
{
	struct snapshot *s = live_snapshot();
	struct probe_report *pr = NULL;
	struct errbuf err = { "" };
	const struct probe_row *pick = NULL;
	const struct fault *f;
	struct attribution want, a;
	char hex[64 * 2 + 1] = "";
	struct faultwatch *fw;
	struct child c;
	size_t n;

	cr_assert_eq(probe_run(s, NULL, &pr, &err), 0, "%s", err.msg);
	/* The first feature this CPU neither advertises nor executes, whose bytes Zydis knows. */
	for (size_t i = 0; i < pr->n && !pick; i++) {
		const struct probe_row *r = &pr->rows[i];

		n = probe_insn_len(r->def);
		if (r->result != PROBE_R_ABSENT || !n || n > 15 || r->feature < 0 ||
		    (r->def->flags & (PROBE_DECODER_GAP | PROBE_AMX)))
			continue;
		if (attrib_decode(r->def->insn, n, &want) ||
		    !featset_has(&want.features, r->feature))
			continue;
		pick = r;
	}
	if (!pick)
		cr_skip_test("this CPU lacks no probed feature Zydis can decode");
	for (size_t i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", pick->def->insn[i]);
	cr_log_info("faulting with %s (%s): %s", pick->def->feature, want.text, hex);

	const char *args[] = { helper("sigill_child"), "bytes", hex, NULL };

	fw = attach(FAULT_VARIANT_AUTO);
	spawn(&c, args);
	release(&c);
	f = wait_event(fw, c.pid, 1.0);
	cr_assert_not_null(f, "no event within 1 s for %s", hex);
	cr_expect_eq(f->ip, c.ip);
	cr_expect_eq(memcmp(f->bytes, pick->def->insn, n), 0);
	cr_expect_str_eq(f->map_path, "[anon]");
	cr_expect_eq(classify_live(f, s, &a), FC_NEVER_ADVERTISED);
	cr_expect_str_eq(a.mnemonic, want.mnemonic);
	cr_expect(featset_has(&a.features, pick->feature));
	reap(&c);
	faultwatch__free(fw);
	probe_report__free(pr);
	snapshot__free(s);
}

/* --- forgery -------------------------------------------------------------------------- */

/* @mode of the forger, as nobody: no fault, the forged counter moves; its exit status. */
static int forge_as_nobody(const char *mode, struct faultwatch *fw, pid_t *pid)
{
	const char *args[] = { helper("forge"), mode, NULL };
	uint64_t before = forged_count(fw);
	struct child c;
	int st;

	spawn_as(&c, args, NOBODY);
	*pid = (pid_t)c.first;
	st = reap(&c);
	faultwatch_poll(fw, 100);
	cr_expect_null(wait_event(fw, *pid, 0.3), "%s: a sent SIGILL was reported as a fault",
		       mode);
	cr_expect_gt(forged_count(fw), before, "%s: the forged counter did not move", mode);
	return st;
}

Test(faultwatch, self_sent_sigill_with_fault_code_and_avx2_bytes_is_forged)
{
	struct faultwatch *fw = attach(FAULT_VARIANT_AUTO);
	const struct forged_signal *s;
	pid_t pid;
	int st = forge_as_nobody("sigqueue", fw, &pid);

	/* It did send itself the signal: it died of it, like a process that faulted. */
	cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGILL, "the forger did not die: %#x", st);
	s = forged_from(pid);
	cr_assert_not_null(s, "no forged-signal record names the sender");
	cr_expect_eq(s->sender_uid, (unsigned)NOBODY);
	cr_expect_str_eq(s->sender_comm, "forge");
	cr_expect_eq(s->target_pid, pid);
	cr_expect_eq(s->sig, SIGILL);
	cr_expect_eq(s->si_code, ILL_ILLOPN);
	cr_expect_str_eq(s->reason, "inside-a-syscall");
	faultwatch__free(fw);
}

Test(faultwatch, every_way_to_send_a_sigill_is_forged)
{
	static const char *const modes[] = { "sigqueue-h", "tgsigqueue", "pidfd",  "tgkill",
					     "kill",	   "sigio",	 "exitsig" };
	struct faultwatch *fw = attach(FAULT_VARIANT_AUTO);

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		pid_t pid;
		int st = forge_as_nobody(modes[i], fw, &pid);

		cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: the forger failed: %#x",
			  modes[i], st);
		/* exitsig: the SIGILL came from its child, which faulted nowhere either. */
		for (int j = 0; j < nseen; j++)
			cr_expect(seen[j].pid < pid || seen[j].pid > pid + 2 ||
					  strcmp(seen[j].comm, "forge"),
				  "%s: pid %d reported", modes[i], seen[j].pid);
	}
	faultwatch__free(fw);
}

Test(faultwatch, sigill_sent_from_another_process_is_forged)
{
	const char *args[] = { helper("forge"), "wait", NULL };
	struct faultwatch *fw = attach(FAULT_VARIANT_AUTO);
	uint64_t before = forged_count(fw);
	const struct forged_signal *s;
	struct child c;

	spawn_as(&c, args, NOBODY);
	cr_assert_eq(kill((pid_t)c.first, SIGILL), 0);
	faultwatch_poll(fw, 100);
	cr_expect_null(wait_event(fw, (pid_t)c.first, 0.3), "kill -ILL was reported as a fault");
	cr_expect_gt(forged_count(fw), before);
	s = forged_from(getpid());
	cr_assert_not_null(s, "no record names this process as the sender");
	cr_expect_eq(s->target_pid, (pid_t)c.first);
	cr_expect_str_eq(s->reason, "sent-by-another-task");
	reap(&c);
	faultwatch__free(fw);
}

/* --- tracing -------------------------------------------------------------------------- */

static void trace_as_nobody(const char *mode, struct faultwatch *fw, struct child *c)
{
	const char *args[] = { helper("tracer"), mode, NULL };
	int st;

	spawn_as(c, args, NOBODY);
	st = reap(c);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "tracer %s failed: %#x", mode, st);
	faultwatch_poll(fw, 100);
}

Test(faultwatch, a_tracer_injected_sigill_is_traced_never_cpu)
{
	struct faultwatch *fw = attach(FAULT_VARIANT_AUTO);
	const struct fault *f;
	struct child c;

	/* Registers rewritten too (orig_rax -1, rip at the AVX2 bytes): every check passes... */
	trace_as_nobody("inject", fw, &c);
	f = wait_event(fw, (pid_t)c.first, 0.5);
	cr_assert_not_null(f, "the requeued, register-faked SIGILL was not seen at all");
	/* ...so only the trace says it: kept, and marked. */
	cr_expect_eq(f->origin, FAULT_ORIGIN_TRACED);
	cr_expect_eq(f->ip, c.ip);
	for (int i = 0; i < nseen; i++)
		if (seen[i].pid == (pid_t)c.first)
			cr_expect_eq(seen[i].origin, FAULT_ORIGIN_TRACED);
	/* The siginfo alone: the child was in a system call, so it is no fault at all. */
	trace_as_nobody("inject-info", fw, &c);
	cr_expect_null(wait_event(fw, (pid_t)c.first, 0.3), "inject-info was reported");
	/* A real fault of a traced process is traced too. */
	trace_as_nobody("ud2", fw, &c);
	f = wait_event(fw, (pid_t)c.first, 0.5);
	cr_assert_not_null(f, "the traced child's ud2 was not reported");
	cr_expect_eq(f->origin, FAULT_ORIGIN_TRACED);
	faultwatch__free(fw);
}

/* --- probes --------------------------------------------------------------------------- */

Test(faultwatch, a_program_named_cpudrift_probe_is_reported)
{
	const char *args[] = { helper("sigill_child"), "named", PROBE_COMM, NULL };
	struct faultwatch *fw = attach(FAULT_VARIANT_AUTO);
	struct snapshot *s = live_snapshot();
	const struct fault *f;
	struct attribution a;
	struct child c;

	spawn(&c, args);
	release(&c);
	f = wait_event(fw, c.pid, 1.0);
	cr_assert_not_null(f, "a process named %s was not reported", PROBE_COMM);
	cr_expect_str_eq(f->comm, PROBE_COMM);
	cr_expect_eq(classify_live(f, s, &a), FC_NOT_FEATURE_RELATED);
	reap(&c);
	faultwatch__free(fw);
	snapshot__free(s);
}

Test(faultwatch, own_probe_faults_are_known_by_where_their_code_is)
{
	struct faultwatch *fw = attach(FAULT_VARIANT_AUTO);
	struct snapshot *s = live_snapshot();
	struct probe_report *pr = NULL;
	struct errbuf err = { "" };
	struct attribution a;
	struct code_range r;
	int faulted = 0, mine = 0;

	cr_assert_eq(selfcode_probe_range(&r), 0, "this binary's probe code was not found");
	cr_assert_lt(r.start, r.end);
	/* The probe child shares this process's memory (CLONE_VM) and runs this file's code. */
	cr_assert_eq(probe_run(s, NULL, &pr, &err), 0, "%s", err.msg);
	for (size_t i = 0; i < pr->n; i++)
		faulted += pr->rows[i].result == PROBE_R_ABSENT ||
			   pr->rows[i].result == PROBE_R_MISMATCH;
	if (!faulted)
		cr_skip_test("no probe faulted on this CPU");
	faultwatch_poll(fw, 200);
	faultwatch_consume(fw, 0, NULL);
	for (int i = 0; i < nseen; i++) {
		const struct fault *f = &seen[i];

		if (!f->exe_file.valid || f->exe_file.ino != r.ino ||
		    f->exe_file.major != r.major || f->exe_file.minor != r.minor)
			continue;
		mine++;
		cr_expect_eq(classify_live(f, s, &a), FC_PROBE,
			     "probe fault at 0x%llx (%s) not recognised", (unsigned long long)f->ip,
			     f->map_path);
	}
	cr_expect_gt(mine, 0, "none of this binary's %d probe faults was seen", faulted);
	probe_report__free(pr);
	faultwatch__free(fw);
	snapshot__free(s);
}

/* --- counting no one can blind -------------------------------------------------------- */

Test(faultwatch, faults_at_20000_addresses_blind_no_one, .timeout = 120)
{
	/* It keeps faulting at its sites while the victim faults: the victim's detail stays. */
	const char *spray[] = { helper("sigill_child"), "spray", "20000", "loop", NULL };
	const char *victim[] = { helper("sigill_child"), "ud2", NULL };
	struct faultwatch *fw = attach(FAULT_VARIANT_AUTO);
	struct watcher_counts st;
	const struct fault *f;
	struct child sp, v;
	char line[64];

	spawn(&sp, spray);
	release(&sp);
	cr_assert_not_null(fgets(line, sizeof(line), sp.out), "the spray did not finish");
	cr_assert_str_eq(line, "done\n");
	cr_assert_eq(faultwatch_stats(fw, &st), 0);
	cr_expect_geq(st.untracked, 20000u - 64u, "untracked %llu",
		      (unsigned long long)st.untracked);
	/* The spray is alive and holds its sites: someone else's ud2 is still reported. */
	spawn(&v, victim);
	release(&v);
	f = wait_event(fw, v.pid, 2.0);
	cr_assert_not_null(f, "the victim's ud2 was not reported after the spray");
	cr_expect_eq(f->kind, FAULT_DETAIL, "the victim's fault was not detailed");
	cr_expect(strstr(f->exe, "/sigill_child"), "exe '%s'", f->exe);
	cr_expect(f->tracked);
	reap(&v);
	/* Every one of the spray's faults is counted, exactly once. */
	close(sp.go);
	cr_assert_not_null(fgets(line, sizeof(line), sp.out), "the spray did not say its count");
	while (waitpid(sp.pid, NULL, 0) < 0 && errno == EINTR)
		;
	fclose(sp.out);
	cr_expect_eq(counted(fw, sp.pid), strtoull(line, NULL, 10),
		     "counted %llu of the spray's %s faults",
		     (unsigned long long)counted(fw, sp.pid), line);
	faultwatch__free(fw);
}

static void storm(uint64_t n, struct faultwatch_opts *o, struct watcher_counts *st)
{
	char count[24];
	const char *args[] = { helper("sigill_child"), "storm", count, NULL };
	struct faultwatch *fw;
	uint64_t site = 0, max = 0;
	struct child c;
	int status;

	snprintf(count, sizeof(count), "%llu", (unsigned long long)n);
	fw = attach_with(o);
	spawn(&c, args);
	release(&c);
	/* Nobody drains the ring buffer while it storms: records may be dropped. */
	while (waitpid(c.pid, &status, 0) < 0)
		cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "storm child died: %#x", status);
	cr_assert_eq(faultwatch_stats(fw, st), 0);
	cr_log_info("storm of %llu: %llu detailed, %llu dropped", (unsigned long long)n,
		    (unsigned long long)st->events, (unsigned long long)st->drops);
	cr_expect_eq(counted(fw, c.pid), n, "the records' deltas do not add up to %llu",
		     (unsigned long long)n);
	for (int i = 0; i < nseen; i++)
		if (seen[i].pid == c.pid && seen[i].count > max)
			max = seen[i].count;
	cr_expect_eq(max, n, "the last count says %llu", (unsigned long long)max);
	/* It exited: once counted, its site is forgotten. */
	cr_expect_eq(faultwatch_site_count(fw, c.pid, c.ip, &site), -ENOENT);
	fclose(c.out);
	close(c.go);
	faultwatch__free(fw);
}

Test(faultwatch, storms_are_counted_exactly, .timeout = 120)
{
	struct faultwatch_opts o = { 0 };
	struct watcher_counts st;

	storm(1000, &o, &st);
	storm(100000, &o, &st);
	cr_expect_geq(st.faults, 100000u);
}

Test(faultwatch, a_full_ring_buffer_loses_no_count, .timeout = 120)
{
	/* Detail every fault: the ring buffer overflows and the counts must not notice. */
	struct faultwatch_opts o = { .burst = 1u << 30,
				     .interval_ns = 1,
				     .detail_burst = 1u << 30,
				     .detail_interval_ns = 1 };
	struct watcher_counts st;

	storm(100000, &o, &st);
	cr_expect_gt(st.drops, 0u, "the ring buffer never overflowed: this test proves nothing");
}

Test(faultwatch, a_drain_stops_at_its_budget)
{
	const char *args[] = { helper("sigill_child"), "paced", "20", "2000", NULL };
	struct faultwatch_opts o = { .burst = 100 };
	struct faultwatch *fw = attach_with(&o);
	bool more = false;
	struct child c;
	int n, st;

	spawn(&c, args);
	release(&c);
	while (waitpid(c.pid, &st, 0) < 0 && errno == EINTR)
		;
	n = faultwatch_consume(fw, 3, &more);
	cr_expect_eq(n, 3);
	cr_expect(more, "the budget stopped the drain, but it says nothing remains");
	n = faultwatch_consume(fw, 0, &more);
	cr_expect_geq(n, 17);
	cr_expect_not(more);
	fclose(c.out);
	close(c.go);
	faultwatch__free(fw);
}
