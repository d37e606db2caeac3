// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fault watcher user space: open -> set rodata -> pick one program variant -> load ->
 * attach -> drain the ring buffer (bounded) -> records -> callbacks; and the flush that
 * reads the counts the kernel kept in its maps, so that what a record missed (a rate limit,
 * a full ring buffer, a full site table) is still counted, exactly once.
 *
 * Exactness: a site's count lives in the sites map.  User space remembers, per site, how
 * many faults it has handed on (accounted); a detail record hands on its count minus
 * that, a flush the map's count minus that, and accounted only grows.  A process's
 * catch-all keeps two counters, incremented "detailed" first: a flush reads the total
 * first, so a fault a detail record carries is never counted by the flush too.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>

#include "bpf/faultwatch.h"
#include "capture/faultrec.h"
#include "capture/faultwatch.h"
#include "capture/kernbpf.h"
#include "core/clock.h"
#include "core/log.h"
#include "faultwatch.skel.h"

/* Processes without an exit mark are checked against /proc this often. */
#define SWEEP_NS (30 * NSEC_PER_SEC)
/* How long the tally remembers a forgotten site, for detail records still in the ring. */
#define TOMBSTONE_NS (60 * NSEC_PER_SEC)
#define BATCH 256
#define TALLY_BUCKETS 4096

/* What user space has handed on, per site or per process. */
struct tnode {
	struct tnode *next;
	uint64_t acc;
	int64_t last_mono;
	int64_t dead_since; /* the site left the map (its process exited); 0: alive */
	unsigned char key[sizeof(struct fw_key)];
};

struct tally {
	struct tnode *b[TALLY_BUCKETS];
};

struct faultwatch {
	struct faultwatch_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *link, *exit_link;
	enum fault_variant variant;
	faultwatch_cb cb;
	faultwatch_forged_cb on_forged;
	void *ctx;
	int ncpus;

	struct tally sites, procs;
	uint64_t noproc_acc;
	struct fault rec; /* one record at a time: PATH_MAX twice is too big for a stack */

	/* the current delivery */
	unsigned budget, delivered;
	bool budget_hit;
	bool exits; /* an exit record arrived since the last flush */
	int64_t last_sweep;

	struct fw_key keys[BATCH];
	struct fw_site sites_v[BATCH];
	struct fw_pkey pkeys[BATCH];
	struct fw_proc procs_v[BATCH];
};

/* --- the tally ------------------------------------------------------------------------ */

static unsigned hash(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return (unsigned)(h % TALLY_BUCKETS);
}

static struct tnode *tally_get(struct tally *t, const void *key, size_t len, bool add)
{
	struct tnode **head = &t->b[hash(key, len)], *n;

	for (n = *head; n; n = n->next)
		if (!memcmp(n->key, key, len))
			return n;
	if (!add || !(n = calloc(1, sizeof(*n))))
		return NULL;
	memcpy(n->key, key, len);
	n->next = *head;
	*head = n;
	return n;
}

static void tally_del(struct tally *t, const void *key, size_t len)
{
	for (struct tnode **p = &t->b[hash(key, len)]; *p; p = &(*p)->next) {
		if (!memcmp((*p)->key, key, len)) {
			struct tnode *n = *p;

			*p = n->next;
			free(n);
			return;
		}
	}
}

/* Forget the tombstones older than @before. */
static void tally_reap(struct tally *t, int64_t before)
{
	for (unsigned i = 0; i < TALLY_BUCKETS; i++) {
		for (struct tnode **p = &t->b[i]; *p;) {
			struct tnode *n = *p;

			if (n->dead_since && n->dead_since < before) {
				*p = n->next;
				free(n);
			} else {
				p = &n->next;
			}
		}
	}
}

static void tally_free(struct tally *t)
{
	for (unsigned i = 0; i < TALLY_BUCKETS; i++) {
		while (t->b[i]) {
			struct tnode *n = t->b[i];

			t->b[i] = n->next;
			free(n);
		}
	}
}

/* --- load and attach ------------------------------------------------------------------ */

