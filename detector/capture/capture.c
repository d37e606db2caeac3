// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Live CPUID capture.  Each vCPU is visited by pinning this thread to it; on every vCPU
 * the standard, extended and hypervisor ranges are walked with each leaf's own subleaf
 * rule.  One CPUID is a VM exit (~3.6 us on KVM), so the walk issues no CPUID it does not
 * keep, except the terminating subleaf of the "until invalid" enumerations.
 */
#include <errno.h>
#include <signal.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analysis/decode.h"
#include "core/clock.h"
#include "capture/capture.h"
#include "core/event.h"
#include "capture/hw.h"
#include "core/log.h"

/* No real CPU has more than a few dozen leaves per range: beyond this, the value is junk. */
#define MAX_RANGE_LEAVES 0x100

struct walker {
	struct vcpu_dump *v;
	int count;
	int err;
};

static void take(struct walker *w, uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
	hw_cpuid(leaf, subleaf, r);
	w->count++;
	if (!w->err)
		w->err = vcpu_dump_put(w->v, leaf, subleaf, r);
}

/* Subleaves 0..(EAX of subleaf 0). */
static void walk_eax_max(struct walker *w, uint32_t leaf, uint32_t *r)
{
	uint32_t n = r[REG_EAX];

	for (uint32_t s = 1; s <= n && s < CAPTURE_MAX_SUBLEAF; s++)
		take(w, leaf, s, r);
}

/* Subleaves while the bitfield (reg, shift, mask) of the result is non-zero. */
static void walk_until_zero(struct walker *w, uint32_t leaf, uint32_t *r, int reg, int shift,
			    uint32_t mask)
{
	for (uint32_t s = 1; s < CAPTURE_MAX_SUBLEAF && (r[reg] >> shift & mask); s++)
		take(w, leaf, s, r);
}

/* Subleaves named by the set bits of a bitmap (bit 0 is subleaf 0, already taken). */
static void walk_bitmap(struct walker *w, uint32_t leaf, uint64_t bitmap, uint32_t *r)
{
	for (uint32_t s = 1; s < CAPTURE_MAX_SUBLEAF; s++)
		if (bitmap >> s & 1)
			take(w, leaf, s, r);
}

static void walk_leaf(struct walker *w, uint32_t leaf, bool sgx)
{
	uint32_t r[4], r1[4];

	take(w, leaf, 0, r);
	switch (leaf) {
	case 0x4:
	case 0x8000001d:
		/* Deterministic cache parameters: until cache type (EAX[4:0]) is null. */
		walk_until_zero(w, leaf, r, REG_EAX, 0, 0x1f);
		break;
	case 0x7:
	case 0x14:
	case 0x17:
	case 0x18:
	case 0x1d:
	case 0x20:
	case 0x24:
		walk_eax_max(w, leaf, r);
		break;
	case 0xb:
	case 0x1f:
	case 0x80000026:
		/* Topology: until the level type (ECX[15:8]) is invalid. */
		walk_until_zero(w, leaf, r, REG_ECX, 8, 0xff);
		break;
	case 0xd:
		/* Subleaf 1, then one per XCR0- or XSS-supported state component >= 2. */
		take(w, leaf, 1, r1);
		walk_bitmap(w, leaf,
			    ((uint64_t)r[REG_EDX] << 32 | r[REG_EAX] | (uint64_t)r1[REG_EDX] << 32 |
			     r1[REG_ECX]) &
				    ~3ull,
			    r1);
		break;
	case 0xf:
	case 0x10:
		/* Resource types: a bitmap in EDX (0xF) or EBX (0x10) of subleaf 0. */
		walk_bitmap(w, leaf, leaf == 0xf ? r[REG_EDX] : r[REG_EBX], r);
		break;
	case 0x12:
		if (!sgx)
			break;
		take(w, leaf, 1, r1);
		/* EPC sections from subleaf 2 until the sub-leaf type (EAX[3:0]) is invalid. */
		for (uint32_t s = 2; s < CAPTURE_MAX_SUBLEAF; s++) {
			take(w, leaf, s, r1);
			if (!(r1[REG_EAX] & 0xf))
				break;
		}
		break;
	case 0x23:
		walk_bitmap(w, leaf, r[REG_EAX], r);
		break;
	case 0x80000020:
		walk_bitmap(w, leaf, r[REG_EBX], r);
		break;
	}
}

