// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Live capture, decode and the snapshot JSON form: the capture of the machine running the
 * tests agrees with its kernel, and JSON round trips are lossless.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "capture/capture.h"
#include "capture/hw.h"
#include "core/log.h"
#include "formats/snapjson.h"

static struct snapshot *live(void)
{
	struct snapshot *s = NULL;
	struct errbuf err = { "" };

	cr_assert_eq(capture_snapshot(&s, NULL, &err), 0, "capture failed: %s", err.msg);
	return s;
}

/*
 * Flags the kernel knows but does not print (cpufeatures.h gives them an empty name), or
 * prints under a condition of its own.  Each is an expected disagreement with a reason.
 */
static const struct {
	const char *name;
	const char *why;
} kernel_exceptions[] = {
	{ "osxsave", "Linux hides it (\"\" name): it mirrors CR4.OSXSAVE, not the CPU" },
	{ "hypervisor", "printed by Linux; listed in case a kernel hides it" },
	{ "ospke", "Linux prints it only once it has enabled protection keys itself" },
	{ "pku",
	  "Linux clears it when booted with nopku or without CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS" },
	{ "la57", "Linux clears it unless 5-level paging is enabled" },
	{ "sgx", "Linux clears it unless SGX is enabled in firmware and kernel" },
	{ "rtm", "Linux clears it on TAA-affected CPUs (tsx=off)" },
	{ "hle", "Linux clears it with rtm (tsx=off)" },
	{ "umip", "Linux prints it only when it enabled UMIP" },
	{ "cet_ss", "Linux prints user_shstk instead when it enables shadow stacks" },
	{ "ibt", "Linux clears it unless kernel IBT is enabled" },
	{ "pcid", "Linux clears it with nopcid" },
	{ "invpcid", "Linux clears it with noinvpcid" },
	{ "x2apic", "Linux clears it when x2APIC is disabled" },
	{ "mwait", "hidden as 'monitor' on some kernels" },
	{ "monitor", "Linux clears it when MWAIT is not usable (idle=, virtualisation)" },
	{ "xsaves", "Linux clears it with noxsaves" },
	{ "fsrm", "name printed since Linux 5.6" },
	{ "avx512_fp16", "Linux clears it when AVX-512 state is not enabled" },
	{ "amx_tile", "Linux clears AMX when its XSTATE is not enabled" },
	{ "amx_bf16", "Linux clears AMX when its XSTATE is not enabled" },
	{ "amx_int8", "Linux clears AMX when its XSTATE is not enabled" },
	{ "amx_fp16", "Linux clears AMX when its XSTATE is not enabled" },
	{ "tsc_deadline_timer", "Linux clears it on CPUs with a broken deadline timer" },
	{ "arch_capabilities", "Linux hides it (\"\" name) on some versions" },
	{ "spec_ctrl", "Linux hides the raw bit, shows ibrs/ibpb/stibp instead" },
	{ "intel_stibp", "Linux hides it (\"\" name)" },
	{ "flush_l1d", "printed only on Intel" },
	{ "ssbd", "Linux synthesises ssbd from vendor bits; the raw bit may be hidden" },
	{ "md_clear", "printed since Linux 5.1" },
	{ "core_capabilities", "Linux hides it (\"\" name)" },
	{ "topoext", "Linux forces it on for AMD CPUs with topology leaves even when CPUID's bit "
		     "(0x80000001.ecx[22]) is clear, as in this project's bhyve-hosted VMs" },
};

static const char *exception_for(const char *name)
{
	for (size_t i = 0; i < sizeof(kernel_exceptions) / sizeof(kernel_exceptions[0]); i++)
		if (!strcmp(kernel_exceptions[i].name, name))
			return kernel_exceptions[i].why;
	return NULL;
}

