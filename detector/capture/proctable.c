// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/procscan.h"
#include "capture/proctable.h"
#include "core/clock.h"
#include "core/log.h"

#define STEP_NS (2 * NSEC_PER_MSEC)
#define GAP_NS NSEC_PER_MSEC
#define PERIOD_MIN_NS (15 * NSEC_PER_SEC)
#define PERIOD_MAX_NS (600 * NSEC_PER_SEC)
#define CPU_SHARE 0.0005
#define LIST_NS (10 * NSEC_PER_MSEC)
#define FACTS_AGE_NS (600 * NSEC_PER_SEC)
#define MAX_ENTRIES 65536
#define MAX_CGROUPS 2048
#define CGROUP_BYTES (1u << 20)
/* A kicked pass waits this many times the last pass's work after it: at most 5% of a core. */
#define KICK_COST_FACTOR 20

/* What the reads at first sight and the revalidations ask for. */
#define FIRST_SIGHT PROCSCAN_ALL
#define REVALIDATE (PROCSCAN_HWCAPS | PROCSCAN_CGROUP)

struct entry {
	int32_t pid; /* 0: a free slot */
	uint32_t gen; /* the last pass that saw it */
	uint64_t start_ticks;
	uint32_t facts_s; /* CLOCK_MONOTONIC seconds of the last maps and cgroup reads */
	uint32_t cg; /* cgroup index + 1; 0: unknown */
	int8_t hwcaps, masked;
	bool self;
	char state;
	int32_t uid;
};

struct cgroup {
	char *path; /* NULL: a free slot */
	uint64_t hash;
	uint32_t refs;
	struct unit_ref ref;
};

struct proctable {
	struct proctable_opts o;
	struct procscan *scan;
	int self_pid;

	struct entry *slots;
	size_t cap, n; /* cap a power of two; load kept at most 1/2 */

	struct cgroup *cgs;
	size_t ncg, cg_bytes;

	/* the pass */
	struct procscan_iter it;
	bool active, done_once, follow_up;
	uint32_t gen;
	int64_t next_pass_mono, last_step_mono, pass_start_mono, pass_start_boot;
	int64_t pass_cpu, pass_reads_cpu; /* CPU time of the pass, and of its expensive reads */
	size_t unexamined_now, new_now;

	struct proctable_stats st;
};

/* --- the PID hash (linear probing, deletion by backward shift) ------------------------------- */

static size_t slot_of(const struct proctable *t, int pid)
{
	return ((uint32_t)pid * 2654435761u) & (t->cap - 1);
}

static struct entry *find(struct proctable *t, int pid)
{
	for (size_t i = slot_of(t, pid);; i = (i + 1) & (t->cap - 1)) {
		if (!t->slots[i].pid)
			return NULL;
		if (t->slots[i].pid == pid)
			return &t->slots[i];
	}
}

static int grow(struct proctable *t)
{
	size_t old_cap = t->cap;
	struct entry *old = t->slots;

	t->slots = calloc(old_cap * 2, sizeof(*t->slots));
	if (!t->slots) {
		t->slots = old;
		return -ENOMEM;
	}
	t->cap = old_cap * 2;
	for (size_t i = 0; i < old_cap; i++) {
		size_t j;

		if (!old[i].pid)
			continue;
		for (j = slot_of(t, old[i].pid); t->slots[j].pid; j = (j + 1) & (t->cap - 1))
			;
		t->slots[j] = old[i];
	}
	free(old);
	return 0;
}

static struct entry *insert(struct proctable *t, int pid)
{
	size_t i;

	if ((t->n + 1) * 2 > t->cap && grow(t))
		return NULL;
	for (i = slot_of(t, pid); t->slots[i].pid; i = (i + 1) & (t->cap - 1))
		;
	memset(&t->slots[i], 0, sizeof(t->slots[i]));
	t->slots[i].pid = pid;
	t->n++;
	return &t->slots[i];
}

static void cg_put(struct proctable *t, uint32_t cg);