int capture_vcpu(struct vcpu_dump *v)
{
	struct walker w = { .v = v };
	uint32_t r[4], max, hvmax;
	bool sgx = false, hv;

	if (!v->cap) {
		v->leaves = malloc(256 * sizeof(*v->leaves));
		if (!v->leaves)
			return -ENOMEM;
		v->cap = 256;
	}
	take(&w, 0, 0, r);
	max = r[REG_EAX];
	if (max >= MAX_RANGE_LEAVES)
		max = MAX_RANGE_LEAVES - 1;
	take(&w, 1, 0, r);
	hv = r[REG_ECX] >> 31 & 1;
	for (uint32_t leaf = 2; leaf <= max; leaf++) {
		/* Leaf 0x12 exists only with SGX, which leaf 7 (already taken) reports. */
		if (leaf == 0x12) {
			const struct leafval *l7 = vcpu_dump_get(v, 7, 0);

			sgx = l7 && (l7->r[REG_EBX] >> 2 & 1);
		}
		walk_leaf(&w, leaf, sgx);
	}

	take(&w, LEAF_EXT_BASE, 0, r);
	max = r[REG_EAX];
	if (max > LEAF_EXT_BASE && max < LEAF_EXT_BASE + MAX_RANGE_LEAVES)
		for (uint32_t leaf = LEAF_EXT_BASE + 1; leaf <= max; leaf++)
			walk_leaf(&w, leaf, false);

	/*
	 * The hypervisor range exists only when CPUID.1:ECX[31] says so; on bare metal Intel
	 * returns the highest basic leaf for it.  KVM with Hyper-V enlightenments moves its
	 * own signature to 0x40000100: take the second block when it answers too.
	 */
	for (uint32_t base = LEAF_HV_BASE; hv && base <= LEAF_HV_BASE + 0x100; base += 0x100) {
		take(&w, base, 0, r);
		hvmax = r[REG_EAX];
		if (hvmax < base || hvmax >= base + CAPTURE_MAX_HV_LEAVES) {
			if (base == LEAF_HV_BASE)
				hvmax = base + 1; /* some hypervisors report 0 meaning 0x40000001 */
			else
				break;
		}
		for (uint32_t leaf = base + 1; leaf <= hvmax; leaf++)
			take(&w, leaf, 0, r);
	}
	return w.err ? w.err : w.count;
}

/* What the judgement of a fault read on each vCPU, kept for a short while: a fault storm on
 * one vCPU costs one capture per max_age, not one per fault. */
#define NOW_CACHE_CPUS 256

static struct {
	bool valid;
	int64_t at;
	struct featset f;
} now_cache[NOW_CACHE_CPUS];

/* The features @cpu advertises now, read there (pinned).  0 or a negative errno. */
static int features_on(int cpu, int64_t max_age_ns, struct featset *out)
{
	int64_t now = clock_mono_ns();
	struct vcpu_dump v = { 0 };
	cpu_set_t orig, one;
	int ret;

	if (cpu >= 0 && cpu < NOW_CACHE_CPUS && now_cache[cpu].valid &&
	    now - now_cache[cpu].at < max_age_ns) {
		*out = now_cache[cpu].f;
		return 0;
	}
	if (cpu < 0 || cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof(orig), &orig))
		return -EINVAL;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	/* A cpuset without that vCPU, or the vCPU went offline: it cannot be read live. */
	if (sched_setaffinity(0, sizeof(one), &one))
		return -errno;
	ret = capture_vcpu(&v);
	sched_setaffinity(0, sizeof(orig), &orig);
	if (ret >= 0) {
		decode_vcpu_features(&v, out);
		if (cpu < NOW_CACHE_CPUS) {
			now_cache[cpu].f = *out;
			now_cache[cpu].at = now;
			now_cache[cpu].valid = true;
		}
		ret = 0;
	}
	free(v.leaves);
	return ret;
}

void capture_fault_cpuid(const struct tracker *t, struct fault *f, int64_t max_age_ns)
{
	const struct snapshot *cur = tracker_current(t);
	struct featset now;
	char from[48];
	int ret;

	if (f->sig != SIGILL || !cur)
		return;
	ret = features_on(f->cpu, max_age_ns, &now);
	if (!ret) {
		snprintf(from, sizeof(from), "vcpu%d", f->cpu);
		tracker_cpuid_now(t, f, &now, from);
		return;
	}
	/* It cannot be read there: that vCPU's newest capture is the best evidence left. */
	for (int i = 0; i < cur->nvcpus; i++) {
		if (cur->vcpus[i].cpu != f->cpu)
			continue;
		decode_vcpu_features(&cur->vcpus[i], &now);
		snprintf(from, sizeof(from), "vcpu%d newest capture (%s)", f->cpu, strerror(-ret));
		tracker_cpuid_now(t, f, &now, from);
		return;
	}
}

int capture_online_cpus(int *cpus, int n)
{
	FILE *f = fopen("/sys/devices/system/cpu/online", "r");
	char buf[4096], *p, *tok;
	int k = 0;

	if (!f || !fgets(buf, sizeof(buf), f)) {
		if (f)
			fclose(f);
		/* No sysfs (a container without it): the CPUs we may run on. */
		cpu_set_t set;

		if (sched_getaffinity(0, sizeof(set), &set))
			return -errno;
		for (int c = 0; c < CPU_SETSIZE && k < n; c++)
			if (CPU_ISSET(c, &set))
				cpus[k++] = c;
		return k;
	}
	fclose(f);
	for (tok = strtok_r(buf, ",\n", &p); tok && k < n; tok = strtok_r(NULL, ",\n", &p)) {
		int a, b;

		if (sscanf(tok, "%d-%d", &a, &b) != 2)
			b = a = atoi(tok);
		for (int c = a; c <= b && k < n; c++)
			cpus[k++] = c;
	}
	return k;
}

