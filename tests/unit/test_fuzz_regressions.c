// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Every input the fuzzers found crashing (tests/fixtures/fuzz/<target>/), replayed through
 * the fuzz target's own entry point (tests/fuzz/), so that the fixed parser stays fixed and
 * the checks the target makes still hold.  Under `make SAN=1 test` AddressSanitizer and
 * UBSan watch the replay too.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "../fuzz/fuzz.h"

#define REGRESSIONS CPUDRIFT_SRCDIR "/tests/fixtures/fuzz"

struct regression {
	char *target;
	char *path;
};

static char *cr_strdup(const char *s)
{
	char *d = cr_malloc(strlen(s) + 1);

	return strcpy(d, s);
}

static void free_params(struct criterion_test_params *p)
{
	struct regression *v = p->params;

	for (size_t i = 0; i < p->length; i++) {
		cr_free(v[i].target);
		cr_free(v[i].path);
	}
	cr_free(v);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int visible_entry(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* The folders of tests/fixtures/fuzz (its README is not one). */
static int target_folder(const struct dirent *d)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", REGRESSIONS, d->d_name);
	return visible_entry(d) && !stat(path, &st) && S_ISDIR(st.st_mode);
}

/* The parameters live in Criterion's shared memory (cr_malloc), which cannot grow: count
 * the files first, then fill. */
static size_t walk(struct regression *v)
{
	struct dirent **targets = NULL;
	size_t n = 0;
	int nt = scandir(REGRESSIONS, &targets, target_folder, by_name);

	for (int i = 0; i < nt; i++) {
		struct dirent **files = NULL;
		char dir[512];
		int nf;

		snprintf(dir, sizeof(dir), "%s/%s", REGRESSIONS, targets[i]->d_name);
		nf = scandir(dir, &files, visible_entry, by_name);
		for (int j = 0; j < nf; j++) {
			char path[1024];

			snprintf(path, sizeof(path), "%s/%s", dir, files[j]->d_name);
			if (v) {
				v[n].target = cr_strdup(targets[i]->d_name);
				v[n].path = cr_strdup(path);
			}
			n++;
			free(files[j]);
		}
		free(files);
		free(targets[i]);
	}
	free(targets);
	return n;
}

ParameterizedTestParameters(fuzz_regressions, replay)
{
	size_t n = walk(NULL);
	struct regression *v = cr_malloc((n ? n : 1) * sizeof(*v));

	walk(v);
	return cr_make_param_array(struct regression, v, n, free_params);
}

ParameterizedTest(struct regression *r, fuzz_regressions, replay)
{
	fuzz_fn fn = fuzz_lookup(r->target);
	uint8_t *data;
	struct stat st;
	FILE *f;

	cr_log_info("%s", r->path);
	cr_assert_not_null(fn, "%s: no fuzz target called %s (tests/fuzz/fuzz_%s.c)", r->path,
			   r->target, r->target);
	f = fopen(r->path, "rb");
	cr_assert_not_null(f, "%s: %s", r->path, strerror(errno));
	cr_assert_eq(fstat(fileno(f), &st), 0);
	/* Exactly the input's size, as libFuzzer gives it: a read past it is caught. */
	data = malloc(st.st_size ? st.st_size : 1);
	cr_assert_not_null(data);
	cr_assert_eq(fread(data, 1, st.st_size, f), (size_t)st.st_size);
	fclose(f);
	fuzz_init();
	cr_assert_eq(fn(data, st.st_size), 0, "%s", r->path);
	free(data);
}

/* A folder of regressions whose target was renamed would otherwise replay nothing. */
Test(fuzz_regressions, every_folder_names_a_target)
{
	struct dirent **targets = NULL;
	int nt = scandir(REGRESSIONS, &targets, target_folder, by_name);

	cr_assert_geq(nt, 1, "%s: no regression folder", REGRESSIONS);
	for (int i = 0; i < nt; i++) {
		cr_expect_not_null(fuzz_lookup(targets[i]->d_name),
				   "%s/%s: no fuzz target of that name", REGRESSIONS,
				   targets[i]->d_name);
		free(targets[i]);
	}
	free(targets);
}

/* A target file left out of the Makefile's FUZZ_TARGETS would never be fuzzed (nor linked here). */
Test(fuzz_regressions, every_target_file_is_in_the_fuzz_list)
{
	struct dirent **files = NULL;
	int nf = scandir(CPUDRIFT_SRCDIR "/tests/fuzz", &files, visible_entry, by_name), n = 0;

	for (int i = 0; i < nf; i++) {
		const char *name = files[i]->d_name;
		size_t len = strlen(name);
		char target[256];

		if (!strncmp(name, "fuzz_", 5) && len > 7 && !strcmp(name + len - 2, ".c")) {
			snprintf(target, sizeof(target), "%.*s", (int)(len - 7), name + 5);
			cr_expect_not_null(fuzz_lookup(target),
					   "tests/fuzz/%s is not in the Makefile's FUZZ_TARGETS",
					   name);
			n++;
		}
		free(files[i]);
	}
	free(files);
	cr_assert_gt(n, 0, "no tests/fuzz/fuzz_*.c found");
}
