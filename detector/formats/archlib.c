// SPDX-License-Identifier: GPL-2.0-or-later
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include "core/log.h"
#include "formats/archlib.h"

static struct archlib lib;
static bool loaded;
static char why[300];

static void load(void)
{
	void *h = dlopen(ARCHLIB_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		snprintf(why, sizeof(why), "%s", dlerror());
		return;
	}
#define X(f)                                                                   \
	lib.f = (__typeof__(f) *)dlsym(h, #f);                                 \
	if (!lib.f) {                                                          \
		snprintf(why, sizeof(why), "%s lacks %s", ARCHLIB_SONAME, #f); \
		return;                                                        \
	}
	ARCHLIB_FUNCS(X)
#undef X
	loaded = true;
}

const struct archlib *archlib_get(struct errbuf *err)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, load);
	if (!loaded) {
		errbuf_set(err, "evidence bundles need libarchive (Debian: libarchive13): %s", why);
		return NULL;
	}
	return &lib;
}