static void erase(struct proctable *t, struct entry *e)
{
	size_t i = (size_t)(e - t->slots), j = i;

	cg_put(t, e->cg);
	t->n--;
	for (;;) {
		size_t home;

		t->slots[i].pid = 0;
		for (;;) {
			j = (j + 1) & (t->cap - 1);
			if (!t->slots[j].pid)
				return;
			home = slot_of(t, t->slots[j].pid);
			/* Move j back into the hole at i unless its home lies in (i, j]. */
			if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
				break;
		}
		t->slots[i] = t->slots[j];
		i = j;
	}
}

/* --- shared cgroup paths ------------------------------------------------------------------- */

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

/* The index + 1 of @path, shared; 0 when unknown or over the caps. */
static uint32_t cg_get(struct proctable *t, const char *path)
{
	uint64_t h;
	size_t len, free_slot = SIZE_MAX;
	struct cgroup *c;

	if (!path[0])
		return 0;
	h = fnv1a(path);
	for (size_t i = 0; i < t->ncg; i++) {
		if (!t->cgs[i].path) {
			if (free_slot == SIZE_MAX)
				free_slot = i;
			continue;
		}
		if (t->cgs[i].hash == h && !strcmp(t->cgs[i].path, path)) {
			t->cgs[i].refs++;
			return (uint32_t)i + 1;
		}
	}
	len = strlen(path) + 1;
	if (t->cg_bytes + len > CGROUP_BYTES ||
	    (free_slot == SIZE_MAX && t->ncg == t->o.max_cgroups))
		return 0;
	if (free_slot == SIZE_MAX)
		free_slot = t->ncg++;
	c = &t->cgs[free_slot];
	c->path = strdup(path);
	if (!c->path)
		return 0;
	c->hash = h;
	c->refs = 1;
	t->cg_bytes += len;
	/* An unparseable path is a process that belongs to no unit we can name. */
	units_from_cgroup(path, &c->ref);
	return (uint32_t)free_slot + 1;
}

static void cg_put(struct proctable *t, uint32_t cg)
{
	struct cgroup *c;

	if (!cg)
		return;
	c = &t->cgs[cg - 1];
	if (--c->refs)
		return;
	t->cg_bytes -= strlen(c->path) + 1;
	free(c->path);
	c->path = NULL;
}

/* --- life cycle ------------------------------------------------------------------------------ */

int proctable__new(const struct proctable_opts *o, struct proctable **out)
{
	struct proctable *t = calloc(1, sizeof(*t));
	int ret;

	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->o = *o;
	if (!t->o.root)
		t->o.root = "/proc";
	if (!t->o.step_ns)
		t->o.step_ns = STEP_NS;
	if (!t->o.gap_ns)
		t->o.gap_ns = GAP_NS;
	if (!t->o.period_min_ns)
		t->o.period_min_ns = PERIOD_MIN_NS;
	if (!t->o.period_max_ns)
		t->o.period_max_ns = PERIOD_MAX_NS;
	if (t->o.cpu_share <= 0)
		t->o.cpu_share = CPU_SHARE;
	if (!t->o.facts_max_age_ns)
		t->o.facts_max_age_ns = FACTS_AGE_NS;
	if (!t->o.max_entries)
		t->o.max_entries = MAX_ENTRIES;
	if (!t->o.max_cgroups)
		t->o.max_cgroups = MAX_CGROUPS;
	if (!t->o.list_ns)
		t->o.list_ns = LIST_NS;
	t->self_pid = o->self_pid ? o->self_pid : getpid();
	t->cap = 1024;
	t->slots = calloc(t->cap, sizeof(*t->slots));
	t->cgs = calloc(t->o.max_cgroups, sizeof(*t->cgs));
	if (!t->slots || !t->cgs) {
		proctable__free(t);
		return -ENOMEM;
	}
	ret = procscan__new(t->o.root, o->self_exe, &t->scan);
	if (ret) {
		proctable__free(t);
		return ret;
	}
	/* The first pass is due at once. */
	t->next_pass_mono = 0;
	*out = t;
	return 0;
}

void proctable__free(struct proctable *t)
{
	if (!t)
		return;
	procscan_iter_close(&t->it);
	procscan__free(t->scan);
	for (size_t i = 0; t->cgs && i < t->ncg; i++)
		free(t->cgs[i].path);
	free(t->cgs);
	free(t->slots);
	free(t);
}

