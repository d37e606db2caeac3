// SPDX-License-Identifier: GPL-2.0-or-later
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

char *tu_read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	if (getdelim(&buf, &len, 0, f) < 0) {
		free(buf);
		buf = strdup("");
	}
	fclose(f);
	return buf;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void tu_rmtree(const char *dir)
{
	if (dir && dir[0] && nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS))
		cr_log_warn("could not remove %s", dir);
}

const char *tu_build(const char *rel)
{
	static char buf[8][512];
	static int k;
	const char *b = getenv("CPUDRIFT_BUILD");

	k = (k + 1) % 8;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", b ? b : CPUDRIFT_SRCDIR "/build", rel);
	return buf[k];
}
