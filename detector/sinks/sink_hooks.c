// SPDX-License-Identifier: GPL-2.0-or-later
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "sinks/sink.h"
#include "sinks/sink_hooks.h"

#define HOOK_ENV_MAX 16

struct child {
	pid_t pid;
	int outfd;
	int64_t deadline_ms;
	bool killed;
	char name[256];
};

struct hooks {
	char dir[4096];
	bool switch_user;
	uid_t uid;
	gid_t gid;
	unsigned timeout_ms;
	unsigned rate_per_min;
	unsigned max_running;
	double tokens;
	int64_t refill_ms;
	int64_t last_drop_log_ms;
	int nrunning;
	struct child *kids;
	struct hooks_stats st;
	char last_error[256];
};

static void fail(struct hooks *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct hooks *h, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->last_error, sizeof(h->last_error), fmt, ap);
	va_end(ap);
	h->st.failed++;
	log_warn("%s", h->last_error);
}

int hooks__new(struct hooks **out, const struct hooks_opts *o, struct errbuf *err)
{
	struct hooks *h = calloc(1, sizeof(*h));

	*out = NULL;
	if (!h)
		return -ENOMEM;
	snprintf(h->dir, sizeof(h->dir), "%s", o->dir);
	h->timeout_ms = o->timeout_ms ? o->timeout_ms : 10000;
	h->rate_per_min = o->rate_per_min;
	h->max_running = o->max_running ? o->max_running : 16;
	h->tokens = h->rate_per_min;
	h->refill_ms = (clock_mono_ns() / NSEC_PER_MSEC);
	h->kids = calloc(h->max_running, sizeof(*h->kids));
	if (!h->kids) {
		free(h);
		return -ENOMEM;
	}
	if (geteuid() == 0) {
		/* Resolved now: getpwnam is not safe to call between fork and exec. */
		struct passwd *pw = o->user ? getpwnam(o->user) : NULL;

		if (!pw) {
			errbuf_set(err, "hook user '%s' does not exist", o->user ? o->user : "");
			hooks__free(h);
			return -EINVAL;
		}
		h->switch_user = true;
		h->uid = pw->pw_uid;
		h->gid = pw->pw_gid;
	}
	*out = h;
	return 0;
}