int64_t proctable_due(const struct proctable *t)
{
	if (t->active)
		return t->last_step_mono + t->o.gap_ns;
	return t->next_pass_mono;
}

void proctable_kick(struct proctable *t)
{
	int64_t soon = t->last_step_mono + KICK_COST_FACTOR * t->st.last_pass_ns;

	/* A pass after a kick costs about what the last one did. */

	if (!t->active && soon < t->next_pass_mono)
		t->next_pass_mono = soon;
}

/* --- a pass ---------------------------------------------------------------------------------- */

static void keep_facts(struct proctable *t, struct entry *e, const struct proc_facts *f,
		       unsigned what, int64_t now)
{
	if (what & PROCSCAN_UID)
		e->uid = (int32_t)f->uid;
	if (what & PROCSCAN_EXE)
		e->self = f->self_exe;
	if (what & PROCSCAN_ENV)
		e->masked = (int8_t)f->glibc_masked;
	if (what & PROCSCAN_HWCAPS)
		e->hwcaps = (int8_t)f->hwcaps_level;
	if (what & PROCSCAN_CGROUP) {
		uint32_t cg = cg_get(t, f->cgroup);

		cg_put(t, e->cg);
		e->cg = cg;
	}
	e->facts_s = (uint32_t)(now / NSEC_PER_SEC);
	e->state = f->st.state;
	e->start_ticks = f->st.start_ticks;
	if (e->pid == t->self_pid)
		e->self = true;
}