static void read_microcode(struct snapshot *s)
{
	char line[256];
	unsigned long long v;
	FILE *f = fopen("/sys/devices/system/cpu/cpu0/microcode/version", "r");

	if (f) {
		if (fscanf(f, "%llx", &v) == 1) {
			s->has_microcode = true;
			s->microcode = v;
		}
		fclose(f);
		if (s->has_microcode)
			return;
	}
	f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "microcode", 9) && sscanf(line, "microcode : %llx", &v) == 1) {
			s->has_microcode = true;
			s->microcode = v;
			break;
		}
	}
	fclose(f);
}

static int read_kernel_flags(struct snapshot *s)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char *line = NULL, **flags = NULL, *p, *tok;
	size_t cap = 0, n = 0;
	int err = 0;

	if (!f)
		return 0;
	while (getline(&line, &cap, f) > 0) {
		if (strncmp(line, "flags", 5) || !(p = strchr(line, ':')))
			continue;
		for (tok = strtok(p + 1, " \t\n"); tok; tok = strtok(NULL, " \t\n")) {
			char **nf = realloc(flags, (n + 1) * sizeof(*nf));

			if (!nf) {
				err = -ENOMEM;
				break;
			}
			flags = nf;
			flags[n++] = tok;
		}
		if (!err)
			err = snapshot_set_kflags(s, flags, n);
		break;
	}
	free(flags);
	free(line);
	fclose(f);
	return err;
}

int capture_snapshot(struct snapshot **out, const struct capture_opts *o, struct errbuf *err)
{
	static const struct capture_opts defaults = { .only_cpu = -1 };
	struct snapshot *s = snapshot__new();
	cpu_set_t orig, one;
	int cpus[1024], ncpus, ret = 0;

	if (!o)
		o = &defaults;
	if (!s) {
		errbuf_set(err, "out of memory");
		return -ENOMEM;
	}
	if (sched_getaffinity(0, sizeof(orig), &orig)) {
		ret = -errno;
		errbuf_set(err, "failed to read CPU affinity: %s", strerror(errno));
		goto fail;
	}
	if (o->only_cpu >= 0) {
		cpus[0] = o->only_cpu;
		ncpus = 1;
	} else {
		ncpus = capture_online_cpus(cpus, 1024);
		if (ncpus <= 0) {
			ret = ncpus ? ncpus : -ENODEV;
			errbuf_set(err, "failed to list online CPUs: %s", strerror(-ret));
			goto fail;
		}
	}
	s->realtime_ns = clock_ns(CLOCK_REALTIME);
	s->monotonic_ns = clock_ns(CLOCK_MONOTONIC);
	snprintf(s->boot_id, sizeof(s->boot_id), "%s", event_boot_id());
	snprintf(s->source, sizeof(s->source), "live");
	for (int i = 0; i < ncpus; i++) {
		struct vcpu_dump *v;

		CPU_ZERO(&one);
		CPU_SET(cpus[i], &one);
		if (sched_setaffinity(0, sizeof(one), &one)) {
			/* Went offline between listing and pinning: skip it, say so. */
			log_warn("failed to pin to CPU %d: %s", cpus[i], strerror(errno));
			continue;
		}
		v = snapshot_add_vcpu(s, cpus[i]);
		ret = v ? capture_vcpu(v) : -ENOMEM;
		if (ret < 0) {
			errbuf_set(err, "failed to capture CPU %d: %s", cpus[i], strerror(-ret));
			sched_setaffinity(0, sizeof(orig), &orig);
			goto fail;
		}
		if (i == 0) {
			const struct leafval *l1 = vcpu_dump_get(v, 1, 0);

			/*
			 * XGETBV faults unless the OS set CR4.OSXSAVE.  Without it the OS has
			 * enabled no XSAVE state: only what FXSAVE covers (x87, SSE) is usable,
			 * whatever CPUID advertises (a VM booted on a CPU without XSAVE and
			 * moved to one with it).
			 */
			s->has_xcr0 = l1 != NULL;
			if (l1 && (l1->r[REG_ECX] >> 27 & 1))
				s->xcr0 = hw_xgetbv(0);
			else
				s->xcr0 = XS_X87 | XS_SSE;
		}
	}
	sched_setaffinity(0, sizeof(orig), &orig);
	if (!o->skip_extra) {
		read_microcode(s);
		ret = read_kernel_flags(s);
		if (ret) {
			errbuf_set(err, "failed to read /proc/cpuinfo: %s", strerror(-ret));
			goto fail;
		}
	}
	ret = decode_snapshot(s, err);
	if (ret)
		goto fail;
	*out = s;
	return 0;
fail:
	snapshot__free(s);
	return ret < 0 ? ret : -EIO;
}