static struct bpf_program *prog(struct faultwatch_bpf *skel, enum fault_variant v, bool exit)
{
	if (v == FAULT_VARIANT_TP_BTF)
		return exit ? skel->progs.fw_exit_tp_btf : skel->progs.fw_tp_btf;
	if (v == FAULT_VARIANT_RAW_TP)
		return exit ? skel->progs.fw_exit_raw_tp : skel->progs.fw_raw_tp;
	return NULL;
}

static void set_rodata(struct faultwatch_bpf *skel, const struct faultwatch_opts *o)
{
	skel->data->sig_mask = o->sig_mask ?: 1ull << SIGILL;
	skel->rodata->rl_burst = o->burst ?: 5;
	skel->rodata->rl_interval_ns = o->interval_ns ?: 1000000000ull;
	skel->rodata->max_sites_per_proc = o->max_sites ?: 64;
	skel->rodata->gd_burst = o->detail_burst ?: 64;
	skel->rodata->gd_interval_ns = o->detail_interval_ns ?: 1000000000ull / 32;
}

/* The kernel wants a power-of-two number of pages. */
static uint32_t ring_size(uint64_t want)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), n = page;

	if (!want)
		want = FAULTWATCH_RING_DEFAULT;
	while (n < want && n < FAULTWATCH_RING_MAX)
		n <<= 1;
	return (uint32_t)n;
}

static int try_variant(struct faultwatch *fw, const struct faultwatch_opts *o, enum fault_variant v,
		       struct errbuf *err)
{
	struct faultwatch_bpf *skel;
	int ret;

	skel = faultwatch_bpf__open();
	if (!skel) {
		ret = -errno ?: -ENOMEM;
		errbuf_set(err, "failed to open fault probe: %s", strerror(-ret));
		return ret;
	}
	set_rodata(skel, o);
	ret = bpf_map__set_max_entries(skel->maps.events, ring_size(o->ring_bytes));
	if (ret) {
		errbuf_set(err, "failed to size the fault ring buffer: %s", strerror(-ret));
		goto fail;
	}
	for (int i = FAULT_VARIANT_TP_BTF; i <= FAULT_VARIANT_RAW_TP; i++) {
		bpf_program__set_autoload(prog(skel, i, false), i == (int)v);
		bpf_program__set_autoload(prog(skel, i, true), i == (int)v);
	}
	ret = faultwatch_bpf__load(skel);
	if (ret) {
		errbuf_set(err, "failed to load fault probe (%s): %s", fault_variant_name(v),
			   strerror(-ret));
		goto fail;
	}
	fw->link = bpf_program__attach(prog(skel, v, false));
	fw->exit_link = fw->link ? bpf_program__attach(prog(skel, v, true)) : NULL;
	if (!fw->link || !fw->exit_link) {
		ret = -errno ?: -EINVAL;
		errbuf_set(err, "failed to attach fault probe (%s): %s", fault_variant_name(v),
			   strerror(-ret));
		bpf_link__destroy(fw->link);
		fw->link = NULL;
		goto fail;
	}
	fw->skel = skel;
	fw->variant = v;
	return 0;
fail:
	faultwatch_bpf__destroy(skel);
	return ret;
}

/* --- records ---------------------------------------------------------------------------- */

static int deliver(struct faultwatch *fw, struct fault *f)
{
	fw->delivered++;
	return fw->cb ? fw->cb(f, fw->ctx) : 0;
}

static int on_fault_rec(struct faultwatch *fw, const struct fw_fault_rec *e)
{
	struct fault *f = &fw->rec;
	struct tnode *n;
	uint64_t delta;

	faultrec_from_event(f, e);
	if (e->flags & FW_F_UNTRACKED) {
		/* The kernel counted it as detailed: no flush counts it again. */
		f->delta = 1;
	} else {
		n = tally_get(&fw->sites, &e->key, sizeof(e->key), true);
		if (!n)
			return -ENOMEM;
		/* A flush may have counted it already: hand on only what is new. */
		delta = e->count > n->acc ? e->count - n->acc : 0;
		if (delta)
			n->acc = e->count;
		n->last_mono = clock_mono_ns();
		f->count = n->acc;
		f->delta = delta;
		f->suppressed = delta ? delta - 1 : 0;
	}
	faultrec_enrich(f);
	return deliver(fw, f);
}

