// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/safefile.h"
#include "sinks/hookexec.h"
#include "sinks/sink.h"
#include "sinks/sink_hooks.h"
#include "sinks/spool.h"

extern char **environ;

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* The variables a hook gets from the event (the runner's own values are replaced). */
static const char *const event_vars[] = {
	"CPUDRIFT_KIND",    "CPUDRIFT_SEVERITY", "CPUDRIFT_SUBJECT", "CPUDRIFT_FEATURE",
	"CPUDRIFT_PID",	    "CPUDRIFT_COMM",	 "CPUDRIFT_CLASS",   "CPUDRIFT_CONFIDENCE",
	"CPUDRIFT_SUMMARY", "CPUDRIFT_TIME",	 "CPUDRIFT_BOOT_ID", "CPUDRIFT_SEQ",
	"CPUDRIFT_HOOK",
};
#define NVARS (sizeof(event_vars) / sizeof(event_vars[0]))

struct run {
	const struct hooks_opts *o;
	struct hooks_stats *st;
	struct spool_cursor cur;
	int spoolfd;
	uid_t spool_uid;
	char **env; /* inherited, then the event's variables, then CPUDRIFT_HOOK */
	size_t nenv, ninherited;
};

static bool is_event_var(const char *kv)
{
	size_t len = strcspn(kv, "=");

	for (size_t i = 0; i < NVARS; i++)
		if (strlen(event_vars[i]) == len && !strncmp(kv, event_vars[i], len))
			return true;
	return false;
}

/* The runner's environment without the event's names; PATH when it has none. */
static int inherit_env(struct run *r)
{
	size_t n = 0;
	bool path = false;

	for (char **e = environ; e && *e; e++)
		n++;
	r->env = calloc(n + NVARS + 2, sizeof(*r->env));
	if (!r->env)
		return -ENOMEM;
	for (char **e = environ; e && *e; e++) {
		if (is_event_var(*e))
			continue;
		path |= !strncmp(*e, "PATH=", 5);
		r->env[r->nenv++] = *e;
	}
	if (!path)
		r->env[r->nenv++] = DEFAULT_PATH;
	r->ninherited = r->nenv;
	return 0;
}

static void drop_event_env(struct run *r)
{
	for (size_t i = r->ninherited; i < r->nenv; i++)
		free(r->env[i]);
	r->nenv = r->ninherited;
	r->env[r->nenv] = NULL;
}

static int add_env(struct run *r, const char *name, const char *value)
{
	char *kv;

	if (asprintf(&kv, "%s=%s", name, value ? value : "") < 0)
		return -ENOMEM;
	r->env[r->nenv++] = kv;
	r->env[r->nenv] = NULL;
	return 0;
}

static int event_env(struct run *r, const struct event *e, uint64_t seq)
{
	struct json_object *o = event_to_json(e), *t = NULL;
	struct sink_fields f;
	char num[24];
	int ret = 0;

	sink_fields_get(e, &f);
	if (o)
		json_object_object_get_ex(o, "time", &t);
	snprintf(num, sizeof(num), "%" PRIu64, seq);
	ret |= add_env(r, "CPUDRIFT_KIND", f.kind);
	ret |= add_env(r, "CPUDRIFT_SEVERITY", f.severity);
	ret |= add_env(r, "CPUDRIFT_SUBJECT", e->subject);
	ret |= add_env(r, "CPUDRIFT_FEATURE", f.feature);
	ret |= add_env(r, "CPUDRIFT_PID", f.pid);
	ret |= add_env(r, "CPUDRIFT_COMM", f.comm);
	ret |= add_env(r, "CPUDRIFT_CLASS", f.class_);
	ret |= add_env(r, "CPUDRIFT_CONFIDENCE", f.confidence);
	ret |= add_env(r, "CPUDRIFT_SUMMARY", e->summary);
	ret |= add_env(r, "CPUDRIFT_TIME", t ? json_object_get_string(t) : "");
	ret |= add_env(r, "CPUDRIFT_BOOT_ID", e->boot_id);
	ret |= add_env(r, "CPUDRIFT_SEQ", num);
	json_object_put(o);
	return ret ? -ENOMEM : 0;
}

static void failed(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void failed(struct run *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->cur.last_error, sizeof(r->cur.last_error), fmt, ap);
	va_end(ap);
	r->cur.hook_failures++;
	r->st->failed++;
	log_warn("%s", r->cur.last_error);
}

/* What a hook said, for the log: the first line, and how much more there was. */
static void describe_output(const struct hook_result *res, char *buf, size_t size)
{
	size_t first = strcspn(res->out, "\n");

	*buf = 0;
	if (!res->out_total)
		return;
	snprintf(buf, size, ": %.*s%s", (int)(first < 200 ? first : 200), res->out,
		 res->out_total > first + 1 ? " [...]" : "");
	if (res->out_total > HOOK_OUTPUT_KEEP) {
		size_t len = strlen(buf);

		snprintf(buf + len, size - len, " (%" PRIu64 " bytes of output, the first %d kept)",
			 res->out_total, HOOK_OUTPUT_KEEP);
	}
}

static void judge(struct run *r, const char *name, const struct hook_result *res)
{
	char out[400];

	describe_output(res, out, sizeof(out));
	if (res->timed_out) {
		r->cur.hook_timeouts++;
		r->st->timed_out++;
		failed(r,
		       "hook %s timed out after %g s and was killed, with %u processes it left%s",
		       name, r->o->timeout_ms / 1000.0, res->leftovers, out);
		return;
	}
	if (WIFSIGNALED(res->status)) {
		failed(r, "hook %s was killed by signal %d%s", name, WTERMSIG(res->status), out);
		return;
	}
	if (WEXITSTATUS(res->status)) {
		failed(r, "hook %s failed with exit status %d%s", name, WEXITSTATUS(res->status),
		       out);
		return;
	}
	if (res->leftovers)
		log_warn("hook %s left %u processes running when it exited: killed", name,
			 res->leftovers);
	log_info("hook %s succeeded%s", name, out);
}

/* Every hook for one event.  0, or -errno when no hook could be looked at (unsafe folder). */
static int run_hooks(struct run *r, const struct event *e, const char *json, uint64_t seq)
{
	struct errbuf err = { "" };
	char **names = NULL;
	int dirfd, n, ret;

	ret = hookexec_open_dir(r->o->hooks_dir, &dirfd, &err);
	if (ret == -ENOENT)
		return 0; /* no hooks folder: nothing to run */
	if (ret) {
		snprintf(r->cur.last_error, sizeof(r->cur.last_error), "%s", err.msg);
		return ret;
	}
	n = hookexec_list(dirfd, &names);
	if (n < 0) {
		snprintf(r->cur.last_error, sizeof(r->cur.last_error),
			 "failed to list the hooks folder %s: %s", r->o->hooks_dir, strerror(-n));
		close(dirfd);
		return n;
	}
	ret = event_env(r, e, seq);
	for (int i = 0; !ret && i < n; i++) {
		struct hook_result res;
		int fd, rr;

		err.msg[0] = 0;
		rr = hookexec_open(dirfd, names[i], &fd, &err);
		if (rr == -ENOEXEC)
			continue;
		r->cur.hook_runs++;
		r->st->runs++;
		if (rr) {
			if (rr == -EPERM || rr == -ELOOP || rr == -EINVAL)
				r->st->refused++;
			failed(r, "%s", err.msg);
			continue;
		}
		if (add_env(r, "CPUDRIFT_HOOK", names[i])) {
			close(fd);
			ret = -ENOMEM;
			break;
		}
		rr = hookexec_run(fd, names[i], r->env, json, strlen(json), r->o->timeout_ms, &res,
				  &err);
		close(fd);
		free(r->env[--r->nenv]);
		r->env[r->nenv] = NULL;
		if (rr)
			failed(r, "%s", err.msg);
		else
			judge(r, names[i], &res);
	}
	drop_event_env(r);
	hookexec_list_free(names, n);
	close(dirfd);
	return ret;
}

/* One spool entry.  0 when it is done (hooks ran, or it is gone or not an event). */
static int one_entry(struct run *r, uint64_t seq, char *buf)
{
	char name[SPOOL_NAME_LEN + 1];
	struct json_object *o;
	struct event *e;
	struct stat st;
	ssize_t n;
	int ret;

	spool_entry_name(seq, name);
	n = safefile_read_at(r->spoolfd, name, buf, HOOKS_ENTRY_MAX, &st);
	if (n == -ENOENT) {
		/* The daemon dropped it to make room in a full spool. */
		r->st->skipped++;
		return 0;
	}
	if (n >= 0 && (st.st_uid != r->spool_uid || (st.st_mode & 022)))
		n = -EPERM;
	if (n < 0) {
		log_warn("spool entry %s skipped: %s", name,
			 n == -EPERM ? "not the daemon's (owner or mode)" : strerror((int)-n));
		r->st->skipped++;
		return 0;
	}
	o = json_tokener_parse(buf);
	e = o ? event_from_json(o) : NULL;
	json_object_put(o);
	if (!e) {
		log_warn("spool entry %s skipped: not an event", name);
		r->st->skipped++;
		return 0;
	}
	ret = run_hooks(r, e, buf, seq);
	event__free(e);
	return ret;
}

static int open_spool(struct run *r, struct errbuf *err)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", r->o->state_dir, SPOOL_DIR_NAME);
	r->spoolfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (r->spoolfd < 0 || fstat(r->spoolfd, &st)) {
		int e = errno;

		errbuf_set(err, "failed to open the hook spool %s: %s", path, strerror(e));
		return -e;
	}
	/* Whoever could write the spool could make the hooks say anything. */
	if (st.st_mode & 022) {
		errbuf_set(err, "the hook spool %s is writable by others (mode %04o): not read",
			   path, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	r->spool_uid = st.st_uid;
	return 0;
}

/* Runs that overlap take turns: the lock is on the cursor's own folder. */
static int lock_cursor(const char *cursor, struct errbuf *err)
{
	const char *base;
	int fd = safefile_open_parent(cursor, &base);

	if (fd < 0) {
		errbuf_set(err, "failed to open the folder of the hook cursor %s: %s", cursor,
			   strerror(-fd));
		return fd;
	}
	while (flock(fd, LOCK_EX))
		if (errno != EINTR) {
			int e = errno;

			errbuf_set(err, "failed to lock the folder of %s: %s", cursor, strerror(e));
			close(fd);
			return -e;
		}
	return fd;
}

int hooks_run_spool(const struct hooks_opts *o, struct hooks_stats *st, struct errbuf *err)
{
	struct hooks_opts opts = *o;
	struct run r = { .o = &opts, .st = st, .spoolfd = -1 };
	int lockfd = -1, ret;
	char *buf = NULL;

	memset(st, 0, sizeof(*st));
	if (!opts.timeout_ms)
		opts.timeout_ms = 10000;
	ret = hookexec_init();
	if (ret) {
		errbuf_set(err, "failed to become the hooks' subreaper: %s", strerror(-ret));
		return ret;
	}
	ret = open_spool(&r, err);
	if (!ret) {
		lockfd = lock_cursor(opts.cursor_path, err);
		ret = lockfd < 0 ? lockfd : 0;
	}
	if (!ret) {
		ret = spool_cursor_read(opts.cursor_path, &r.cur);
		if (ret == -EINVAL)
			log_warn("hook cursor %s is not a cursor file: starting from the oldest "
				 "spooled event",
				 opts.cursor_path);
		if (ret == -ENOENT || ret == -EINVAL)
			ret = 0;
		if (ret)
			errbuf_set(err, "failed to read the hook cursor %s: %s", opts.cursor_path,
				   strerror(-ret));
	}
	buf = malloc(HOOKS_ENTRY_MAX);
	if (!ret && (!buf || inherit_env(&r)))
		ret = -ENOMEM;
	/* Events spooled while this runs are taken too: the path unit may not start us again. */
	while (!ret) {
		uint64_t *seqs;
		int n = spool_list(r.spoolfd, r.cur.seq, &seqs);

		if (n <= 0) {
			if (n < 0)
				errbuf_set(err, "failed to list the hook spool: %s", strerror(-n));
			ret = n;
			break;
		}
		for (int i = 0; !ret && i < n; i++) {
			ret = one_entry(&r, seqs[i], buf);
			if (ret) {
				/* Recorded for `status` and the textfile; the cursor stays. */
				errbuf_set(err, "%s", r.cur.last_error);
				r.cur.hook_failures++;
				r.cur.time = (int64_t)time(NULL);
				if (spool_cursor_write(opts.cursor_path, &r.cur))
					log_warn("failed to write the hook cursor %s",
						 opts.cursor_path);
				break;
			}
			r.cur.seq = seqs[i];
			r.cur.events++;
			r.cur.time = (int64_t)time(NULL);
			st->events++;
			ret = spool_cursor_write(opts.cursor_path, &r.cur);
			if (ret)
				errbuf_set(err, "failed to write the hook cursor %s: %s",
					   opts.cursor_path, strerror(-ret));
		}
		free(seqs);
	}
	free(r.env);
	free(buf);
	if (lockfd >= 0)
		close(lockfd);
	if (r.spoolfd >= 0)
		close(r.spoolfd);
	if (ret)
		return ret;
	return st->failed ? 1 : 0;
}
