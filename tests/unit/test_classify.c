// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Classification on recorded fault bytes.  The byte strings were taken from this project's
 * own watcher output and cross-checked with `cpudrift explain`:
 *   ud2                         0f 0b
 *   vaddps zmm0, zmm1, zmm2     62 f1 74 48 58 c2   (avx512f)
 *   tileloadd tmm0, [rax+rbx]   c4 e2 7b 4b 04 18   (amx_tile)
 *   vaddps zmm... cut at a page 62 f1 74            (undecodable)
 */
#include <signal.h>
#include <string.h>

#include <criterion/criterion.h>

#include "analysis/attrib.h"
#include "analysis/classify.h"
#include "core/features.h"
#include "capture/probe.h"

static const uint8_t UD2[] = { 0x0f, 0x0b };
static const uint8_t VADDPS_ZMM[] = { 0x62, 0xf1, 0x74, 0x48, 0x58, 0xc2 };
static const uint8_t TILELOADD[] = { 0xc4, 0xe2, 0x7b, 0x4b, 0x04, 0x18 };
static const uint8_t CUT[] = { 0x62, 0xf1, 0x74 };

#define ALL_XCR0 (XSTATE_AVX512 | XSTATE_AMX | XS_X87)
#define X86_TRAP_UD 6
#define X86_TRAP_NM 7

static struct attribution attr;
static struct featset adv;

static void add(struct featset *s, const char *name)
{
	int id = feature_lookup(name);

	cr_assert_geq(id, 0, "feature table lacks %s", name);
	featset_add(s, id);
}

static struct classify_input input(const uint8_t *b, size_t n)
{
	attrib_decode(b, n, &attr);
	memset(&adv, 0, sizeof(adv));
	return (struct classify_input){
		.attr = &attr,
		.sig = SIGILL,
		.trap_nr = X86_TRAP_UD,
		.comm = "app",
		.advertised = &adv,
		.has_xcr0 = true,
		.xcr0 = ALL_XCR0,
		.amx_permitted = -1,
	};
}

static enum fault_class run(const struct classify_input *in, struct classification *c)
{
	classify_fault(in, c);
	return c->cls;
}

TestSuite(classify);

Test(classify, class_names_round_trip)
{
	for (int i = 0; i < FC__COUNT; i++)
		cr_expect_eq(fault_class_lookup(fault_class_name(i)), i);
	cr_expect_eq(fault_class_lookup("nonsense"), -1);
}

Test(classify, deliberate_trap_is_not_feature_related)
{
	struct classify_input in = input(UD2, sizeof(UD2));
	struct classification c;

	cr_expect_eq(run(&in, &c), FC_NOT_FEATURE_RELATED);
	cr_expect_str_eq(fault_class_name(c.cls), "not-feature-related");
}

Test(classify, own_probes_are_known_by_where_their_code_is)
{
	struct classify_input in = input(VADDPS_ZMM, sizeof(VADDPS_ZMM));
	const struct code_range probes = { .major = 254,
					   .minor = 1,
					   .ino = 4242,
					   .start = 0x4000,
					   .end = 0x5000,
					   .code_start = 0x3000,
					   .code_end = 0x4000 };
	struct fault f = { .has_map = true,
			   .map_file = { .valid = true, .major = 254, .minor = 1, .ino = 4242 },
			   .map_offset = 0x4abc };
	struct classification c;

	in.fault = &f;
	in.probe_code = &probes;
	cr_expect_eq(run(&in, &c), FC_PROBE);
	/* The same bytes in another file (a copy of the binary) are not ours. */
	f.map_file.ino = 4243;
	cr_expect_eq(run(&in, &c), FC_NEVER_ADVERTISED);
	/* Nor is our file outside the probe section. */
	f.map_file.ino = 4242;
	f.map_offset = 0x5000;
	cr_expect_eq(run(&in, &c), FC_NEVER_ADVERTISED);
	/* The kernel could not read the VMA: the offset in the executable's code decides. */
	f.has_map = false;
	f.exe_file = (struct fault_file){ .valid = true, .major = 254, .minor = 1, .ino = 4242 };
	f.in_exe_code = true;
	f.exe_code_offset = 0x3abc;
	cr_expect_eq(run(&in, &c), FC_PROBE);
	f.exe_code_offset = 0x4000;
	cr_expect_eq(run(&in, &c), FC_NEVER_ADVERTISED);
}