static int on_record(void *ctx, void *data, size_t len)
{
	struct faultwatch *fw = ctx;
	struct forged_signal s;
	__u32 type;
	int ret = 0;

	/* A truncated or unknown record never aborts the watcher. */
	if (len < sizeof(type))
		return 0;
	memcpy(&type, data, sizeof(type));
	if (type == FW_REC_FAULT && len >= sizeof(struct fw_fault_rec)) {
		ret = on_fault_rec(fw, data);
	} else if (type == FW_REC_FORGED && len >= sizeof(struct fw_forged_rec)) {
		faultrec_forged(&s, data);
		fw->delivered++;
		ret = fw->on_forged ? fw->on_forged(&s, fw->ctx) : 0;
	} else if (type == FW_REC_EXIT && len >= sizeof(struct fw_exit_rec)) {
		log_debug("process %u exited", ((const struct fw_exit_rec *)data)->key.tgid);
		fw->exits = true;
	}
	if (ret)
		return ret;
	/*
	 * libbpf 1.1 has no consume_n: a negative return stops the drain after this record,
	 * which is consumed; the rest waits for the next call.
	 */
	if (fw->budget && fw->delivered >= fw->budget) {
		fw->budget_hit = true;
		return -EAGAIN;
	}
	return 0;
}

int faultwatch__new(const struct faultwatch_opts *o, faultwatch_cb cb, void *ctx,
		    struct faultwatch **out, struct errbuf *err)
{
	static const struct faultwatch_opts defaults;
	struct faultwatch *fw;
	int ret = -EINVAL;

