// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fault watcher user space: open -> set rodata -> pick one program variant -> load ->
 * attach -> poll the ring buffer -> enrich from /proc -> callback.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>

#include "bpf/faultwatch.h"
#include "capture/faultwatch.h"
#include "capture/kernbpf.h"
#include "faultwatch.skel.h"
#include "core/clock.h"
#include "core/log.h"

struct faultwatch {
	struct faultwatch_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *link;
	enum fault_variant variant;
	faultwatch_cb cb;
	void *ctx;
	int ncpus;
};

static struct bpf_program *variant_prog(struct faultwatch_bpf *skel, enum fault_variant v)
{
	switch (v) {
	case FAULT_VARIANT_TP_BTF:
		return skel->progs.fw_tp_btf;
	case FAULT_VARIANT_RAW_TP:
		return skel->progs.fw_raw_tp;
	case FAULT_VARIANT_TRACEPOINT:
		return skel->progs.fw_tracepoint;
	default:
		return NULL;
	}
}

static void fill_fault(struct fault *f, const struct fw_event *e)
{
	memset(f, 0, sizeof(*f));
	f->boot_ns = e->ktime_ns;
	f->ip = e->ip;
	f->addr = e->addr;
	f->start_ns = e->start_ns;
	f->cgroup_id = e->cgroup_id;
	f->count = e->count;
	f->suppressed = e->suppressed;
	f->pid = (int)e->tgid;
	f->tid = (int)e->tid;
	f->sig = e->sig;
	f->si_code = e->si_code;
	f->trap_nr = e->trap_nr;
	f->nbytes = e->nbytes > FW_NBYTES ? FW_NBYTES : e->nbytes;
	memcpy(f->bytes, e->bytes, f->nbytes);
	memcpy(f->comm, e->comm, sizeof(f->comm));
	f->comm[sizeof(f->comm) - 1] = '\0';
	f->variant = (enum fault_variant)e->variant;
	f->cpu = (int)e->cpu;
	/* The fault's own time on the clocks events carry (they differ only by suspend). */
	f->mono_ns = clock_boot_to_mono((int64_t)e->ktime_ns);
	f->real_ns = f->mono_ns + clock_real_ns() - clock_mono_ns();
}

