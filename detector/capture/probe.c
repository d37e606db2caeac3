// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The probe runner.  Probes run in a child process so that nothing a probe does (a fault
 * the guard misses, a hang, AMX permission) can touch the caller.  The child is cloned
 * with CLONE_VM: it shares our memory, so it costs no page-table copy and writes each
 * result straight into the caller's array, with no pipe and no wakeup per probe.  It is
 * still its own process (own pid, signal handlers, name, AMX permission); the parent
 * waits on its pidfd, and when it dies or stops making progress, the progress index says
 * which probe did it; a fresh child carries on after that probe.
 *
 * The child shares the caller's TLS, so it calls only raw system calls and no function
 * that would touch errno-dependent or locked libc state (malloc, stdio).
 */
#include <asm/prctl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "capture/probe.h"
#include "core/snapshot.h"

/* The XSAVE state component of AMX tile data (Intel SDM vol. 1, 13.1); no uapi name. */
#define XFEATURE_XTILEDATA 18
/* arch/x86/include/uapi/asm/hwcap2.h (Linux 5.9+); not in every libc's headers. */
#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif

#define DEFAULT_TIMEOUT_MS 5000
#define DEFAULT_STALL_MS 1000

/* The child's stack: the probes, the guard's handler and the libc calls they make. */
#define CHILD_STACK_SIZE (256 * 1024)

/* What the child and the parent share besides the results array. */
struct child_args {
	const struct probe_def *t;
	size_t n;
	const bool *select;
	size_t start;
	struct probe_obs *obs;
	volatile size_t at; /* the probe the child is on (n: finished) */
};

static const char *const result_names[PROBE_R__COUNT] = {
	[PROBE_R_OK] = "ok",
	[PROBE_R_MISMATCH] = "mismatch",
	[PROBE_R_MASKED] = "masked",
	[PROBE_R_ABSENT] = "absent",
	[PROBE_R_OS_DISABLED] = "os-disabled",
	[PROBE_R_UNPROBEABLE] = "unprobeable",
	[PROBE_R_ERROR] = "error",
};

static const char *const outcome_names[] = {
	[PROBE_NOT_RUN] = "not-run",
	[PROBE_EXECUTED] = "executed",
	[PROBE_FAULTED] = "faulted",
	[PROBE_LEGACY] = "legacy",
	[PROBE_PERM_REFUSED] = "perm-refused",
	[PROBE_CRASHED] = "crashed",
	[PROBE_HUNG] = "hung",
};

const char *probe_result_name(enum probe_result r)
{
	return (unsigned)r < PROBE_R__COUNT ? result_names[r] : "?";
}

const char *probe_outcome_name(enum probe_outcome o)
{
	return (unsigned)o < sizeof(outcome_names) / sizeof(outcome_names[0]) ? outcome_names[o] :
										"?";
}

/* --- the child -------------------------------------------------------------------------- */

static sigjmp_buf guard_env;
static volatile sig_atomic_t guard_armed;
static volatile sig_atomic_t guard_sig;

/*
 * Only a fault raised by the probe itself (si_code > 0: #UD, #GP, alignment) is caught.
 * Anything else, or a fault outside a probe, kills the child with the default action so
 * the parent sees a crash.  SA_NODEFER keeps the signal unblocked, which lets the guard
 * use sigsetjmp(env, 0) and skip a sigprocmask per probe.
 */
static void guard_handler(int sig, siginfo_t *si, void *uc)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	(void)uc;
	if (!guard_armed || si->si_code <= 0) {
		sigaction(sig, &dfl, NULL);
		/* raw: the shared TLS holds the parent's thread id, which raise() would use */
		syscall(SYS_tgkill, syscall(SYS_getpid), syscall(SYS_gettid), sig);
		return;
	}
	guard_armed = 0;
	guard_sig = sig;
	siglongjmp(guard_env, 1);
}

static bool runnable(const struct probe_def *t, const bool *select, size_t i)
{
	return t[i].fn && (!select || select[i]);
}

