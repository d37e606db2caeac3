// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Live fault-watcher tests: the BPF program attached for real, real children faulting
 * (tests/helpers/sigill_child).  They need root and kernel BTF and skip otherwise.
 */
#include <errno.h>
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
#include "capture/capture.h"
#include "analysis/classify.h"
#include "capture/faultwatch.h"
#include "core/log.h"
#include "capture/probe.h"
#include "core/snapshot.h"

#define MAX_SEEN 4096

static struct fault *seen;
static int nseen;

static int collect(const struct fault *f, void *ctx)
{
	(void)ctx;
	if (nseen < MAX_SEEN)
		seen[nseen++] = *f;
	return 0;
}

static void need_live(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root");
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		cr_skip_test("no BTF");
}

static const char *helper(void)
{
	static char path[4096];
	const char *b = getenv("CPUDRIFT_BUILD");

	snprintf(path, sizeof(path), "%s/tests/helpers/sigill_child", b ? b : "build");
	if (access(path, X_OK))
		cr_skip_test("helper %s not built (run through make test)", path);
	return path;
}

static struct faultwatch *attach(enum fault_variant v)
{
	struct faultwatch_opts o = { .variant = v };
	struct errbuf err = { "" };
	struct faultwatch *fw;
	int ret;

	if (!seen)
		seen = calloc(MAX_SEEN, sizeof(*seen));
	nseen = 0;
	ret = faultwatch__new(&o, collect, NULL, &fw, &err);
	cr_assert_eq(ret, 0, "%s", err.msg);
	if (v != FAULT_VARIANT_AUTO)
		cr_assert_eq(faultwatch_variant(fw), v);
	return fw;
}

struct child {
	pid_t pid;
	int go; /* write a byte to release the child */
	FILE *out; /* its announcements */
	uint64_t ip;
};

