// SPDX-License-Identifier: GPL-2.0-or-later
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/safefile.h"
#include "sinks/spool.h"

#define CURSOR_MAX_BYTES 4096
#define DROP_LOG_EVERY_MS 60000

const char *const spool_drop_names[SPOOL_DROP__COUNT] = {
#define X(id, name, desc) [SPOOL_DROP_##id] = name,
	SPOOL_DROPS(X)
#undef X
};

struct spool {
	char path[PATH_MAX];
	char cursor_path[PATH_MAX];
	char hooks_dir[PATH_MAX];
	unsigned max_events;
	unsigned rate_per_min;
	int dirfd;

	double tokens;
	int64_t refill_ms;
	int64_t last_drop_log_ms;
	uint64_t drops_logged;
	/* what the last maintenance saw, to tell a runner that was never started again */
	uint64_t seen_cursor;
	uint64_t seen_pending;
	bool warned_ahead;
	struct spool_stats st;
};

/* --- the cursor file ----------------------------------------------------------------------- */

/* Digits only, no sign, no blanks, not above SPOOL_SEQ_MAX: the file is someone else's. */
static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > SPOOL_SEQ_MAX / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v > SPOOL_SEQ_MAX)
		return -EINVAL;
	*out = v;
	return 0;
}

int spool_cursor_read(const char *path, struct spool_cursor *c)
{
	char buf[CURSOR_MAX_BYTES], *save = NULL;
	bool have_seq = false;
	ssize_t n;

	memset(c, 0, sizeof(*c));
	n = safefile_read_at(AT_FDCWD, path, buf, sizeof(buf), NULL);
	if (n == -ENOENT)
		return -ENOENT;
	if (n == -ELOOP || n == -EFBIG)
		return -EINVAL;
	if (n < 0)
		return (int)n;
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(l, ' ');
		uint64_t x;

		if (!v)
			continue;
		*v++ = 0;
		if (!strcmp(l, "last_error")) {
			size_t i = 0;

			/* Printed by `status` and logged: nothing but printable ASCII. */
			for (; v[i] && i < sizeof(c->last_error) - 1; i++)
				c->last_error[i] = v[i] >= 0x20 && v[i] < 0x7f ? v[i] : '?';
			c->last_error[i] = 0;
			continue;
		}
		if (parse_u64(v, &x))
			continue;
		if (!strcmp(l, "seq")) {
			c->seq = x;
			have_seq = true;
		} else if (!strcmp(l, "events")) {
			c->events = x;
		} else if (!strcmp(l, "hook_runs")) {
			c->hook_runs = x;
		} else if (!strcmp(l, "hook_failures")) {
			c->hook_failures = x;
		} else if (!strcmp(l, "hook_timeouts")) {
			c->hook_timeouts = x;
		} else if (!strcmp(l, "time")) {
			c->time = (int64_t)x;
		}
	}
	return have_seq ? 0 : -EINVAL;
}

int spool_cursor_write(const char *path, const struct spool_cursor *c)
{
	char buf[CURSOR_MAX_BYTES], err[sizeof(c->last_error)];
	size_t i = 0;
	int n;

	for (; c->last_error[i] && i < sizeof(err) - 1; i++)
		err[i] = c->last_error[i] >= 0x20 && c->last_error[i] < 0x7f ? c->last_error[i] :
									       '?';
	err[i] = 0;
	n = snprintf(
		buf, sizeof(buf),
		"# cpudrift hooks run: the last spool entry it processed, and its counters\n"
		"seq %" PRIu64 "\nevents %" PRIu64 "\nhook_runs %" PRIu64 "\nhook_failures %" PRIu64
		"\nhook_timeouts %" PRIu64 "\ntime %" PRId64 "\nlast_error %s\n",
		c->seq, c->events, c->hook_runs, c->hook_failures, c->hook_timeouts, c->time, err);
	return safefile_write(path, buf, (size_t)n, 0644, SAFEFILE_SYNC_DIR);
}

/* --- names --------------------------------------------------------------------------------- */

void spool_entry_name(uint64_t seq, char *buf)
{
	snprintf(buf, SPOOL_NAME_LEN + 1, "%020" PRIu64 ".json", seq);
}

uint64_t spool_entry_seq(const char *name)
{
	char digits[21];
	uint64_t v;

	if (strlen(name) != SPOOL_NAME_LEN || strcmp(name + 20, ".json"))
		return 0;
	memcpy(digits, name, 20);
	digits[20] = 0;
	return parse_u64(digits, &v) ? 0 : v;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int spool_list(int dirfd, uint64_t after, uint64_t **seqs)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t n = 0, cap = 0;
	uint64_t *v = NULL;
	struct dirent *de;
	DIR *d;

	*seqs = NULL;
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		uint64_t s = spool_entry_seq(de->d_name);

		if (!s || s <= after)
			continue;
		if (n == cap) {
			uint64_t *nv = realloc(v, (cap ? cap * 2 : 64) * sizeof(*v));

			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
			cap = cap ? cap * 2 : 64;
		}
		v[n++] = s;
	}
	closedir(d);
	if (n > INT32_MAX) {
		free(v);
		return -E2BIG;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_u64);
	*seqs = v;
	return (int)n;
}