Test(classify, a_name_makes_no_probe)
{
	struct classify_input in = input(VADDPS_ZMM, sizeof(VADDPS_ZMM));
	struct classification c;

	in.comm = PROBE_COMM;
	cr_expect_eq(run(&in, &c), FC_NEVER_ADVERTISED);
}

Test(classify, unreadable_bytes_are_undecodable)
{
	struct classify_input in = input(CUT, sizeof(CUT));
	struct classification c;

	cr_expect_eq(run(&in, &c), FC_UNDECODABLE);
	in.attr = NULL;
	cr_expect_eq(run(&in, &c), FC_UNDECODABLE);
}

Test(classify, feature_this_vm_never_had)
{
	struct classify_input in = input(VADDPS_ZMM, sizeof(VADDPS_ZMM));
	struct featset baseline = { 0 };
	struct classification c;

	add(&baseline, "avx2");
	in.baseline = &baseline;
	cr_expect_eq(run(&in, &c), FC_NEVER_ADVERTISED);
	cr_expect(featset_has(&c.missing, feature_lookup("avx512f")));
	cr_expect_eq(featset_count(&c.lost), 0);
}

Test(classify, feature_lost_since_baseline_or_process_start)
{
	struct classify_input in = input(VADDPS_ZMM, sizeof(VADDPS_ZMM));
	struct featset then = { 0 };
	struct classification c;

	add(&then, "avx512f");
	in.baseline = &then;
	cr_expect_eq(run(&in, &c), FC_FEATURE_LOST);
	cr_expect(featset_has(&c.lost, feature_lookup("avx512f")));
	in.baseline = NULL;
	in.at_start = &then;
	cr_expect_eq(run(&in, &c), FC_FEATURE_LOST);
}

Test(classify, xcr0_without_the_state_is_os_disabled)
{
	struct classify_input in = input(VADDPS_ZMM, sizeof(VADDPS_ZMM));
	struct classification c;

	add(&adv, "avx512f");
	in.xcr0 = XSTATE_AVX | XS_X87; /* no opmask/ZMM state */
	cr_expect_eq(run(&in, &c), FC_OS_DISABLED);
	cr_expect(featset_has(&c.disabled, feature_lookup("avx512f")));
}

Test(classify, amx_without_permission_is_os_disabled)
{
	struct classify_input in = input(TILELOADD, sizeof(TILELOADD));
	struct classification c;

	add(&adv, "amx_tile");
	in.trap_nr = X86_TRAP_NM; /* how XFD reports a tile access without permission */
	cr_expect_eq(run(&in, &c), FC_OS_DISABLED);
	in.trap_nr = X86_TRAP_UD;
	in.amx_permitted = 0;
	cr_expect_eq(run(&in, &c), FC_OS_DISABLED);
	in.amx_permitted = 1;
	cr_expect_eq(run(&in, &c), FC_ADVERTISED_BUT_FAULTING);
}

Test(classify, advertised_enabled_and_faulting)
{
	struct classify_input in = input(VADDPS_ZMM, sizeof(VADDPS_ZMM));
	static struct probe_summary probe;
	struct classification c;
	int id = feature_lookup("avx512f");

	add(&adv, "avx512f");
	cr_expect_eq(run(&in, &c), FC_ADVERTISED_BUT_FAULTING);
	cr_expect_not(c.probe_confirms);
	featset_add(&probe.mismatch, id);
	in.probe = &probe;
	cr_expect_eq(run(&in, &c), FC_ADVERTISED_BUT_FAULTING);
	cr_expect(c.probe_confirms);
}

Test(classify, other_signals_are_not_blamed_on_features)
{
	struct classify_input in = input(VADDPS_ZMM, sizeof(VADDPS_ZMM));
	struct classification c;

	in.sig = SIGSEGV; /* e.g. a #GP from a misaligned access, or a page fault */
	in.trap_nr = 13;
	cr_expect_eq(run(&in, &c), FC_NOT_FEATURE_RELATED);
}
