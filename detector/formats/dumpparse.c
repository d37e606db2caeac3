// SPDX-License-Identifier: GPL-2.0-or-later
/* The parser core every text dump format shares: errors, vCPUs and leaves, with the bounds. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "formats/dumpparse.h"

/* --- lines and errors ------------------------------------------------------------------ */

int dumpparse_error_at(struct parser *p, int line, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	errbuf_set(p->err, "%s:%d: %s", p->name, line, msg);
	return -EINVAL;
}

/* --- vCPUs and leaves ------------------------------------------------------------------ */

int dumpparse_finish_vcpu(struct parser *p)
{
	struct vcpu_dump *v;
	int ret;

	if (p->cur < 0)
		return 0;
	v = &p->s->vcpus[p->cur];
	/* A header with nothing under it (AIDA64 lists vCPUs it could not read): drop it. */
	if (!v->n && !p->lc.n) {
		p->used[v->cpu / 8] &= ~(1u << (v->cpu % 8));
		p->s->nvcpus--;
		p->cur = -1;
		return 0;
	}
	if (p->finish) {
		ret = p->finish(p);
		if (ret)
			return ret;
	}
	if (!vcpu_dump_get(&p->s->vcpus[p->cur], 0, 0))
		return dumpparse_error_at(p, p->cur_line, "vCPU %d starting here has no leaf 0",
					  p->s->vcpus[p->cur].cpu);
	return 0;
}

int dumpparse_start_vcpu(struct parser *p, long cpu)
{
	struct vcpu_dump *v;
	int ret;

	if (cpu > MAX_CPU_NO)
		return perr(p, "CPU number %ld out of range (limit %d)", cpu, MAX_CPU_NO);
	if (p->cur >= 0 && !p->s->vcpus[p->cur].n && !p->lc.n) {
		v = &p->s->vcpus[p->cur];
		p->used[v->cpu / 8] &= ~(1u << (v->cpu % 8));
	} else {
		ret = dumpparse_finish_vcpu(p);
		if (ret)
			return ret;
		if (p->s->nvcpus >= DUMP_MAX_VCPUS)
			return perr(p, "more than %d vCPUs", DUMP_MAX_VCPUS);
		v = snapshot_add_vcpu(p->s, 0);
		if (!v)
			return perr(p, "out of memory");
		p->cur = p->s->nvcpus - 1;
	}
	/* Some dumps repeat a number (two "CPU#000" blocks): keep both, renumbered. */
	if (cpu < 0 || p->used[cpu / 8] & (1u << (cpu % 8)))
		cpu = p->max_cpu + 1;
	if (cpu > MAX_CPU_NO)
		return perr(p, "more than %d vCPU numbers", MAX_CPU_NO);
	p->used[cpu / 8] |= 1u << (cpu % 8);
	if (cpu > p->max_cpu)
		p->max_cpu = (int)cpu;
	v->cpu = (int)cpu;
	p->cur_line = p->lineno;
	return 0;
}

int dumpparse_put_leaf(struct parser *p, struct vcpu_dump *v, uint32_t leaf, uint32_t sub,
		       const uint32_t r[4])
{
	const struct leafval *old = vcpu_dump_get(v, leaf, sub);

	if (old) {
		if (memcmp(old->r, r, sizeof(old->r)))
			return perr(p, "leaf 0x%x subleaf 0x%x repeated with a different value",
				    leaf, sub);
		return 0;
	}
	if (v->n >= DUMP_MAX_LEAVES)
		return perr(p, "more than %d leaves in one vCPU", DUMP_MAX_LEAVES);
	if (vcpu_dump_put(v, leaf, sub, r))
		return perr(p, "out of memory");
	return 0;
}