/* This thread's CPU time: what a pass costs, whatever else the machine runs. */
static int64_t cpu_ns(void)
{
	return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

static int timed_read(struct proctable *t, int pid, unsigned what, struct proc_facts *f)
{
	int64_t c0 = cpu_ns();
	int ret = procscan_read(t->scan, pid, what, f);

	t->pass_reads_cpu += cpu_ns() - c0;
	return ret;
}

/* One PID of the listing. */
static void visit(struct proctable *t, int pid, int64_t now)
{
	struct entry *e = find(t, pid);
	struct proc_facts f;
	struct proc_stat st;

	if (procscan_stat(t->scan, pid, &st) || !procscan_live(&st)) {
		if (e)
			erase(t, e);
		return;
	}
	if (e && e->start_ticks == st.start_ticks) {
		e->gen = t->gen;
		e->state = st.state;
		if (now / NSEC_PER_SEC - e->facts_s < t->o.facts_max_age_ns / NSEC_PER_SEC)
			return;
		/* Libraries opened later, a process moved to another cgroup. */
		if (timed_read(t, pid, REVALIDATE, &f) || !procscan_live(&f.st) ||
		    f.st.start_ticks != e->start_ticks) {
			erase(t, e);
			return;
		}
		keep_facts(t, e, &f, REVALIDATE, now);
		return;
	}
	/* New, or its PID now names another process: nothing of the old one is kept. */
	if (e)
		erase(t, e);
	if (t->n >= t->o.max_entries) {
		t->unexamined_now++;
		return;
	}
	if (timed_read(t, pid, FIRST_SIGHT, &f) || !procscan_live(&f.st))
		return;
	e = insert(t, pid);
	if (!e) {
		t->unexamined_now++;
		return;
	}
	e->cg = 0;
	keep_facts(t, e, &f, FIRST_SIGHT, now);
	e->gen = t->gen;
	t->new_now++;
}

static void finish_pass(struct proctable *t, int64_t now)
{
	int64_t period;
	double want;

	/* Whatever the listing did not show again has exited. */
	for (size_t i = 0; i < t->cap;) {
		if (t->slots[i].pid && t->slots[i].gen != t->gen)
			erase(t, &t->slots[i]); /* may shift another entry into i: look again */
		else
			i++;
	}
	procscan_iter_close(&t->it);
	t->active = false;
	t->done_once = true;
	t->st.passes++;
	t->st.last_pass_ns = t->pass_cpu;
	t->st.last_pass_reads_ns = t->pass_reads_cpu;
	t->st.last_pass_wall_ns = now - t->pass_start_mono;
	t->st.unexamined = t->unexamined_now;
	t->st.complete = !t->unexamined_now;
	t->st.as_of_boot_ns = t->pass_start_boot;
	/*
	 * The period sets what re-reading the stat lines costs; the expensive reads are paid
	 * once per new process, whatever the period, so they do not lengthen it.
	 */
	want = (double)(t->pass_cpu - t->pass_reads_cpu) / t->o.cpu_share;
	period = want < (double)t->o.period_min_ns ? t->o.period_min_ns :
		 want > (double)t->o.period_max_ns ? t->o.period_max_ns :
						     (int64_t)want;
	/*
	 * A pass that found more than a quarter of the table new met a burst of starts (a
	 * service spawning its workers, a fork storm), which may have gone on after the pass
	 * listed /proc: one more pass soon takes in the rest.  Once: a machine that keeps
	 * churning is followed at the usual period.
	 */
	t->follow_up = !t->follow_up && t->new_now > t->n / 4 && t->new_now >= 64;
	if (t->follow_up)
		period = t->o.period_min_ns;
	t->st.next_period_ns = period;
	t->next_pass_mono = now + period;
	log_debug("process table: %zu processes (%zu new, %zu not kept), pass of %.1f ms CPU "
		  "(%.1f ms reading new ones) over %.1f ms, next in %.0f s",
		  t->n, t->new_now, t->unexamined_now, t->pass_cpu / 1e6, t->pass_reads_cpu / 1e6,
		  t->st.last_pass_wall_ns / 1e6, period / 1e9);
}

int proctable_step(struct proctable *t, int64_t now)
{
	int64_t start = clock_mono_ns(), end = start + t->o.step_ns, took, c0 = cpu_ns();
	int finished = 0;

	if (!t->active) {
		if (now < t->next_pass_mono)
			return 0;
		if (procscan_iter_open(t->scan, &t->it)) {
			t->next_pass_mono = now + t->o.period_min_ns;
			return 0;
		}
		t->active = true;
		t->gen++;
		t->pass_cpu = 0;
		t->pass_reads_cpu = 0;
		t->unexamined_now = 0;
		t->new_now = 0;
		t->pass_start_mono = start;
		t->pass_start_boot = clock_boot_ns();
	}
	for (int64_t clk = start; clk < end; clk = clock_mono_ns()) {
		int pid = procscan_iter_next(&t->it);

		if (!pid) {
			finished = 1;
			break;
		}
		visit(t, pid, clk);
	}
	t->last_step_mono = clock_mono_ns();
	took = t->last_step_mono - start;
	c0 = cpu_ns() - c0;
	t->pass_cpu += c0;
	if (c0 > t->st.longest_step_cpu_ns)
		t->st.longest_step_cpu_ns = c0;
	if (took > t->st.longest_step_ns)
		t->st.longest_step_ns = took;
	if (finished)
		finish_pass(t, t->last_step_mono);
	return finished;
}

int proctable_refresh(struct proctable *t, int64_t budget_ns)
{
	int64_t deadline = clock_mono_ns() + budget_ns;

	if (!t->active)
		t->next_pass_mono = 0;
	while (!proctable_step(t, clock_mono_ns()))
		if (budget_ns && clock_mono_ns() >= deadline)
			return -ETIMEDOUT;
	return 0;
}

void proctable_get_stats(const struct proctable *t, struct proctable_stats *s)
{
	size_t ncg = 0;

	*s = t->st;
	s->entries = t->n;
	for (size_t i = 0; i < t->ncg; i++)
		ncg += t->cgs[i].path != NULL;
	s->cgroups = ncg;
	s->complete = t->done_once && t->st.complete;
}

/* --- the at-risk list ---------------------------------------------------------------------- */

/* What a re-read gives a listed process: strings the JSON borrows. */
struct fresh {
	char comm[PROCSCAN_COMM_MAX];
	char exe[PROCSCAN_EXE_MAX];
	struct unit_ref unit;
};

/* PIDs the table does not know yet (started since the last pass); false when cut short. */
static bool catch_up(struct proctable *t)
{
	int64_t end = clock_mono_ns() + t->o.list_ns;
	size_t unexamined = t->unexamined_now;
	struct procscan_iter it;
	bool whole = false;
	int pid;

	if (procscan_iter_open(t->scan, &it))
		return false;
	for (;;) {
		int64_t now = clock_mono_ns();

		if (now >= end)
			break;
		pid = procscan_iter_next(&it);
		if (!pid) {
			whole = true;
			break;
		}
		if (!find(t, pid))
			visit(t, pid, now);
	}
	procscan_iter_close(&it);
	return whole && t->unexamined_now == unexamined;
}

/* Read @p again in full; false when it died, exec'd cpudrift or its PID was reused. */
static bool reread(struct proctable *t, struct atrisk_proc *p, struct fresh *x)
{
	struct entry *e = find(t, p->pid);
	struct proc_facts f;

	if (procscan_read(t->scan, p->pid, PROCSCAN_EXE | PROCSCAN_CGROUP, &f) ||
	    !procscan_live(&f.st) || !e || f.st.start_ticks != e->start_ticks) {
		if (e)
			erase(t, e);
		return false;
	}
	if (f.self_exe) {
		e->self = true;
		return false;
	}
	memcpy(x->comm, f.st.comm, sizeof(x->comm));
	memcpy(x->exe, f.exe, sizeof(x->exe));
	p->comm = x->comm;
	p->exe = x->exe;
	if (f.cgroup[0] && !units_from_cgroup(f.cgroup, &x->unit))
		p->unit = &x->unit;
	return true;
}

/* Only alive and the same process, from its stat line. */
static bool check(struct proctable *t, const struct atrisk_proc *p)
{
	struct entry *e = find(t, p->pid);
	struct proc_stat st;

	if (!procscan_stat(t->scan, p->pid, &st) && procscan_live(&st) && e &&
	    st.start_ticks == e->start_ticks)
		return true;
	if (e)
		erase(t, e);
	return false;
}

struct json_object *proctable_at_risk(struct proctable *t, const struct atrisk_query *q,
				      const struct atrisk_json_opts *o)
{
	size_t listed = o ? o->listed_max : ATRISK_LISTED_MAX;
	size_t n = 0, k, full = 0, checked = 0, out = 0, rereads = 0;
	struct atrisk_json_opts jo = o ? *o : (struct atrisk_json_opts){ 0 };
	int64_t hz = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100, end;
	struct json_object *j = NULL;
	struct atrisk_proc *v = NULL;
	bool whole, full_mode = true;
	struct fresh *fr;

	whole = catch_up(t);
	fr = calloc(listed ? listed : 1, sizeof(*fr));
	v = calloc(t->n ? t->n : 1, sizeof(*v));
	if (!v || !fr)
		goto out;
	for (size_t i = 0; i < t->cap; i++) {
		const struct entry *e = &t->slots[i];

		if (!e->pid)
			continue;
		v[n++] = (struct atrisk_proc){
			.pid = e->pid,
			.start_boot_ns = (int64_t)e->start_ticks * (NSEC_PER_SEC / hz),
			.hwcaps_level = e->hwcaps,
			.glibc_masked = e->masked,
			.self = e->self,
			.unit = e->cg ? &t->cgs[e->cg - 1].ref : NULL,
		};
	}
	k = atrisk_select(v, n, q);
	/*
	 * In rank order: the first ones are read again in full and listed, the next ones only
	 * checked, while time allows; what is left is as of the last pass.  Only what was read
	 * now is listed, so the first @full of @v are the listed ones.
	 */
	end = clock_mono_ns() + t->o.list_ns;
	for (size_t i = 0; i < k; i++) {
		struct atrisk_proc p = v[i];
		bool in_time = clock_mono_ns() < end;

		/*
		 * The listed ones are read whatever the time (a few tens of µs each, never
		 * their maps); the processes that died among them are bounded too.
		 */
		if (full_mode && (full == listed || rereads == 2 * listed))
			full_mode = false;
		if (full_mode) {
			rereads++;
			if (!reread(t, &p, &fr[full]))
				continue;
			full++;
			checked++;
		} else if (in_time) {
			if (!check(t, &p))
				continue;
			checked++;
		}
		v[out++] = p;
	}
	jo.listed_max = full;
	jo.checked = checked;
	jo.as_of_boot_ns = t->done_once ? t->st.as_of_boot_ns : 0;
	jo.complete = t->done_once && t->st.complete && whole;
	j = atrisk_to_json(v, out, q, &jo);
	proctable_kick(t);
out:
	free(v);
	free(fr);
	return j;
}
