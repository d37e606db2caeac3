// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fault record's one JSON form: what the kernel identified (files, origin, the counts
 * a record adds) survives a round trip, so that a recording replays a fault as it was, and
 * where the probe code lives is decided by file identity and offset alone.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/fault.h"
#include "core/log.h"

TestSuite(fault);

Test(fault, json_round_trip_keeps_what_the_kernel_identified)
{
	struct fault f = {
		.pid = 4242, .tid = 4243, .uid = 65534, .sig = 4, .si_code = 2, .trap_nr = 6,
		.ip = 0x401000, .count = 100000, .suppressed = 7542, .delta = 7542,
		.kind = FAULT_FLUSH, .tracked = true, .origin = FAULT_ORIGIN_TRACED,
		.variant = FAULT_VARIANT_RAW_TP, .has_map = true, .map_offset = 0x1000,
		.exe_file = { .valid = true, .major = 254, .minor = 1, .ino = 99, .truncated = true },
		.map_file = { .valid = true, .major = 8, .minor = 3, .ino = 7, .deleted = true },
		.in_exe_code = true, .exe_code_offset = 0x20,
	}, g;
	struct errbuf err = { "" };
	struct json_object *j;

	snprintf(f.exe, sizeof(f.exe), ".../lib/x");
	snprintf(f.map_path, sizeof(f.map_path), "/usr/lib/y.so");
	j = fault_to_json(&f);
	cr_assert_not_null(j);
	cr_assert_eq(fault_from_json(j, &g, &err), 0, "%s", err.msg);
	cr_expect_eq(g.uid, 65534u);
	cr_expect_eq(g.kind, FAULT_FLUSH);
	cr_expect_eq(g.delta, 7542u);
	cr_expect_eq(g.origin, FAULT_ORIGIN_TRACED);
	cr_expect(g.tracked);
	cr_expect(g.exe_file.valid && g.exe_file.major == 254 && g.exe_file.minor == 1 &&
		  g.exe_file.ino == 99 && g.exe_file.truncated);
	cr_expect(g.map_file.valid && g.map_file.major == 8 && g.map_file.ino == 7 &&
		  g.map_file.deleted);
	cr_expect(g.in_exe_code && g.exe_code_offset == 0x20);
	cr_expect_str_eq(g.exe, ".../lib/x");
	json_object_put(j);
}

Test(fault, an_old_record_counts_each_detail_with_what_it_suppressed)
{
	struct json_object *j = json_tokener_parse(
		"{\"pid\": 1, \"signal\": \"ILL\", \"count\": 9, \"suppressed\": 3}");
	struct errbuf err = { "" };
	struct fault g;

	cr_assert_eq(fault_from_json(j, &g, &err), 0, "%s", err.msg);
	cr_expect_eq(g.delta, 4u);
	cr_expect(g.tracked);
	json_object_put(j);
}

Test(fault, json_refuses_a_bad_file_identity)
{
	struct json_object *j = json_tokener_parse(
		"{\"pid\": 1, \"signal\": \"ILL\", \"exe_file\": {\"dev\": \"eight\", \"ino\": 1}}");
	struct errbuf err = { "" };
	struct fault g;

	cr_expect_eq(fault_from_json(j, &g, &err), -EINVAL);
	cr_expect(strstr(err.msg, "dev"), "%s", err.msg);
	json_object_put(j);
}