	*out = NULL;
	if (!o)
		o = &defaults;
	if (o->variant == FAULT_VARIANT_TRACEPOINT) {
		errbuf_set(err,
			   "failed to load fault probe (tracepoint): %s: its record has no "
			   "si_addr, so it cannot tell a CPU fault from a sent signal",
			   strerror(EOPNOTSUPP));
		return -EOPNOTSUPP;
	}
	kernbpf_init();
	fw = calloc(1, sizeof(*fw));
	if (!fw) {
		errbuf_set(err, "failed to allocate fault watcher: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	fw->cb = cb;
	fw->on_forged = o->on_forged;
	fw->ctx = ctx;
	fw->ncpus = libbpf_num_possible_cpus();
	fw->last_sweep = clock_mono_ns();
	if (fw->ncpus <= 0) {
		ret = fw->ncpus ?: -EINVAL;
		errbuf_set(err, "failed to count CPUs: %s", strerror(-ret));
		goto fail;
	}

	if (o->variant != FAULT_VARIANT_AUTO) {
		ret = try_variant(fw, o, o->variant, err);
	} else {
		for (int v = FAULT_VARIANT_TP_BTF; v <= FAULT_VARIANT_RAW_TP; v++) {
			ret = try_variant(fw, o, v, err);
			if (!ret)
				break;
			log_debug("%s; trying the next variant", err ? err->msg : "variant failed");
		}
	}
	if (ret)
		goto fail;
	log_debug("fault probe attached (%s)", fault_variant_name(fw->variant));

	fw->rb = ring_buffer__new(bpf_map__fd(fw->skel->maps.events), on_record, fw, NULL);
	if (!fw->rb) {
		ret = -errno ?: -ENOMEM;
		errbuf_set(err, "failed to open fault ring buffer: %s", strerror(-ret));
		goto fail;
	}
	*out = fw;
	return 0;
fail:
	faultwatch__free(fw);
	return ret;
}

void faultwatch__free(struct faultwatch *fw)
{
	if (!fw)
		return;
	ring_buffer__free(fw->rb);
	bpf_link__destroy(fw->exit_link);
	bpf_link__destroy(fw->link);
	faultwatch_bpf__destroy(fw->skel);
	tally_free(&fw->sites);
	tally_free(&fw->procs);
	free(fw);
}

enum fault_variant faultwatch_variant(const struct faultwatch *fw)
{
	return fw->variant;
}

int faultwatch_fd(const struct faultwatch *fw)
{
	return ring_buffer__epoll_fd(fw->rb);
}

void faultwatch_set_sig_mask(struct faultwatch *fw, uint64_t sig_mask)
{
	/* .data is mapped into this process: the program reads the new mask at its next run. */
	fw->skel->data->sig_mask = sig_mask ?: 1ull << SIGILL;
}

int faultwatch_prog_fd(const struct faultwatch *fw)
{
	return bpf_program__fd(prog(fw->skel, fw->variant, false));
}

int faultwatch_exit_prog_fd(const struct faultwatch *fw)
{
	return bpf_program__fd(prog(fw->skel, fw->variant, true));
}

/* Run @fn (poll or consume) under a budget; the records delivered or -errno. */
static int drain(struct faultwatch *fw, int timeout_ms, unsigned budget, bool *more)
{
	int ret;

	fw->budget = budget;
	fw->delivered = 0;
	fw->budget_hit = false;
	ret = timeout_ms >= 0 ? ring_buffer__poll(fw->rb, timeout_ms) :
				ring_buffer__consume(fw->rb);
	if (more)
		*more = fw->budget_hit;
	if (ret == -EINTR || (ret == -EAGAIN && fw->budget_hit))
		ret = 0;
	return ret < 0 ? ret : (int)fw->delivered;
}

int faultwatch_poll(struct faultwatch *fw, int timeout_ms)
{
	return drain(fw, timeout_ms < 0 ? 0 : timeout_ms, 0, NULL);
}

int faultwatch_consume(struct faultwatch *fw, unsigned budget, bool *more)
{
	return drain(fw, -1, budget, more);
}

bool faultwatch_flush_wanted(const struct faultwatch *fw)
{
	return fw->exits;
}

/* --- flush ------------------------------------------------------------------------------ */

struct flush {
	struct faultwatch *fw;
	int64_t now, min_age_ns;
	unsigned budget;
	bool stopped, sweep;
	/* processes that exited, and whether a site of theirs is still in the map */
	size_t nexited, cap;
	struct fw_pkey *exited;
	bool *kept;
};

static int cmp_pkey(const void *a, const void *b)
{
	const struct fw_pkey *x = a, *y = b;

	if (x->tgid != y->tgid)
		return x->tgid < y->tgid ? -1 : 1;
	return (x->start_ns > y->start_ns) - (x->start_ns < y->start_ns);
}

/* The index of (@tgid, @start_ns) in the sorted list of exited processes, or -1. */
static int exited_at(const struct flush *fl, __u32 tgid, __u64 start_ns)
{
	struct fw_pkey want = { .tgid = tgid, .start_ns = start_ns };
	const struct fw_pkey *hit;

	if (!fl->nexited)
		return -1;
	hit = bsearch(&want, fl->exited, fl->nexited, sizeof(want), cmp_pkey);
	return hit ? (int)(hit - fl->exited) : -1;
}

static int add_exited(struct flush *fl, const struct fw_pkey *pk)
{
	if (fl->nexited == fl->cap) {
		size_t cap = fl->cap ? 2 * fl->cap : 64;
		struct fw_pkey *e = realloc(fl->exited, cap * sizeof(*e));
		bool *k = e ? realloc(fl->kept, cap * sizeof(*k)) : NULL;

		if (e)
			fl->exited = e;
		if (!k)
			return -ENOMEM;
		fl->kept = k;
		fl->cap = cap;
	}
	fl->exited[fl->nexited] = *pk;
	fl->kept[fl->nexited++] = false;
	return 0;
}

static bool room(struct flush *fl)
{
	if (fl->budget && fl->fw->delivered >= fl->budget)
		fl->stopped = true;
	return !fl->stopped;
}

/* Read a hash map in batches, calling @fn for each entry; stops on @fn's error. */
static int walk(int fd, void *keys, void *vals, int (*fn)(struct flush *, int i), struct flush *fl)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u64 in = 0, out = 0;
	bool first = true;

	for (;;) {
		__u32 n = BATCH;
		int err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &n, &opts);

		err = err ? -errno : 0;
		for (__u32 i = 0; i < n; i++) {
			int r = fn(fl, (int)i);

			if (r)
				return r;
		}
		if (err == -ENOENT)
			return 0;
		if (err)
			return err;
		in = out;
		first = false;
	}
}