Test(snapshot, live_agrees_with_proc_cpuinfo)
{
	struct snapshot *s = live();
	int checked = 0, excused = 0, bad = 0;

	if (!s->nkflags)
		cr_skip_test("no flags line in /proc/cpuinfo");
	/*
	 * A name the kernel prints must be advertised by CPUID on every vCPU.  A feature we
	 * decode that the kernel does not print is a disagreement unless the kernel is known
	 * to hide or clear it (listed above) — or the kernel does not know the name at all,
	 * which we cannot tell from /proc/cpuinfo; those are reported, not failed, when the
	 * name is not one Linux prints for any CPU we know of.
	 */
	for (int i = 0; i < FEAT__COUNT; i++) {
		const char *name = feature_table[i].name;
		bool ours = featset_has(&s->features, i), kern = snapshot_has_kflag(s, name);

		if (ours == kern) {
			checked += kern;
			continue;
		}
		if (exception_for(name)) {
			excused++;
			continue;
		}
		if (kern && !ours) {
			bad++;
			cr_log_error("kernel prints '%s' but CPUID does not advertise it", name);
		} else {
			/* Advertised, not printed: the kernel cleared it or does not name it. */
			cr_log_info("CPUID advertises '%s'; this kernel does not print it", name);
		}
	}
	cr_log_info("%d features agree with /proc/cpuinfo, %d known exceptions", checked, excused);
	cr_expect_eq(bad, 0, "%d features printed by the kernel but not decoded", bad);
	cr_expect_gt(checked, 10, "too few features in common with /proc/cpuinfo: %d", checked);
	snapshot__free(s);
}

Test(snapshot, live_identity_matches_leaf1)
{
	struct snapshot *s = live();
	uint32_t r[4];

	hw_cpuid(1, 0, r);
	cr_expect_eq(s->id.signature, r[0]);
	hw_cpuid(0, 0, r);
	cr_expect_eq(memcmp(s->id.vendor, &r[1], 4), 0, "vendor '%s'", s->id.vendor);
	cr_expect_geq(s->level, 1, "an x86-64 machine is at least x86-64-v1");
	cr_expect_eq(s->nvcpus, (int)sysconf(_SC_NPROCESSORS_ONLN));
	snapshot__free(s);
}

Test(snapshot, live_subleaves_follow_leaf_rules)
{
	struct snapshot *s = live();
	const struct vcpu_dump *v = &s->vcpus[0];
	const struct leafval *l0 = vcpu_dump_get(v, 0, 0), *l7;
	uint32_t max = l0->r[REG_EAX];

	/* Every standard leaf up to the maximum is captured, and nothing past it. */
	for (uint32_t leaf = 0; leaf <= max && leaf < 0x100; leaf++)
		cr_expect_not_null(vcpu_dump_get(v, leaf, 0), "leaf 0x%x missing", leaf);
	cr_expect_null(vcpu_dump_get(v, max + 1, 0));
	if (max >= 7) {
		l7 = vcpu_dump_get(v, 7, 0);
		for (uint32_t sl = 0; sl <= l7->r[REG_EAX]; sl++)
			cr_expect_not_null(vcpu_dump_get(v, 7, sl), "leaf 7.%u missing", sl);
		cr_expect_null(vcpu_dump_get(v, 7, l7->r[REG_EAX] + 1));
	}
	if (max >= 0xd) {
		const struct leafval *d0 = vcpu_dump_get(v, 0xd, 0);

		/* Each XCR0-supported component from 2 up has its own subleaf. */
		for (uint32_t b = 2; b < 32; b++)
			if (d0->r[REG_EAX] >> b & 1)
				cr_expect_not_null(vcpu_dump_get(v, 0xd, b), "leaf 0xd.%u missing",
						   b);
	}
	snapshot__free(s);
}

Test(snapshot, json_round_trip_is_lossless)
{
	struct snapshot *s = live(), *t = NULL;
	struct json_object *a, *b;
	struct errbuf err = { "" };

	s->has_shadow = true;
	featset_add(&s->shadow, FEAT_AVX2);
	a = snapshot_to_json(s);
	cr_assert_eq(snapshot_from_json(a, &t, &err), 0, "%s", err.msg);
	b = snapshot_to_json(t);
	cr_expect(json_object_equal(a, b), "JSON differs after a round trip");
	cr_expect(featset_equal(&s->features, &t->features));
	cr_expect_eq(s->nvcpus, t->nvcpus);
	for (int i = 0; i < s->nvcpus; i++) {
		cr_assert_eq(s->vcpus[i].n, t->vcpus[i].n);
		cr_expect_eq(memcmp(s->vcpus[i].leaves, t->vcpus[i].leaves,
				    s->vcpus[i].n * sizeof(struct leafval)),
			     0);
	}
	cr_expect(featset_has(&t->shadow, FEAT_AVX2));
	json_object_put(a);
	json_object_put(b);
	snapshot__free(s);
	snapshot__free(t);
}

