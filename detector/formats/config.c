// SPDX-License-Identifier: GPL-2.0-or-later
#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/signals.h"
#include "formats/config.h"
#include "core/log.h"
#include "analysis/timing.h"

enum ctype { T_UINT, T_DUR, T_SIZE, T_STR, T_PATH, T_OPTPATH, T_BOOL, T_SIGNALS, T_LEVEL };

struct keydef {
	const char *name;
	enum ctype type;
	size_t off;
	size_t size; /* of the field, for strings */
	const char *def;
	uint64_t min, max;
};

static const struct keydef keys[] = {
#define X(n, t, f, d, lo, hi) \
	{ #n, T_##t, offsetof(struct config, f), sizeof(((struct config *)0)->f), d, lo, hi },
	CONFIG_KEYS(X)
#undef X
};

#define NKEYS ((int)(sizeof(keys) / sizeof(keys[0])))

/* The signals a fault watcher can report: the ones a CPU raises for an instruction. */

static const char *const level_names[] = { "error", "warning", "info", "debug" };

int config_nkeys(void)
{
	return NKEYS;
}

const char *config_key_name(int i)
{
	return i >= 0 && i < NKEYS ? keys[i].name : NULL;
}

/* A number with an optional unit suffix; @units is a list of {suffix, factor}. */
static int parse_scaled(const char *v, const char *const *sfx, const uint64_t *mul, uint64_t *out)
{
	char *end;
	unsigned long long n;

	if (!isdigit((unsigned char)*v))
		return -EINVAL;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end) {
		int i;

		for (i = 0; sfx[i]; i++)
			if (!strcasecmp(end, sfx[i]))
				break;
		if (!sfx[i] || n > UINT64_MAX / mul[i])
			return -EINVAL;
		n *= mul[i];
	}
	*out = n;
	return 0;
}

static int set_key(struct config *c, const struct keydef *k, const char *v, const char *where,
		   struct errbuf *err)
{
	static const char *const dur_sfx[] = { "s", "m", "h", "d", NULL };
	static const uint64_t dur_mul[] = { 1, 60, 3600, 86400 };
	static const char *const size_sfx[] = { "K", "M", "G", "KiB", "MiB", "GiB", NULL };
	static const uint64_t size_mul[] = { 1ull << 10, 1ull << 20, 1ull << 30,
					     1ull << 10, 1ull << 20, 1ull << 30 };
	static const char *const no_sfx[] = { NULL };
	char *field = (char *)c + k->off;
	char badsig[64] = "";
	uint64_t n;
	int i;

	switch (k->type) {
	case T_UINT:
	case T_DUR:
	case T_SIZE:
		if (parse_scaled(v,
				 k->type == T_DUR  ? dur_sfx :
				 k->type == T_SIZE ? size_sfx :
						     no_sfx,
				 k->type == T_DUR ? dur_mul : size_mul, &n)) {
			errbuf_set(err, "%s: bad value for '%s': '%s' is not a %s", where, k->name,
				   v,
				   k->type == T_DUR  ? "duration (e.g. 30s, 5m, 1h)" :
				   k->type == T_SIZE ? "size (e.g. 512K, 64M, 1G)" :
						       "number");
			return -EINVAL;
		}
		if (n < k->min || n > k->max) {
			errbuf_set(err,
				   "%s: bad value for '%s': %s is out of range [%" PRIu64
				   ", %" PRIu64 "]",
				   where, k->name, v, k->min, k->max);
			return -EINVAL;
		}
		*(uint64_t *)field = n;
		return 0;
	case T_STR:
		if (!*v || strlen(v) >= k->size || strpbrk(v, " \t")) {
			errbuf_set(
				err,
				"%s: bad value for '%s': '%s' must be one word of 1 to %zu characters",
				where, k->name, v, k->size - 1);
			return -EINVAL;
		}
		strcpy(field, v);
		return 0;
	case T_OPTPATH:
		if (!strcmp(v, "off") || !*v) {
			*field = 0;
			return 0;
		}
		/* fall through */
	case T_PATH:
		if (v[0] != '/' || strlen(v) >= k->size) {
			errbuf_set(err, "%s: bad value for '%s': '%s' is not an absolute path%s",
				   where, k->name, v, k->type == T_OPTPATH ? " or 'off'" : "");
			return -EINVAL;
		}
		strcpy(field, v);
		return 0;
	case T_BOOL:
		if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
			*(bool *)field = true;
		else if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false") ||
			 !strcmp(v, "0"))
			*(bool *)field = false;
		else {
			errbuf_set(err, "%s: bad value for '%s': '%s' is not on or off", where,
				   k->name, v);
			return -EINVAL;
		}
		return 0;
	case T_SIGNALS:
		if (signals_parse(v, (uint64_t *)field, badsig, sizeof(badsig))) {
			errbuf_set(
				err,
				"%s: bad value for '%s': '%s' is not a list of SIGILL, SIGSEGV, SIGBUS, SIGFPE, SIGTRAP",
				where, k->name, badsig[0] ? badsig : v);
			return -EINVAL;
		}
		return 0;
	case T_LEVEL:
		for (i = 0; i < 4; i++)
			if (!strcmp(v, level_names[i])) {
				*(int *)field = i;
				return 0;
			}
		errbuf_set(err, "%s: bad value for '%s': '%s' is not error, warning, info or debug",
			   where, k->name, v);
		return -EINVAL;
	}
	return -EINVAL;
}