static void spawn(struct child *c, const char *const *args)
{
	int in[2], out[2];
	char line[64];

	cr_assert_eq(pipe(in), 0);
	cr_assert_eq(pipe(out), 0);
	c->pid = fork();
	cr_assert_geq(c->pid, 0);
	if (!c->pid) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execv(args[0], (char *const *)args);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->go = in[1];
	c->out = fdopen(out[0], "r");
	cr_assert_not_null(fgets(line, sizeof(line), c->out), "child did not start");
	c->ip = strtoull(line, NULL, 0);
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
	waitpid(c->pid, &st, 0);
	return st;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Poll until an event of @pid arrives or @timeout_s passes; the event or NULL. */
static const struct fault *wait_event(struct faultwatch *fw, pid_t pid, double timeout_s)
{
	double end = now_s() + timeout_s;

	do {
		for (int i = 0; i < nseen; i++)
			if (seen[i].pid == pid)
				return &seen[i];
		faultwatch_poll(fw, 50);
	} while (now_s() < end);
	for (int i = 0; i < nseen; i++)
		if (seen[i].pid == pid)
			return &seen[i];
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

static enum fault_class classify_live(const struct fault *f, const struct snapshot *s,
				      struct attribution *a)
{
	struct classification c;
	struct classify_input in = {
		.attr = a,
		.sig = f->sig,
		.trap_nr = f->trap_nr,
		.comm = f->comm,
		.advertised = &s->features,
		.has_xcr0 = s->has_xcr0,
		.xcr0 = s->xcr0,
		.amx_permitted = -1,
	};

	attrib_decode(f->bytes, f->nbytes, a);
	classify_fault(&in, &c);
	return c.cls;
}

/* A ud2 child under @v: right IP, bytes, attribution and class within a second. */
static void ud2_under(enum fault_variant v, bool handled)
{
	const char *args[] = { helper(), handled ? "handled" : "ud2", NULL };
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
	cr_expect_str_eq(f->comm, "sigill_child");
	cr_assert_geq(f->nbytes, 2u);
	cr_expect(f->bytes[0] == 0x0f && f->bytes[1] == 0x0b);
	cr_expect_eq(f->count, 1u);
	cr_expect_eq(classify_live(f, s, &a), FC_NOT_FEATURE_RELATED);
	cr_expect_str_eq(a.mnemonic, "ud2");
	cr_expect_eq(featset_count(&a.features), 0);
	if (handled) {
		/* The child is still alive: the enrichment must have found it. */
		cr_expect(strstr(f->exe, "/sigill_child") != NULL, "exe '%s'", f->exe);
		cr_expect(f->has_map && strstr(f->map_path, "/sigill_child"), "map '%s'",
			  f->map_path);
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

Test(faultwatch, ud2_is_reported_and_not_feature_related)
{
	ud2_under(FAULT_VARIANT_AUTO, false);
}

Test(faultwatch, handled_fault_is_reported)
{
	ud2_under(FAULT_VARIANT_AUTO, true);
}

Test(faultwatch, raw_tp_variant_gives_the_same_attribution)
{
	ud2_under(FAULT_VARIANT_RAW_TP, true);
}

Test(faultwatch, tracepoint_variant_gives_the_same_attribution)
{
	ud2_under(FAULT_VARIANT_TRACEPOINT, true);
}

Test(faultwatch, tp_btf_variant)
{
	ud2_under(FAULT_VARIANT_TP_BTF, false);
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

	const char *args[] = { helper(), "bytes", hex, NULL };

	fw = attach(FAULT_VARIANT_AUTO);
	spawn(&c, args);
	release(&c);
	f = wait_event(fw, c.pid, 1.0);
	cr_assert_not_null(f, "no event within 1 s for %s", hex);
	cr_expect_eq(f->ip, c.ip);
	cr_expect_eq(memcmp(f->bytes, pick->def->insn, n), 0);
	cr_expect_eq(classify_live(f, s, &a), FC_NEVER_ADVERTISED);
	cr_expect_str_eq(a.mnemonic, want.mnemonic);
	cr_expect(featset_has(&a.features, pick->feature));
	reap(&c);
	faultwatch__free(fw);
	probe_report__free(pr);
	snapshot__free(s);
}

Test(faultwatch, asynchronous_kill_ill_is_not_a_fault)
{
	const char *args[] = { helper(), "wait", NULL };
	struct faultwatch *fw = attach(FAULT_VARIANT_AUTO);
	struct child c;
	int status;

	spawn(&c, args);
	c.pid = (pid_t)c.ip; /* "wait" announces its pid */
	cr_assert_eq(kill(c.pid, SIGILL), 0);
	cr_expect_null(wait_event(fw, c.pid, 0.5), "kill -ILL was reported as a fault");
	status = reap(&c);
	cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGILL, "the signal was not sent");
	faultwatch__free(fw);
}

Test(faultwatch, storm_is_counted_exactly_and_detailed_boundedly, .timeout = 120)
{
	const char *args[] = { helper(), "storm", "100000", NULL };
	struct faultwatch *fw = attach(FAULT_VARIANT_AUTO);
	struct faultwatch_stats st;
	struct rusage r0, r1;
	uint64_t count = 0;
	double t0, wall, cpu;
	int details = 0, status;
	struct child c;

	getrusage(RUSAGE_SELF, &r0);
	t0 = now_s();
	spawn(&c, args);
	release(&c);
	/* Keep polling while the child storms, as a real watcher would. */
	while (waitpid(c.pid, &status, WNOHANG) == 0)
		faultwatch_poll(fw, 20);
	faultwatch_poll(fw, 100);
	wall = now_s() - t0;
	getrusage(RUSAGE_SELF, &r1);
	cpu = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) +
	      (r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
	      ((r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) +
	       (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec)) /
		      1e6;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "storm child died: %#x", status);

	cr_assert_eq(faultwatch_site_count(fw, c.pid, c.ip, &count), 0);
	cr_expect_eq(count, 100000u, "site count %llu", (unsigned long long)count);
	cr_assert_eq(faultwatch_stats(fw, &st), 0);
	cr_expect_geq(st.faults, 100000u);
	for (int i = 0; i < nseen; i++)
		details += seen[i].pid == c.pid;
	/* Burst of 5, then one per second per site. */
	cr_expect_leq(details, 5 + (int)wall + 1, "%d detail events in %.1f s", details, wall);
	cr_expect_geq(details, 1);
	cr_expect_lt(cpu, 1.0, "watcher used %.3f s CPU for the storm", cpu);
	printf("faultwatch storm: 100000 faults in %.2f s, %d detail events, watcher CPU %.3f s, "
	       "drops %llu\n",
	       wall, details, cpu, (unsigned long long)st.drops);
	cr_expect_gt(faultwatch_prune(fw), 0);
	cr_expect_eq(faultwatch_site_count(fw, c.pid, c.ip, &count), -ENOENT);
	fclose(c.out);
	close(c.go);
	faultwatch__free(fw);
}