static size_t next_runnable(const struct probe_def *t, size_t n, const bool *select, size_t i)
{
	while (i < n && !runnable(t, select, i))
		i++;
	return i;
}

/* Its own frame, so that siglongjmp clobbers nothing the probe loop keeps in registers. */
static __attribute__((noinline)) enum probe_outcome guarded_call(probe_fn fn, void *scratch,
								 uint8_t *sig)
{
	int ret;

	if (sigsetjmp(guard_env, 0)) {
		*sig = (uint8_t)guard_sig;
		return PROBE_FAULTED;
	}
	guard_armed = 1;
	ret = fn(scratch);
	guard_armed = 0;
	return ret ? PROBE_EXECUTED : PROBE_LEGACY;
}

/* Runs in the cloned child: raw system calls only (see the top of this file). */
static int child_main(void *arg)
{
	struct child_args *c = arg;
	static uint8_t scratch[PROBE_SCRATCH_SIZE] __attribute__((aligned(4096)));
	static const int sigs[] = { SIGILL, SIGSEGV, SIGBUS, SIGFPE };
	struct sigaction sa = { .sa_sigaction = guard_handler,
				.sa_flags = SA_SIGINFO | SA_NODEFER };
	int amx = 0; /* 0: not asked yet, 1: granted, -1: refused */

	prctl(PR_SET_NAME, PROBE_COMM, 0, 0, 0);
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);

	for (size_t i = next_runnable(c->t, c->n, c->select, c->start); i < c->n;
	     i = next_runnable(c->t, c->n, c->select, i + 1)) {
		struct probe_obs *o = &c->obs[i];
		uint64_t t0;
		uint8_t sig = 0;

		c->at = i;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (c->t[i].flags & PROBE_AMX) {
			/* Linux 5.16+: AMX tile data needs a per-process permission first. */
			if (!amx)
				amx = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM,
					      XFEATURE_XTILEDATA) ?
					      -1 :
					      1;
			if (amx < 0) {
				o->outcome = PROBE_PERM_REFUSED;
				continue;
			}
		}
		/* Probes expect a zeroed area; an earlier child may have written it. */
		memset(scratch, 0, sizeof(scratch));
		t0 = (uint64_t)clock_mono_ns();
		o->outcome = guarded_call(c->t[i].fn, scratch, &sig);
		o->ns = (uint32_t)((uint64_t)clock_mono_ns() - t0);
		o->sig = sig;
	}
	c->at = c->n;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	syscall(SYS_exit_group, 0);
	return 0;
}

/* --- the parent ------------------------------------------------------------------------- */

/*
 * Wait for the child to exit.  Returns 0 when it exited, 1 when it stopped making progress
 * for @stall_ms or ran past @deadline (it is then killed); either way it is reaped.
 */
static int wait_child(pid_t pid, int pidfd, struct child_args *c, int stall_ms, uint64_t deadline,
		      int *status)
{
	size_t seen = c->at;
	int silent = 0;

	for (;;) {
		struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
		uint64_t now = (uint64_t)clock_mono_ns();
		int64_t left_ms = now < deadline ? (int64_t)((deadline - now) / 1000000) + 1 : 0;
		int wait_ms = left_ms < stall_ms ? (int)left_ms : stall_ms;
		int pr = poll(&pfd, 1, wait_ms);

		if (pr < 0 && errno == EINTR)
			continue;
		if (pr > 0)
			break;
		if (pr == 0 && c->at != seen && (uint64_t)clock_mono_ns() < deadline) {
			seen = c->at;
			continue;
		}
		silent = 1;
		kill(pid, SIGKILL);
		break;
	}
	while (waitpid(pid, status, __WALL) < 0 && errno == EINTR)
		;
	return silent;
}

/* Signals that stop a process from outside; a probe's own crash is SIGILL, SIGSEGV, ... */
static bool interrupting(int sig)
{
	return sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT || sig == SIGKILL;
}

