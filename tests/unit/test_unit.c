// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The systemd unit: `systemd-analyze verify` accepts it without a word, every hardening
 * line carries its reason, every capability is justified, and its GLIBC_TUNABLES really
 * stops glibc from choosing anything above x86-64-v2 (asked of ld.so itself).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include "testutil.h"

#define UNIT CPUDRIFT_SRCDIR "/packaging/systemd/cpudrift.service"
#define ANALYZE "/usr/bin/systemd-analyze"
#define LDSO "/lib64/ld-linux-x86-64.so.2"

TestSuite(unit);

static char *slurp(const char *path)
{
	char *buf = tu_read_file(path);

	cr_assert(buf && *buf, "cannot read %s, or it is empty", path);
	return buf;
}

/* Output (stdout and stderr) of a shell command; *rc gets its exit status. */
static char *run(const char *cmd, int *rc)
{
	FILE *p = popen(cmd, "r");
	char *buf = NULL;
	size_t len = 0;
	int st;

	cr_assert(p);
	if (getdelim(&buf, &len, 0, p) < 0) {
		free(buf);
		buf = strdup("");
	}
	st = pclose(p);
	*rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return buf;
}

/*
 * The unit names the installed binary; verify a copy that runs the one just built, so
 * that verify also checks the binary exists.  Man pages are not checked (--man=no): the
 * unit's man page is installed by `make install`, not present in a build tree.  Any
 * output at all is a failure.
 */
Test(unit, systemd_analyze_verify_is_silent)
{
	const char *build = getenv("CPUDRIFT_BUILD");
	char tmp[] = "/tmp/cpudrift-unit-XXXXXX", path[128], cmd[512], *out;
	int rc;

	if (access(ANALYZE, X_OK))
		cr_skip_test("systemd-analyze is missing");
	cr_assert(build, "CPUDRIFT_BUILD is not set (run through make test)");
	cr_assert(mkdtemp(tmp));
	snprintf(path, sizeof(path), "%s/cpudrift.service", tmp);
	snprintf(cmd, sizeof(cmd),
		 "sed 's|^\\(Exec[A-Za-z]*\\)=/usr/local/bin/cpudrift |\\1=%s/cpudrift |' %s > %s",
		 build, UNIT, path);
	cr_assert_eq(system(cmd), 0);
	out = slurp(path);
	cr_assert(strstr(out, build), "ExecStart was not rewritten");
	free(out);
	snprintf(cmd, sizeof(cmd), "%s verify --man=no %s 2>&1", ANALYZE, path);
	out = run(cmd, &rc);
	cr_expect_eq(rc, 0, "systemd-analyze verify failed:\n%s", out);
	cr_expect_str_eq(out, "", "systemd-analyze verify said:\n%s", out);
	free(out);
	tu_rmtree(tmp);
}

static const char *const hardening[] = {
	"CapabilityBoundingSet=",
	"NoNewPrivileges=",
	"ProtectSystem=",
	"ReadWritePaths=",
	"ProtectHome=",
	"PrivateTmp=",
	"DevicePolicy=",
	"PrivateNetwork=",
	"RestrictAddressFamilies=",
	"ProtectKernelTunables=",
	"ProtectKernelModules=",
	"ProtectClock=",
	"ProtectControlGroups=",
	"ProtectHostname=",
	"RestrictNamespaces=",
	"RestrictRealtime=",
	"RestrictSUIDSGID=",
	"LockPersonality=",
	"MemoryDenyWriteExecute=",
	"SystemCallArchitectures=",
	"SystemCallFilter=",
	"SystemCallErrorNumber=",
	"UMask=",
	"KeyringMode=",
};

Test(unit, every_hardening_line_has_a_reason)
{
	char *text = slurp(UNIT);

	for (size_t i = 0; i < sizeof(hardening) / sizeof(hardening[0]); i++) {
		char needle[64];
		const char *p;

		snprintf(needle, sizeof(needle), "\n%s", hardening[i]);
		p = strstr(text, needle);
		cr_expect(p, "the unit does not set %s", hardening[i]);
		if (!p)
			continue;
		/* p is the newline ending the line above: walk to that line's start. */
		while (p > text && p[-1] != '\n')
			p--;
		cr_expect(*p == '#', "%s has no reason comment above it", hardening[i]);
	}
	free(text);
}

Test(unit, every_capability_is_justified)
{
	char *text = slurp(UNIT), *line = strstr(text, "\nCapabilityBoundingSet="), *block;
	char *tok, *save, caps[512];

	cr_assert(line);
	snprintf(caps, sizeof(caps), "%.*s", (int)strcspn(line + 23, "\n"), line + 23);
	*line = 0;
	/* The comment block directly above: back to the previous blank line. */
	block = text;
	for (char *q = text; (q = strstr(q, "\n\n")); q++)
		block = q;
	for (tok = strtok_r(caps, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		cr_expect(strstr(block, tok), "%s is not justified in the comment above it", tok);
	cr_expect(!strstr(line + 1, "CAP_SYS_ADMIN"), "CAP_SYS_ADMIN is not needed");
	free(text);
}

/* Which glibc-hwcaps levels ld.so would search, with the environment @env. */
static void hwcaps_supported(const char *env, bool out[5])
{
	char cmd[1024], *text;
	int rc;

	snprintf(cmd, sizeof(cmd), "env %s %s --help 2>&1", env, LDSO);
	text = run(cmd, &rc);
	cr_assert_eq(rc, 0, "%s", text);
	for (int v = 2; v <= 4; v++) {
		char needle[64];

		snprintf(needle, sizeof(needle), "x86-64-v%d (supported", v);
		out[v] = strstr(text, needle);
	}
	free(text);
}

Test(unit, glibc_tunables_mask_everything_above_v2)
{
	char *text = slurp(UNIT), *p = strstr(text, "\nEnvironment=GLIBC_TUNABLES="), env[1024];
	bool plain[5], masked[5];

	if (access(LDSO, X_OK))
		cr_skip_test("%s is missing", LDSO);
	cr_assert(p, "the unit does not set GLIBC_TUNABLES");
	p += strlen("\nEnvironment=");
	snprintf(env, sizeof(env), "'%.*s'", (int)strcspn(p, "\n"), p);
	hwcaps_supported("", plain);
	hwcaps_supported(env, masked);
	cr_expect(!masked[3], "x86-64-v3 still supported with %s", env);
	cr_expect(!masked[4], "x86-64-v4 still supported with %s", env);
	cr_expect_eq(masked[2], plain[2], "x86-64-v2 must stay as the CPU has it");
	if (!plain[3])
		cr_log_warn("this CPU is below x86-64-v3: the mask was not really exercised");
	free(text);
}