static int flush_proc(struct flush *fl, int i)
{
	struct faultwatch *fw = fl->fw;
	const struct fw_pkey *pk = &fw->pkeys[i];
	const struct fw_proc *p = &fw->procs_v[i];
	uint64_t undetailed =
		p->untracked > p->untracked_detailed ? p->untracked - p->untracked_detailed : 0;
	bool gone = p->exited;
	struct tnode *n;
	struct fault *f = &fw->rec;
	int ret;

	/* A missed exit mark (its process in another pid namespace...): ask /proc at times. */
	if (!gone && fl->sweep)
		gone = faultrec_proc_alive((int)pk->tgid, pk->start_ns) == 0;
	if (gone && add_exited(fl, pk))
		return -ENOMEM;
	n = tally_get(&fw->procs, pk, sizeof(*pk), undetailed > 0);
	if (!n || undetailed <= n->acc)
		return 0;
	if (!room(fl)) {
		/* Its catch-all is not counted yet: the process is not forgotten this pass. */
		if (gone)
			fl->kept[fl->nexited - 1] = true;
		return 0;
	}
	memset(f, 0, sizeof(*f));
	f->kind = FAULT_UNTRACKED;
	f->pid = (int)pk->tgid;
	f->start_ns = pk->start_ns;
	memcpy(f->comm, p->comm, sizeof(f->comm));
	f->comm[sizeof(f->comm) - 1] = '\0';
	f->count = p->untracked;
	f->delta = undetailed - n->acc;
	f->variant = fw->variant;
	f->mono_ns = clock_mono_ns();
	f->real_ns = clock_real_ns();
	n->acc = undetailed;
	ret = deliver(fw, f);
	return ret;
}

static int flush_site(struct flush *fl, int i)
{
	struct faultwatch *fw = fl->fw;
	const struct fw_key *k = &fw->keys[i];
	const struct fw_site *s = &fw->sites_v[i];
	int gone = exited_at(fl, k->tgid, k->start_ns);
	struct tnode *n = tally_get(&fw->sites, k, sizeof(*k), false);
	uint64_t acc = n ? n->acc : 0;
	/* A site no record reached yet waits from its first fault: its detail may be near. */
	int64_t last = n ? n->last_mono : clock_boot_to_mono((int64_t)s->first_ns);
	struct fault *f = &fw->rec;
	int ret;

	if (s->count > acc && (gone >= 0 || !fl->min_age_ns || fl->now - last >= fl->min_age_ns)) {
		if (!room(fl) || !(n = n ?: tally_get(&fw->sites, k, sizeof(*k), true))) {
			if (gone >= 0)
				fl->kept[gone] = true;
			return fl->stopped ? 0 : -ENOMEM;
		}
		faultrec_from_site(f, k, s, fw->variant);
		f->count = s->count;
		f->delta = s->count - acc;
		f->suppressed = f->delta;
		if (gone < 0)
			faultrec_enrich(f);
		n->acc = s->count;
		n->last_mono = fl->now;
		ret = deliver(fw, f);
		if (ret)
			return ret;
	}
	if (gone < 0)
		return 0;
	/*
	 * Everything the process did is counted: forget its site.  The tally keeps a tombstone
	 * for a while, so that a detail record still in the ring is not counted again.
	 */
	if (bpf_map_delete_elem(bpf_map__fd(fw->skel->maps.sites), k) && errno != ENOENT) {
		fl->kept[gone] = true;
		return 0;
	}
	n = n ?: tally_get(&fw->sites, k, sizeof(*k), true);
	if (n) {
		n->acc = s->count > acc ? s->count : acc;
		n->dead_since = fl->now;
	}
	return 0;
}

static uint64_t stat_sum(const struct faultwatch *fw, __u32 slot, int *err)
{
	uint64_t vals[fw->ncpus], sum = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(fw->skel->maps.stats), &slot, vals)) {
		*err = -errno;
		return 0;
	}
	for (int c = 0; c < fw->ncpus; c++)
		sum += vals[c];
	return sum;
}