int probe_execute(const struct probe_def *t, size_t n, const bool *select, struct probe_obs *obs,
		  const struct probe_exec_opts *o)
{
	int timeout_ms = o && o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	int stall_ms = o && o->stall_ms > 0 ? o->stall_ms : DEFAULT_STALL_MS;
	uint64_t deadline = (uint64_t)clock_mono_ns() + (uint64_t)timeout_ms * 1000000;
	struct child_args c = { .t = t, .n = n, .select = select, .obs = obs };
	size_t at = next_runnable(t, n, select, 0);
	int deaths = 0;
	void *stack;

	if (n > UINT16_MAX)
		return -EINVAL;
	memset(obs, 0, n * sizeof(*obs));
	if (at >= n)
		return 0;
	stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		return -errno;
	while (at < n && (uint64_t)clock_mono_ns() < deadline) {
		int pidfd = -1, status = 0, silent;
		pid_t pid;

		c.start = at;
		c.at = at;
		pid = clone(child_main, (char *)stack + CHILD_STACK_SIZE,
			    CLONE_VM | CLONE_PIDFD | SIGCHLD, &c, &pidfd);
		if (pid < 0) {
			int e = -errno;

			munmap(stack, CHILD_STACK_SIZE);
			return deaths ? deaths : e;
		}
		silent = wait_child(pid, pidfd, &c, stall_ms, deadline, &status);
		close(pidfd);
		at = c.at;
		if (at >= n)
			break;
		/*
		 * A signal no probe raises came from outside (a stop of the whole process
		 * group, an operator's kill): the run was interrupted, and nothing it saw is a
		 * result.  The daemon's children inherit its blocked SIGTERM, so this is for
		 * the other callers and for SIGKILL.
		 */
		if (!silent && WIFSIGNALED(status) && interrupting(WTERMSIG(status))) {
			munmap(stack, CHILD_STACK_SIZE);
			return -EINTR;
		}
		/* The child stopped before the end: blame the probe it was on. */
		deaths++;
		if (silent) {
			obs[at].outcome = PROBE_HUNG;
			log_debug("probe %s hung; restarting after it", t[at].feature);
		} else {
			obs[at].outcome = PROBE_CRASHED;
			obs[at].sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
			log_debug("probe %s killed its child (status 0x%x); restarting after it",
				  t[at].feature, status);
		}
		at = next_runnable(t, n, select, at + 1);
	}
	munmap(stack, CHILD_STACK_SIZE);
	return deaths;
}

/* --- judgement (pure) ------------------------------------------------------------------- */

enum probe_result probe_classify(bool probeable, bool advertised, bool os_enabled,
				 enum probe_outcome outcome)
{
	if (!probeable)
		return PROBE_R_UNPROBEABLE;
	switch (outcome) {
	case PROBE_EXECUTED:
		return advertised ? PROBE_R_OK : PROBE_R_MASKED;
	case PROBE_FAULTED:
	case PROBE_LEGACY:
		/* A fault is explained by the OS first: XCR0 or CR4 off makes even real silicon #UD. */
		if (!os_enabled)
			return PROBE_R_OS_DISABLED;
		return advertised ? PROBE_R_MISMATCH : PROBE_R_ABSENT;
	case PROBE_PERM_REFUSED:
		return PROBE_R_OS_DISABLED;
	case PROBE_NOT_RUN:
	case PROBE_CRASHED:
	case PROBE_HUNG:
	default:
		return PROBE_R_ERROR;
	}
}

/*
 * Without kernel flags (a dump from elsewhere) the OS switch is unknown and taken as on,
 * the same assumption feature_xstate_enabled() makes without XCR0.
 */
bool probe_os_enabled(const struct probe_def *p, int feature, const struct snapshot *s,
		      unsigned long hwcap2)
{
	if (feature >= 0 && !feature_xstate_enabled(feature, s->has_xcr0, s->xcr0))
		return false;
	if (p->os_feature) {
		int g = feature_lookup(p->os_feature);

		if (g >= 0 && !featset_has(&s->features, g))
			return false;
	}
	if ((p->flags & PROBE_OS_FSGSBASE) && !(hwcap2 & HWCAP2_FSGSBASE))
		return false;
	if (p->os_kflag && s->nkflags && !snapshot_has_kflag(s, p->os_kflag))
		return false;
	return true;
}