/* --- the daemon's side --------------------------------------------------------------------- */

void spool_set_opts(struct spool *sp, const struct spool_opts *o)
{
	snprintf(sp->cursor_path, sizeof(sp->cursor_path), "%s", o->cursor_path ?: "");
	snprintf(sp->hooks_dir, sizeof(sp->hooks_dir), "%s", o->hooks_dir ?: "");
	sp->max_events = o->max_events ?: 1000;
	if (sp->rate_per_min != o->rate_per_min)
		sp->tokens = o->rate_per_min;
	sp->rate_per_min = o->rate_per_min;
}

static void unlink_entry(struct spool *sp, uint64_t seq)
{
	char name[SPOOL_NAME_LEN + 1];

	spool_entry_name(seq, name);
	if (unlinkat(sp->dirfd, name, 0) && errno != ENOENT)
		log_warn("failed to delete %s/%s: %s", sp->path, name, strerror(errno));
}

/* Read the cursor and delete what the runner is done with. */
static void collect(struct spool *sp)
{
	struct spool_cursor c;
	uint64_t upto;
	int r = sp->cursor_path[0] ? spool_cursor_read(sp->cursor_path, &c) : -ENOENT;

	sp->st.cursor_err = r;
	if (r) {
		sp->st.pending = sp->st.next - sp->st.first;
		return;
	}
	sp->st.cursor = c;
	if (c.seq >= sp->st.next) {
		/* A cursor from a spool that was wiped (or a runner that lies): number past it,
		 * or the new events would look processed to the runner. */
		if (!sp->warned_ahead)
			log_warn("hook cursor %s says %" PRIu64
				 ", past the spool's last entry %" PRIu64
				 ": numbering continues after it",
				 sp->cursor_path, c.seq, sp->st.next - 1);
		sp->warned_ahead = true;
		sp->st.next = c.seq + 1;
	}
	upto = c.seq;
	for (; sp->st.first <= upto && sp->st.first < sp->st.next; sp->st.first++)
		unlink_entry(sp, sp->st.first);
	if (sp->st.first <= upto)
		sp->st.first = upto + 1;
	sp->st.pending = sp->st.next - sp->st.first;
}

/* Entries past the cursor: the newest is touched (IN_ATTRIB), which starts the path unit. */
static void kick(struct spool *sp)
{
	char name[SPOOL_NAME_LEN + 1];

	spool_entry_name(sp->st.next - 1, name);
	if (utimensat(sp->dirfd, name, NULL, AT_SYMLINK_NOFOLLOW))
		log_debug("failed to touch %s/%s: %s", sp->path, name, strerror(errno));
	else
		log_debug("%" PRIu64 " spooled events wait for the hook runner: touched %s",
			  sp->st.pending, name);
}

void spool_maintain(struct spool *sp)
{
	collect(sp);
	if (sp->st.pending && sp->seen_pending && sp->st.cursor.seq == sp->seen_cursor)
		kick(sp);
	sp->seen_pending = sp->st.pending;
	sp->seen_cursor = sp->st.cursor.seq;
}

/* safefile.h's temporary name for an entry: "." ENTRY "." 16 hex digits. */
static bool is_temp(const char *name)
{
	char entry[SPOOL_NAME_LEN + 1];

	if (name[0] != '.' || strlen(name) != SPOOL_NAME_LEN + 18 ||
	    name[SPOOL_NAME_LEN + 1] != '.')
		return false;
	memcpy(entry, name + 1, SPOOL_NAME_LEN);
	entry[SPOOL_NAME_LEN] = 0;
	return spool_entry_seq(entry) != 0;
}

/* The numbers in use; leftovers of a write that never finished (a kill -9 between the
 * temporary file and the rename) are deleted. */
static int scan(struct spool *sp)
{
	int fd = openat(sp->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	uint64_t lo = 0, hi = 0;
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		uint64_t s = spool_entry_seq(de->d_name);

		if (s) {
			lo = !lo || s < lo ? s : lo;
			hi = s > hi ? s : hi;
		} else if (is_temp(de->d_name)) {
			unlinkat(sp->dirfd, de->d_name, 0);
		}
	}
	closedir(d);
	sp->st.first = lo ? lo : hi + 1;
	sp->st.next = hi + 1;
	return 0;
}