void hooks__free(struct hooks *h)
{
	if (!h)
		return;
	for (unsigned i = 0; i < h->max_running; i++) {
		struct child *c = &h->kids[i];

		if (!c->pid)
			continue;
		kill(-c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		close(c->outfd);
	}
	free(h->kids);
	free(h);
}

int hooks_running(const struct hooks *h)
{
	return h->nrunning;
}

void hooks_get_stats(const struct hooks *h, struct hooks_stats *st)
{
	*st = h->st;
}

const char *hooks_last_error(const struct hooks *h)
{
	return h->last_error;
}

/* Token bucket: rate_per_min tokens, refilled continuously. */
static bool rate_ok(struct hooks *h)
{
	int64_t now = (clock_mono_ns() / NSEC_PER_MSEC);

	if (!h->rate_per_min)
		return true;
	h->tokens += (double)(now - h->refill_ms) * h->rate_per_min / 60000.0;
	if (h->tokens > h->rate_per_min)
		h->tokens = h->rate_per_min;
	h->refill_ms = now;
	if (h->tokens >= 1) {
		h->tokens -= 1;
		return true;
	}
	h->st.dropped++;
	if (now - h->last_drop_log_ms >= 60000) {
		h->last_drop_log_ms = now;
		log_warn("hook rate limit (%u a minute) reached: events are not handed to hooks "
			 "(%llu dropped so far)",
			 h->rate_per_min, (unsigned long long)h->st.dropped);
	}
	return false;
}

static int make_env(const struct event *e, char **env, char *buf, size_t size)
{
	struct json_object *o = event_to_json(e);
	struct json_object *t = NULL;
	const char *tunables = getenv("GLIBC_TUNABLES");
	struct sink_fields f;
	size_t used = 0;
	int n = 0;

	sink_fields_get(e, &f);
	if (o)
		json_object_object_get_ex(o, "time", &t);
#define ENV(name, val)                                                          \
	do {                                                                    \
		int w = snprintf(buf + used, size - used, "%s=%s", name, val);  \
		if (w < 0 || (size_t)w >= size - used || n == HOOK_ENV_MAX - 1) \
			goto full;                                              \
		env[n++] = buf + used;                                          \
		used += w + 1;                                                  \
	} while (0)
	ENV("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	/* A hook may start right after a migration: the same glibc masking keeps it alive. */
	if (tunables)
		ENV("GLIBC_TUNABLES", tunables);
	ENV("CPUDRIFT_KIND", f.kind);
	ENV("CPUDRIFT_SEVERITY", f.severity);
	ENV("CPUDRIFT_SUBJECT", e->subject);
	ENV("CPUDRIFT_FEATURE", f.feature);
	ENV("CPUDRIFT_PID", f.pid);
	ENV("CPUDRIFT_COMM", f.comm);
	ENV("CPUDRIFT_CLASS", f.class_);
	ENV("CPUDRIFT_CONFIDENCE", f.confidence);
	ENV("CPUDRIFT_SUMMARY", e->summary);
	ENV("CPUDRIFT_TIME", t ? json_object_get_string(t) : "");
	ENV("CPUDRIFT_BOOT_ID", e->boot_id);
#undef ENV
full:
	env[n] = NULL;
	json_object_put(o);
	return n;
}

static int memfd_with(const char *name, const char *data)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	size_t len = data ? strlen(data) : 0, off = 0;

	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0) {
			close(fd);
			return -errno;
		}
		off += w;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* In the child: only async-signal-safe calls until exec. */
static void __attribute__((noreturn))
exec_hook(const struct hooks *h, const char *path, int infd, int outfd, char **env)
{
	sigset_t none;
	char *argv[] = { (char *)path, NULL };

	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	if (dup2(infd, 0) < 0 || dup2(outfd, 1) < 0 || dup2(outfd, 2) < 0)
		_exit(126);
	close_range(3, ~0U, 0);
	if (chdir("/"))
		_exit(126);
	if (h->switch_user &&
	    (setgroups(1, &h->gid) || setgid(h->gid) || setuid(h->uid) || setuid(0) == 0))
		_exit(126);
	execve(path, argv, env);
	_exit(127);
}

static int start_one(struct hooks *h, const char *name, const char *json, char **env)
{
	char path[4096 + 256];
	struct child *c = NULL;
	int infd, outfd;
	pid_t pid;

	for (unsigned i = 0; i < h->max_running; i++)
		if (!h->kids[i].pid) {
			c = &h->kids[i];
			break;
		}
	if (!c) {
		fail(h, "hook %s not started: %u hooks are still running", name, h->max_running);
		return -EBUSY;
	}
	snprintf(path, sizeof(path), "%s/%s", h->dir, name);
	infd = memfd_with("cpudrift-hook-in", json);
	if (infd < 0) {
		fail(h, "failed to start hook %s: %s", name, strerror(-infd));
		return infd;
	}
	outfd = memfd_with("cpudrift-hook-out", NULL);
	if (outfd < 0) {
		close(infd);
		fail(h, "failed to start hook %s: %s", name, strerror(-outfd));
		return outfd;
	}
	pid = fork();
	if (pid == 0)
		exec_hook(h, path, infd, outfd, env);
	close(infd);
	if (pid < 0) {
		close(outfd);
		fail(h, "failed to start hook %s: %s", name, strerror(errno));
		return -errno;
	}
	/* Also from the parent, so that a kill of the group cannot race the child's setpgid. */
	setpgid(pid, pid);
	c->pid = pid;
	c->outfd = outfd;
	c->killed = false;
	c->deadline_ms = (clock_mono_ns() / NSEC_PER_MSEC) + h->timeout_ms;
	snprintf(c->name, sizeof(c->name), "%s", name);
	h->nrunning++;
	h->st.started++;
	return 0;
}

static int hook_filter(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

int hooks_run(struct hooks *h, const struct event *e)
{
	char envbuf[4096], *env[HOOK_ENV_MAX];
	struct json_object *o;
	struct dirent **names;
	const char *json;
	int n, started = 0;

	if (!h->dir[0])
		return 0;
	n = scandir(h->dir, &names, hook_filter, alphasort);
	if (n < 0)
		return errno == ENOENT ? 0 : -errno;
	if (n == 0 || !rate_ok(h)) {
		for (int i = 0; i < n; i++)
			free(names[i]);
		free(names);
		return 0;
	}
	o = event_to_json(e);
	json = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : "{}";
	make_env(e, env, envbuf, sizeof(envbuf));
	for (int i = 0; i < n; i++) {
		char path[4096 + 256];
		struct stat sb;

		snprintf(path, sizeof(path), "%s/%s", h->dir, names[i]->d_name);
		if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && (sb.st_mode & 0111)) {
			/* Anyone who can edit a hook run by root could act as the hook user. */
			if (sb.st_mode & 0002)
				fail(h, "hook %s is world-writable: not run", names[i]->d_name);
			else if (start_one(h, names[i]->d_name, json, env) == 0)
				started++;
		}
		free(names[i]);
	}
	free(names);
	json_object_put(o);
	return started;
}

static void report_exit(struct hooks *h, struct child *c, int status)
{
	char out[200] = "";
	ssize_t n;

	if (c->killed) {
		h->st.timed_out++;
		fail(h, "hook %s timed out after %u ms and was killed", c->name, h->timeout_ms);
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	n = pread(c->outfd, out, sizeof(out) - 1, 0);
	out[n > 0 ? n : 0] = 0;
	out[strcspn(out, "\n")] = 0;
	if (WIFEXITED(status))
		fail(h, "hook %s failed with exit status %d%s%s", c->name, WEXITSTATUS(status),
		     *out ? ": " : "", out);
	else
		fail(h, "hook %s was killed by signal %d%s%s", c->name, WTERMSIG(status),
		     *out ? ": " : "", out);
}

int hooks_poll(struct hooks *h)
{
	int64_t now = (clock_mono_ns() / NSEC_PER_MSEC), next = -1;

	for (unsigned i = 0; i < h->max_running; i++) {
		struct child *c = &h->kids[i];
		int status;
		pid_t r;

		if (!c->pid)
			continue;
		r = waitpid(c->pid, &status, WNOHANG);
		if (r == c->pid || (r < 0 && errno == ECHILD)) {
			if (r == c->pid)
				report_exit(h, c, status);
			close(c->outfd);
			c->pid = 0;
			h->nrunning--;
			continue;
		}
		if (now >= c->deadline_ms && !c->killed) {
			kill(-c->pid, SIGKILL);
			c->killed = true;
			/* Reaped at the next poll, on SIGCHLD; look again soon in case it was missed. */
			c->deadline_ms = now + 100;
		}
		if (next < 0 || c->deadline_ms - now < next)
			next = c->deadline_ms > now ? c->deadline_ms - now : 0;
	}
	return (int)next;
}
