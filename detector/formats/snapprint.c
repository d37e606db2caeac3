// SPDX-License-Identifier: GPL-2.0-or-later
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "analysis/diff.h"
#include "core/escape.h"
#include "formats/snapprint.h"

static const char *const xstate_names[] = {
	[0] = "x87",	[1] = "sse",	  [2] = "avx",	     [3] = "bndregs",
	[4] = "bndcsr", [5] = "opmask",	  [6] = "zmm_hi256", [7] = "hi16_zmm",
	[9] = "pkru",	[17] = "tilecfg", [18] = "tiledata", [19] = "apx",
};

void featset_print_wrapped(const struct featset *fs, int indent, FILE *f)
{
	const char *names[FEAT__COUNT];
	int n = featset_names(fs, names), col = 0;

	for (int i = 0; i < n; i++) {
		int len = (int)strlen(names[i]);

		if (col && col + 1 + len > 100) {
			fputc('\n', f);
			col = 0;
		}
		if (!col)
			col = fprintf(f, "%*s%s", indent, "", names[i]);
		else
			col += fprintf(f, " %s", names[i]);
	}
	if (col)
		fputc('\n', f);
}

static void print_xcr0(const struct snapshot *s, FILE *f)
{
	if (!s->has_xcr0) {
		fprintf(f, "%-12s unknown (not captured on this machine)\n", "xcr0");
		return;
	}
	fprintf(f, "%-12s 0x%" PRIx64 " (", "xcr0", s->xcr0);
	for (unsigned b = 0, first = 1; b < 64; b++) {
		if (!(s->xcr0 >> b & 1))
			continue;
		if (b < sizeof(xstate_names) / sizeof(xstate_names[0]) && xstate_names[b])
			fprintf(f, "%s%s", first ? "" : " ", xstate_names[b]);
		else
			fprintf(f, "%sbit%u", first ? "" : " ", b);
		first = 0;
	}
	fputs(")\n", f);
}

void snapshot_print_table(const struct snapshot *s, FILE *f)
{
	char when[64] = "unknown time";
	time_t t = s->realtime_ns / 1000000000;
	struct tm tm;
	struct diff vd = { 0 };

	if (s->realtime_ns) {
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	}
	fprintf(f, "%-12s %s, %s, %d vCPU%s\n", "snapshot", str_esc(s->source), when, s->nvcpus,
		s->nvcpus == 1 ? "" : "s");
	fprintf(f, "%-12s %s\n", "vendor", str_esc(s->id.vendor));
	fprintf(f, "%-12s %s\n", "brand", s->id.brand[0] ? str_esc(s->id.brand) : "(none)");
	fprintf(f, "%-12s family 0x%x, model 0x%x, stepping %u (signature 0x%08x)\n", "cpu",
		s->id.family, s->id.model, s->id.stepping, s->id.signature);
	fprintf(f, "%-12s %s\n", "codename",
		s->id.codename[0] ? str_esc(s->id.codename) : "(unknown)");
	fprintf(f, "%-12s (libcpuid's guess; often wrong for new or virtual CPUs)\n", "");
	if (s->has_microcode)
		fprintf(f, "%-12s 0x%" PRIx64 "\n", "microcode", s->microcode);
	fprintf(f, "%-12s L1d %u KB, L1i %u KB, L2 %u KB, L3 %u KB\n", "caches", s->id.l1d_kb,
		s->id.l1i_kb, s->id.l2_kb, s->id.l3_kb);
	if (s->hypervisor[0]) {
		fprintf(f, "%-12s %s (leaves up to 0x%08x)", "hypervisor", str_esc(s->hypervisor),
			s->hv_max_leaf);
		if (s->hv_tsc_khz)
			fprintf(f, ", TSC %u kHz, bus %u kHz", s->hv_tsc_khz, s->hv_bus_khz);
		fputc('\n', f);
	} else {
		fprintf(f, "%-12s none reported\n", "hypervisor");
	}
	print_xcr0(s, f);
	fprintf(f, "%-12s x86-64-v%d\n", "level", s->level);
	fprintf(f, "%-12s %d advertised on every vCPU:\n", "features", featset_count(&s->features));
	featset_print_wrapped(&s->features, 13, f);
	if (s->has_shadow) {
		fprintf(f, "%-12s %d masked but executable (hash %016" PRIx64 ")%s\n", "shadow",
			featset_count(&s->shadow), featset_hash(&s->shadow),
			featset_count(&s->shadow) ? ":" : "");
		featset_print_wrapped(&s->shadow, 13, f);
	}
	if (s->nkflags)
		fprintf(f, "%-12s %zu flags in /proc/cpuinfo\n", "kernel", s->nkflags);
	if (s->nvcpus > 1 && !diff_vcpus(s, &vd)) {
		if (!vd.n)
			fprintf(f, "%-12s all %d agree\n", "vcpus", s->nvcpus);
		for (size_t i = 0; i < vd.n; i++)
			fprintf(f, "%-12s vCPU %d differs from vCPU %d: %s %s -> %s\n",
				i ? "" : "vcpus", vd.v[i].vcpu, s->vcpus[0].cpu,
				str_esc(vd.v[i].field), str_esc(vd.v[i].before),
				str_esc(vd.v[i].after));
		diff_free(&vd);
	}
}