/* The global catch-all: total read before detailed (see the top of this file). */
static int flush_noproc(struct flush *fl)
{
	struct faultwatch *fw = fl->fw;
	struct fault *f = &fw->rec;
	int err = 0;
	uint64_t total = stat_sum(fw, FW_STAT_NOPROC, &err);
	uint64_t detailed = stat_sum(fw, FW_STAT_NOPROC_DETAILED, &err);
	uint64_t undetailed = total > detailed ? total - detailed : 0;

	if (err || undetailed <= fw->noproc_acc || !room(fl))
		return err;
	memset(f, 0, sizeof(*f));
	f->kind = FAULT_UNTRACKED;
	f->count = total;
	f->delta = undetailed - fw->noproc_acc;
	f->variant = fw->variant;
	f->mono_ns = clock_mono_ns();
	f->real_ns = clock_real_ns();
	fw->noproc_acc = undetailed;
	return deliver(fw, f);
}

int faultwatch_flush(struct faultwatch *fw, int64_t min_age_ns, unsigned budget, bool *more)
{
	struct flush fl = {
		.fw = fw,
		.now = clock_mono_ns(),
		.min_age_ns = min_age_ns,
		.budget = budget,
	};
	int ret;

	fw->delivered = 0;
	fl.sweep = fl.now - fw->last_sweep >= SWEEP_NS;
	ret = walk(bpf_map__fd(fw->skel->maps.procs), fw->pkeys, fw->procs_v, flush_proc, &fl);
	/* flush_site looks its processes up: sort the exited ones, keeping kept[] in step. */
	if (!ret && fl.nexited) {
		for (size_t i = 0; i < fl.nexited; i++)
			fl.exited[i].pad = fl.kept[i];
		qsort(fl.exited, fl.nexited, sizeof(*fl.exited), cmp_pkey);
		for (size_t i = 0; i < fl.nexited; i++) {
			fl.kept[i] = fl.exited[i].pad;
			fl.exited[i].pad = 0;
		}
	}
	if (!ret)
		ret = walk(bpf_map__fd(fw->skel->maps.sites), fw->keys, fw->sites_v, flush_site,
			   &fl);
	if (!ret)
		ret = flush_noproc(&fl);
	/* A process is forgotten once all its sites are: only a whole pass can tell. */
	for (size_t i = 0; !ret && !fl.stopped && i < fl.nexited; i++) {
		if (fl.kept[i])
			continue;
		bpf_map_delete_elem(bpf_map__fd(fw->skel->maps.procs), &fl.exited[i]);
		tally_del(&fw->procs, &fl.exited[i], sizeof(fl.exited[i]));
	}
	if (!ret && !fl.stopped) {
		fw->exits = false;
		if (fl.sweep)
			fw->last_sweep = fl.now;
		tally_reap(&fw->sites, fl.now - TOMBSTONE_NS);
	}
	free(fl.exited);
	free(fl.kept);
	if (more)
		*more = fl.stopped;
	return ret < 0 ? ret : (int)fw->delivered;
}

/* --- counters ----------------------------------------------------------------------------- */

int faultwatch_stats(const struct faultwatch *fw, struct watcher_counts *out)
{
	int err = 0;

	memset(out, 0, sizeof(*out));
	out->faults = stat_sum(fw, FW_STAT_FAULTS, &err);
	out->events = stat_sum(fw, FW_STAT_EVENTS, &err);
	out->suppressed = stat_sum(fw, FW_STAT_SUPPRESSED, &err);
	out->drops = stat_sum(fw, FW_STAT_DROPS, &err);
	out->untracked = stat_sum(fw, FW_STAT_UNTRACKED, &err) + stat_sum(fw, FW_STAT_NOPROC, &err);
	out->forged = stat_sum(fw, FW_STAT_FORGED, &err);
	out->traced = stat_sum(fw, FW_STAT_TRACED, &err);
	return err;
}

int faultwatch_site_count(const struct faultwatch *fw, int pid, uint64_t ip, uint64_t *count)
{
	int fd = bpf_map__fd(fw->skel->maps.sites);
	struct fw_key key, *prev = NULL;
	struct fw_site site;
	uint64_t newest = 0;
	int ret = -ENOENT;

	while (!bpf_map_get_next_key(fd, prev, &key)) {
		prev = &key;
		if (key.tgid != (__u32)pid || key.ip != ip ||
		    bpf_map_lookup_elem(fd, &key, &site) || key.start_ns + key.exec_id < newest)
			continue;
		newest = key.start_ns + key.exec_id;
		*count = site.count;
		ret = 0;
	}
	return ret;
}