int spool__new(struct spool **out, const struct spool_opts *o, struct errbuf *err)
{
	struct spool *sp = calloc(1, sizeof(*sp));
	struct stat st;
	int r;

	*out = NULL;
	if (!sp)
		return -ENOMEM;
	sp->dirfd = -1;
	snprintf(sp->path, sizeof(sp->path), "%s/%s", o->state_dir, SPOOL_DIR_NAME);
	spool_set_opts(sp, o);
	sp->tokens = sp->rate_per_min;
	sp->refill_ms = clock_mono_ns() / NSEC_PER_MSEC;
	if (mkdir(sp->path, 0750) && errno != EEXIST) {
		r = -errno;
		errbuf_set(err, "failed to create the hook spool %s: %s", sp->path,
			   strerror(errno));
		goto fail;
	}
	sp->dirfd = open(sp->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sp->dirfd < 0 || fstat(sp->dirfd, &st)) {
		r = -errno;
		errbuf_set(err, "failed to open the hook spool %s: %s", sp->path, strerror(errno));
		goto fail;
	}
	if (st.st_uid != geteuid()) {
		r = -EPERM;
		errbuf_set(err, "the hook spool %s belongs to uid %u, not to this daemon (uid %u)",
			   sp->path, (unsigned)st.st_uid, (unsigned)geteuid());
		goto fail;
	}
	/* Group (adm, under the unit) reads, nobody else writes, whatever the umask was. */
	if ((st.st_mode & 07777) != 0750 && fchmod(sp->dirfd, 0750))
		log_warn("failed to set mode 0750 on %s: %s", sp->path, strerror(errno));
	r = scan(sp);
	if (r) {
		errbuf_set(err, "failed to read the hook spool %s: %s", sp->path, strerror(-r));
		goto fail;
	}
	spool_maintain(sp);
	*out = sp;
	return 0;
fail:
	spool__free(sp);
	return r;
}

void spool__free(struct spool *sp)
{
	if (!sp)
		return;
	if (sp->dirfd >= 0)
		close(sp->dirfd);
	free(sp);
}

static void drop(struct spool *sp, enum spool_drop why, uint64_t n)
{
	int64_t now = clock_mono_ns() / NSEC_PER_MSEC;
	const uint64_t *d = sp->st.dropped;

	sp->st.dropped[why] += n;
	/* The first drop at once, then at most one line a minute. */
	if (sp->drops_logged && now - sp->last_drop_log_ms < DROP_LOG_EVERY_MS)
		return;
	sp->last_drop_log_ms = now;
	sp->drops_logged++;
	log_warn("hook spool %s: events not handed to hooks so far: %" PRIu64 " past the rate "
		 "limit (%u a minute), %" PRIu64 " dropped from a full spool (%u events), %" PRIu64
		 " not written",
		 sp->path, d[SPOOL_DROP_RATE], sp->rate_per_min, d[SPOOL_DROP_FULL], sp->max_events,
		 d[SPOOL_DROP_ERROR]);
}

/* Token bucket: rate_per_min tokens, refilled continuously. */
static bool rate_ok(struct spool *sp)
{
	int64_t now = clock_mono_ns() / NSEC_PER_MSEC;

	if (!sp->rate_per_min)
		return true;
	sp->tokens += (double)(now - sp->refill_ms) * sp->rate_per_min / 60000.0;
	if (sp->tokens > sp->rate_per_min)
		sp->tokens = sp->rate_per_min;
	sp->refill_ms = now;
	if (sp->tokens < 1)
		return false;
	sp->tokens -= 1;
	return true;
}

int spool_add(struct spool *sp, const struct event *e)
{
	char name[SPOOL_NAME_LEN + 1];
	struct json_object *o;
	struct stat st;
	const char *json;
	int r;

	if (!sp->hooks_dir[0] || stat(sp->hooks_dir, &st))
		return 0;
	if (!rate_ok(sp)) {
		drop(sp, SPOOL_DROP_RATE, 1);
		return 0;
	}
	if (sp->st.next - sp->st.first >= sp->max_events)
		collect(sp);
	/* Full with unprocessed entries: the oldest make room for the newest. */
	while (sp->st.next - sp->st.first >= sp->max_events) {
		unlink_entry(sp, sp->st.first++);
		drop(sp, SPOOL_DROP_FULL, 1);
	}
	o = event_to_json(e);
	if (!o) {
		drop(sp, SPOOL_DROP_ERROR, 1);
		return -ENOMEM;
	}
	json = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	spool_entry_name(sp->st.next, name);
	r = safefile_write_at(sp->dirfd, name, json, strlen(json), 0640, SAFEFILE_SYNC_DIR);
	json_object_put(o);
	if (r) {
		log_warn("failed to write %s/%s: %s", sp->path, name, strerror(-r));
		drop(sp, SPOOL_DROP_ERROR, 1);
		return r;
	}
	sp->st.next++;
	sp->st.spooled++;
	sp->st.pending++;
	return 1;
}

void spool_get_stats(const struct spool *sp, struct spool_stats *st)
{
	*st = sp->st;
}

const char *spool_path(const struct spool *sp)
{
	return sp->path;
}