static const struct keydef *find_key(const char *name)
{
	for (int i = 0; i < NKEYS; i++)
		if (!strcmp(keys[i].name, name))
			return &keys[i];
	return NULL;
}

static const struct {
	const char *name, *why;
} retired[] = {
#define X(n, why) { #n, why },
	CONFIG_RETIRED_KEYS(X)
#undef X
};

int config_set(struct config *c, const char *key, const char *value, const char *where,
	       struct errbuf *err)
{
	const struct keydef *k = find_key(key);

	for (size_t i = 0; !k && i < sizeof(retired) / sizeof(retired[0]); i++)
		if (!strcmp(key, retired[i].name)) {
			log_warn("%s: '%s' is no longer used (%s): ignored", where, key,
				 retired[i].why);
			return 0;
		}
	if (!k) {
		errbuf_set(err, "%s: unknown key '%s'", where, key);
		return -EINVAL;
	}
	return set_key(c, k, value, where, err);
}

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < NKEYS; i++) {
		/* A default that does not parse is our bug. */
		if (set_key(c, &keys[i], keys[i].def, "built-in default", NULL))
			abort();
	}
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

int config_load(struct config *c, const char *path, bool missing_ok, struct errbuf *err)
{
	char line[4096], where[PATH_MAX + 32];
	unsigned lineno = 0;
	int r = 0;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		if (r == -ENOENT && missing_ok)
			return 0;
		errbuf_set(err, "%s: cannot read the configuration: %s", path, strerror(-r));
		return r;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s, *eq, *key, *val;

		lineno++;
		snprintf(where, sizeof(where), "%s:%u", path, lineno);
		if (!strchr(line, '\n') && !feof(f)) {
			errbuf_set(err, "%s: line too long", where);
			r = -EINVAL;
			break;
		}
		s = trim(line);
		if (!*s || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			errbuf_set(err, "%s: expected 'key = value', got '%s'", where, s);
			r = -EINVAL;
			break;
		}
		*eq = 0;
		key = trim(s);
		val = trim(eq + 1);
		/* Trailing comments are allowed after whitespace; values never contain " #". */
		for (char *h = val; (h = strchr(h, '#')); h++)
			if (h == val || isspace((unsigned char)h[-1])) {
				*h = 0;
				val = trim(val);
				break;
			}
		if (!*key) {
			errbuf_set(err, "%s: missing key before '='", where);
			r = -EINVAL;
			break;
		}
		r = config_set(c, key, val, where, err);
		if (r)
			break;
	}
	if (!r && ferror(f)) {
		r = -EIO;
		errbuf_set(err, "%s: read error", path);
	}
	fclose(f);
	if (!r)
		snprintf(c->path, sizeof(c->path), "%s", path);
	return r;
}