Test(snapshot, json_features_are_derived_from_leaves)
{
	struct snapshot *s = live(), *t = NULL;
	struct json_object *a = snapshot_to_json(s), *vc, *leaves;
	struct errbuf err = { "" };
	int fp16;

	/* Claiming a feature in "features" without the bit in the leaves changes nothing. */
	json_object_array_add(json_object_object_get(a, "features"),
			      json_object_new_string("avx512_fp16"));
	/* Clearing the leaf-1 ECX bits removes sse4_2 etc.: leaves are the truth. */
	vc = json_object_array_get_idx(json_object_object_get(a, "vcpus"), 0);
	leaves = json_object_object_get(vc, "leaves");
	for (size_t i = 0; i < json_object_array_length(leaves); i++) {
		struct json_object *l = json_object_array_get_idx(leaves, i);

		if (!strcmp(json_object_get_string(json_object_object_get(l, "leaf")),
			    "0x00000001"))
			json_object_object_add(l, "ecx", json_object_new_string("0x00000000"));
	}
	cr_assert_eq(snapshot_from_json(a, &t, &err), 0, "%s", err.msg);
	cr_expect_eq(featset_has(&t->features, FEAT_SSE4_2), false);
	fp16 = feature_lookup("avx512_fp16");
	if (fp16 >= 0)
		cr_expect_eq(featset_has(&t->features, fp16), featset_has(&s->features, fp16),
			     "the \"features\" list overrode the leaves");
	json_object_put(a);
	snapshot__free(s);
	snapshot__free(t);
}

static int from_text(const char *text, struct errbuf *err)
{
	struct json_object *o = json_tokener_parse(text);
	struct snapshot *s = NULL;
	int ret;

	if (!o)
		return -1000;
	ret = snapshot_from_json(o, &s, err);
	json_object_put(o);
	snapshot__free(s);
	return ret;
}

Test(snapshot, json_hostile_input_is_an_error)
{
	static const char *const bad[] = {
		"[]",
		"{}",
		"{\"format\":\"cpudrift-snapshot\",\"version\":99}",
		"{\"format\":\"cpudrift-snapshot\",\"version\":1}",
		"{\"format\":\"cpudrift-snapshot\",\"version\":1,\"vcpus\":[]}",
		"{\"format\":\"cpudrift-snapshot\",\"version\":1,\"vcpus\":[{\"cpu\":0}]}",
		"{\"format\":\"cpudrift-snapshot\",\"version\":1,\"vcpus\":[{\"cpu\":0,\"leaves\":[1]}]}",
		"{\"format\":\"cpudrift-snapshot\",\"version\":1,\"vcpus\":[{\"cpu\":0,\"leaves\":"
		"[{\"leaf\":\"0x1\",\"subleaf\":0,\"eax\":\"zz\",\"ebx\":\"0\",\"ecx\":\"0\",\"edx\":\"0\"}]}]}",
		/* No leaf 0: cannot be decoded. */
		"{\"format\":\"cpudrift-snapshot\",\"version\":1,\"vcpus\":[{\"cpu\":0,\"leaves\":"
		"[{\"leaf\":\"0x1\",\"subleaf\":0,\"eax\":\"0\",\"ebx\":\"0\",\"ecx\":\"0\",\"edx\":\"0\"}]}]}",
		"{\"format\":\"cpudrift-snapshot\",\"version\":1,\"xcr0\":\"-1\",\"vcpus\":[]}",
		"{\"format\":\"cpudrift-snapshot\",\"version\":1,\"shadow\":{\"features\":[\"nope\"]},"
		"\"vcpus\":[]}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct errbuf err = { "" };
		int ret = from_text(bad[i], &err);

		cr_expect_lt(ret, 0, "input %zu accepted", i);
		cr_expect_neq(ret, -1000, "input %zu is not even JSON (test bug)", i);
		cr_expect_neq(err.msg[0], 0, "input %zu: no error message", i);
	}
}