int probe_run(const struct snapshot *s, const struct probe_opts *o, struct probe_report **out,
	      struct errbuf *err)
{
	const struct probe_def *t = o && o->table ? o->table : probe_table;
	size_t n = o && o->table ? o->n : probe_table_len;
	struct probe_report *r = NULL;
	struct probe_obs *obs = NULL;
	bool *select = NULL;
	int *ids = NULL;
	/* The probes ran under this kernel: its switches apply whatever CPUID view is judged. */
	unsigned long hwcap2 = getauxval(AT_HWCAP2);
	uint64_t t0 = (uint64_t)clock_mono_ns();
	int ret;

	r = calloc(1, sizeof(*r));
	obs = calloc(n ?: 1, sizeof(*obs));
	select = calloc(n ?: 1, sizeof(*select));
	ids = calloc(n ?: 1, sizeof(*ids));
	if (!r || !obs || !select || !ids) {
		ret = -ENOMEM;
		errbuf_set(err, "failed to run probes: %s", strerror(-ret));
		goto fail;
	}
	r->rows = calloc(n ?: 1, sizeof(*r->rows));
	if (!r->rows) {
		ret = -ENOMEM;
		errbuf_set(err, "failed to run probes: %s", strerror(-ret));
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		ids[i] = feature_lookup(t[i].feature);
		select[i] = !o || !o->only || (ids[i] >= 0 && featset_has(o->only, ids[i]));
	}
	ret = probe_execute(t, n, select, obs, o ? &o->exec : NULL);
	if (ret == -EINTR) {
		errbuf_set(err, "the probe run was interrupted: its child was killed from outside");
		goto fail;
	}
	if (ret < 0) {
		errbuf_set(err, "failed to start the probe child: %s", strerror(-ret));
		goto fail;
	}
	r->crashed = ret;
	for (size_t i = 0; i < n; i++) {
		struct probe_row *row;

		if (!select[i])
			continue;
		row = &r->rows[r->n++];
		row->def = &t[i];
		row->feature = ids[i];
		row->advertised = ids[i] >= 0 && featset_has(&s->features, ids[i]);
		row->os_enabled = probe_os_enabled(&t[i], ids[i], s, hwcap2);
		row->obs = obs[i];
		/* A name the feature table lacks cannot be judged: there is no CPUID bit. */
		row->result = probe_classify(t[i].fn && ids[i] >= 0, row->advertised,
					     row->os_enabled, obs[i].outcome);
		if (row->result == PROBE_R_MASKED)
			featset_add(&r->shadow, ids[i]);
	}
	r->elapsed_ns = (uint64_t)clock_mono_ns() - t0;
	free(obs);
	free(select);
	free(ids);
	*out = r;
	return 0;
fail:
	free(obs);
	free(select);
	free(ids);
	probe_report__free(r);
	return ret;
}

void probe_report__free(struct probe_report *r)
{
	if (!r)
		return;
	free(r->rows);
	free(r);
}

void probe_summarize(const struct probe_report *r, struct probe_summary *out)
{
	memset(out, 0, sizeof(*out));
	out->mono_ns = clock_mono_ns();
	out->real_ns = clock_real_ns();
	if (!r)
		return;
	out->shadow = r->shadow;
	for (size_t i = 0; i < r->n; i++) {
		int f = r->rows[i].feature;

		if (f < 0)
			continue;
		if (r->rows[i].result == PROBE_R_MISMATCH)
			featset_add(&out->mismatch, f);
		else if (r->rows[i].result == PROBE_R_OS_DISABLED)
			featset_add(&out->os_disabled, f);
	}
	featset_minus(&out->os_disabled, &out->os_disabled, &out->mismatch);
}

bool probe_report_has_mismatch(const struct probe_report *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->rows[i].result == PROBE_R_MISMATCH)
			return true;
	return false;
}
