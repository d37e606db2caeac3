// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The configuration file (formats/config.c), read from a real file as the daemon reads it:
 * a refusal names the file, and what is accepted writes back (config_write) as a file that
 * reads back to the same configuration.
 */
#include <errno.h>
#include <string.h>

#include "core/log.h"
#include "formats/config.h"
#include "fuzz.h"

/* Keys compare by their type (config.h's table): strings up to their NUL. */
#define SAME_UINT(x, y) ((x) == (y))
#define SAME_DUR SAME_UINT
#define SAME_SIZE SAME_UINT
#define SAME_BOOL SAME_UINT
#define SAME_SIGNALS SAME_UINT
#define SAME_LEVEL SAME_UINT
#define SAME_STR(x, y) (!strcmp(x, y))
#define SAME_PATH SAME_STR
#define SAME_OPTPATH SAME_STR

static const char *differs(const struct config *a, const struct config *b)
{
#define X(n, t, f, d, lo, hi)      \
	if (!SAME_##t(a->f, b->f)) \
		return #n;
	CONFIG_KEYS(X)
#undef X
	return NULL;
}

FUZZ_TARGET(config)
{
	const char *path = fuzz_file(data, size);
	struct config *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	struct errbuf err = { "" };
	char *buf = NULL, prefix[80];
	size_t len = 0;
	FILE *f;
	int ret;

	FUZZ_CHECK(a && b, "out of memory");
	config_defaults(a);
	ret = config_load(a, path, false, &err);
	snprintf(prefix, sizeof(prefix), "%s:", path);
	fuzz_check_error(ret, &err, prefix);
	if (!ret) {
		f = open_memstream(&buf, &len);
		FUZZ_CHECK(f, "open_memstream: %s", strerror(errno));
		config_write(a, f);
		fclose(f);
		path = fuzz_file((const uint8_t *)buf, len);
		config_defaults(b);
		ret = config_load(b, path, false, &err);
		FUZZ_CHECK(!ret, "config_write wrote what config_load refuses: %s", err.msg);
		FUZZ_CHECK(!differs(a, b), "config_write wrote another '%s'", differs(a, b));
		free(buf);
	}
	free(a);
	free(b);
	return 0;
}