static void write_value(const struct config *c, const struct keydef *k, FILE *f)
{
	const char *field = (const char *)c + k->off;
	char sigs[96];

	switch (k->type) {
	case T_UINT:
	case T_DUR:
	case T_SIZE:
		fprintf(f, "%" PRIu64, *(const uint64_t *)field);
		break;
	case T_STR:
	case T_PATH:
		fputs(field, f);
		break;
	case T_OPTPATH:
		fputs(*field ? field : "off", f);
		break;
	case T_BOOL:
		fputs(*(const bool *)field ? "on" : "off", f);
		break;
	case T_SIGNALS:
		signals_format(*(const uint64_t *)field, sigs, sizeof(sigs));
		fputs(sigs, f);
		break;
	case T_LEVEL:
		fputs(level_names[*(const int *)field & 3], f);
		break;
	}
}

void config_write(const struct config *c, FILE *f)
{
	for (int i = 0; i < NKEYS; i++) {
		fprintf(f, "%s = ", keys[i].name);
		write_value(c, &keys[i], f);
		fputc('\n', f);
	}
}

int config_diff(const struct config *a, const struct config *b, char *buf, size_t size)
{
	size_t used = 0;
	int n = 0;

	if (size)
		*buf = 0;
	for (int i = 0; i < NKEYS; i++) {
		const struct keydef *k = &keys[i];
		const char *x = (const char *)a + k->off, *y = (const char *)b + k->off;
		bool same = k->type == T_STR || k->type == T_PATH || k->type == T_OPTPATH ?
				    !strcmp(x, y) :
				    !memcmp(x, y, k->size);

		if (same)
			continue;
		n++;
		if (used < size) {
			int w = snprintf(buf + used, size - used, "%s%s", used ? ", " : "",
					 k->name);

			used += w > 0 ? (size_t)w : 0;
		}
	}
	return n;
}

int config_peek_state_dir(const char *path, char *out, size_t size)
{
	struct config c;
	char line[4096];
	FILE *f;

	config_defaults(&c);
	snprintf(out, size, "%s", c.state_dir);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fgets(line, sizeof(line), f)) {
		char *s = trim(line), *eq = strchr(s, '='), *val;

		if (*s == '#' || !eq)
			continue;
		*eq = 0;
		if (strcmp(trim(s), "state_dir"))
			continue;
		val = trim(eq + 1);
		val[strcspn(val, " \t#")] = 0;
		if (!set_key(&c, find_key("state_dir"), val, "", NULL))
			snprintf(out, size, "%s", c.state_dir);
	}
	fclose(f);
	return 0;
}

void config_timing(const struct config *c, struct timing_thresholds *t)
{
	timing_thresholds_default(t);
	t->stall_ns = (int64_t)c->stall_threshold_us * 1000;
	t->stall_group_ns = (int64_t)c->stall_group_us * 1000;
	t->clock_step_ns = (int64_t)c->clock_step_ms * 1000000;
	t->hostclock_ns = (int64_t)c->hostclock_step_ms * 1000000;
	t->tsc_ppm = (int64_t)c->tsc_rate_ppm;
	t->tsc_window = (int)c->tsc_window;
	t->steal_permille = (int64_t)c->steal_permille;
	t->steal_factor = (int)c->steal_factor;
	t->cpuid_lat_pct = (int)c->cpuid_latency_pct;
	t->cpuid_lat_min_ns = (int64_t)c->cpuid_latency_min_ns;
}

const char *config_state_dir_given(const char *state_dir)
{
	const char *env = getenv(CONFIG_STATE_DIR_ENV);

	if (state_dir)
		return state_dir;
	return env && *env ? env : NULL;
}

int config_state_dir(const char *state_dir, const char *config_path, char *out, size_t size,
		     struct errbuf *err)
{
	struct config c;
	int r;

	state_dir = config_state_dir_given(state_dir);
	if (state_dir) {
		snprintf(out, size, "%s", state_dir);
		return 0;
	}
	config_defaults(&c);
	r = config_load(&c, config_path ? config_path : CONFIG_DEFAULT_PATH, !config_path, err);
	if (r == -EINVAL) {
		/*
		 * A reader needs only state_dir: a configuration the daemon would refuse (a typo,
		 * an edit in progress) must not keep people from their evidence.  Said, not fatal.
		 */
		log_warn("%s; reading the store its state_dir names anyway", err->msg);
		return config_peek_state_dir(config_path ? config_path : CONFIG_DEFAULT_PATH, out,
					     size);
	}
	if (r)
		return r;
	snprintf(out, size, "%s", c.state_dir);
	return 0;
}