static int on_event(void *ctx, void *data, size_t len)
{
	struct faultwatch *fw = ctx;
	struct fault *f;
	int ret;

	if (len < sizeof(struct fw_event))
		return 0; /* a truncated record never aborts the watcher */
	f = malloc(sizeof(*f));
	if (!f)
		return -ENOMEM;
	fill_fault(f, data);
	faultwatch_enrich(f);
	ret = fw->cb ? fw->cb(f, fw->ctx) : 0;
	free(f);
	return ret;
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
	skel->data->sig_mask = o->sig_mask ?: 1ull << SIGILL;
	skel->rodata->rl_burst = o->burst ?: 5;
	skel->rodata->rl_interval_ns = o->interval_ns ?: 1000000000ull;
	for (int i = FAULT_VARIANT_TP_BTF; i <= FAULT_VARIANT_TRACEPOINT; i++)
		bpf_program__set_autoload(variant_prog(skel, i), i == (int)v);
	if (v == FAULT_VARIANT_TRACEPOINT)
		kernbpf_ensure_tracefs();

	ret = faultwatch_bpf__load(skel);
	if (ret) {
		errbuf_set(err, "failed to load fault probe (%s): %s", fault_variant_name(v),
			   strerror(-ret));
		goto fail;
	}
	fw->link = bpf_program__attach(variant_prog(skel, v));
	if (!fw->link) {
		ret = -errno ?: -EINVAL;
		errbuf_set(err, "failed to attach fault probe (%s): %s", fault_variant_name(v),
			   strerror(-ret));
		goto fail;
	}
	fw->skel = skel;
	fw->variant = v;
	return 0;
fail:
	faultwatch_bpf__destroy(skel);
	return ret;
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
	kernbpf_init();
	fw = calloc(1, sizeof(*fw));
	if (!fw) {
		errbuf_set(err, "failed to allocate fault watcher: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	fw->cb = cb;
	fw->ctx = ctx;
	fw->ncpus = libbpf_num_possible_cpus();
	if (fw->ncpus <= 0) {
		ret = fw->ncpus ?: -EINVAL;
		errbuf_set(err, "failed to count CPUs: %s", strerror(-ret));
		goto fail;
	}

	if (o->variant != FAULT_VARIANT_AUTO) {
		ret = try_variant(fw, o, o->variant, err);
	} else {
		for (int v = FAULT_VARIANT_TP_BTF; v <= FAULT_VARIANT_TRACEPOINT; v++) {
			ret = try_variant(fw, o, v, err);
			if (!ret)
				break;
			log_debug("%s; trying the next variant", err ? err->msg : "variant failed");
		}
	}
	if (ret)
		goto fail;
	log_debug("fault probe attached (%s)", fault_variant_name(fw->variant));

	fw->rb = ring_buffer__new(bpf_map__fd(fw->skel->maps.events), on_event, fw, NULL);
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
	bpf_link__destroy(fw->link);
	faultwatch_bpf__destroy(fw->skel);
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
	return bpf_program__fd(variant_prog(fw->skel, fw->variant));
}

int faultwatch_poll(struct faultwatch *fw, int timeout_ms)
{
	int ret = ring_buffer__poll(fw->rb, timeout_ms);

	return ret == -EINTR ? 0 : ret;
}

int faultwatch_consume(struct faultwatch *fw)
{
	return ring_buffer__consume(fw->rb);
}

int faultwatch_stats(const struct faultwatch *fw, struct faultwatch_stats *out)
{
	uint64_t sum[FW_STAT__COUNT] = { 0 };
	uint64_t *vals;
	int fd = bpf_map__fd(fw->skel->maps.stats);

	vals = calloc(fw->ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (uint32_t k = 0; k < FW_STAT__COUNT; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals)) {
			int ret = -errno;

			free(vals);
			return ret;
		}
		for (int c = 0; c < fw->ncpus; c++)
			sum[k] += vals[c];
	}
	free(vals);
	out->faults = sum[FW_STAT_FAULTS];
	out->events = sum[FW_STAT_EVENTS];
	out->suppressed = sum[FW_STAT_SUPPRESSED];
	out->drops = sum[FW_STAT_DROPS];
	out->untracked = sum[FW_STAT_NEWSITE_FAIL];
	return 0;
}

int faultwatch_site_count(const struct faultwatch *fw, int pid, uint64_t ip, uint64_t *count)
{
	struct fw_key key = { .tgid = (uint32_t)pid, .ip = ip };
	struct fw_site site;

	if (bpf_map_lookup_elem(bpf_map__fd(fw->skel->maps.sites), &key, &site))
		return -errno;
	*count = site.count;
	return 0;
}

int faultwatch_prune(struct faultwatch *fw)
{
	int fd = bpf_map__fd(fw->skel->maps.sites);
	struct fw_key key, next, *prev = NULL;
	int removed = 0;

	/* Deleting the current key would restart the walk: delete one step behind. */
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		if (prev && kill((pid_t)key.tgid, 0) && errno == ESRCH &&
		    !bpf_map_delete_elem(fd, &key))
			removed++;
		key = next;
		prev = &key;
	}
	if (prev && kill((pid_t)key.tgid, 0) && errno == ESRCH && !bpf_map_delete_elem(fd, &key))
		removed++;
	return removed;
}

/* --- enrichment ----------------------------------------------------------------------- */

static void read_exe(struct fault *f)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", f->pid);
	n = readlink(path, f->exe, sizeof(f->exe) - 1);
	f->exe[n > 0 ? n : 0] = '\0';
}

static void read_mapping(struct fault *f)
{
	char path[64], line[PATH_MAX + 128];
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/maps", f->pid);
	fp = fopen(path, "re");
	if (!fp)
		return;
	while (fgets(line, sizeof(line), fp)) {
		unsigned long long start, end, off;
		int name_at = 0;

		if (sscanf(line, "%llx-%llx %*4s %llx %*s %*u %n", &start, &end, &off, &name_at) <
		    3)
			continue;
		if (f->ip < start || f->ip >= end)
			continue;
		f->has_map = true;
		f->map_offset = off + (f->ip - start);
		if (name_at > 0) {
			char *name = line + name_at;

			name[strcspn(name, "\n")] = '\0';
			snprintf(f->map_path, sizeof(f->map_path), "%s", *name ? name : "[anon]");
		}
		break;
	}
	fclose(fp);
}

static void read_cgroup(struct fault *f)
{
	char path[64], line[512];
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", f->pid);
	fp = fopen(path, "re");
	if (!fp)
		return;
	/* Prefer the unified hierarchy ("0::/path"): it is what the cgroup id names. */
	while (fgets(line, sizeof(line), fp)) {
		char *p = strchr(line, ':');

		p = p ? strchr(p + 1, ':') : NULL;
		if (!p)
			continue;
		p[strcspn(p, "\n")] = '\0';
		if (!strncmp(line, "0::", 3) || !f->cgroup[0])
			snprintf(f->cgroup, sizeof(f->cgroup), "%s", p + 1);
		if (!strncmp(line, "0::", 3))
			break;
	}
	fclose(fp);
}

void faultwatch_enrich(struct fault *f)
{
	/* Each piece stands alone: a child that exits half-way keeps what was read. */
	read_exe(f);
	read_mapping(f);
	read_cgroup(f);
}
