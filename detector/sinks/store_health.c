// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's store when writes fail (a full disk, an I/O error): the failure is logged
 * when it starts and when it ends, counted, and written into the lock file in place (so
 * `cpudrift status` sees it although the database cannot be written); what a failed write
 * held waits in memory, bounded, and store_retry() writes it, in order, once the disk has
 * room again.  Events past the bound are dropped but still counted in the event counters,
 * so counters stay exact; fault counts are kept exactly (one sum per class and feature).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "sinks/store.h"
#include "sinks/store_priv.h"

/* The lock file holds the pid and the health, rewritten in place: always this many bytes. */
#define HEALTH_SIZE 1024

struct pending_event {
	int kind, sev;
	char *json;
	size_t len;
};

struct pending_fault {
	char class_[48];
	char feature[64];
	int64_t n;
};

/* Writes not in the database yet, in order (events) or summed (fault counts). */
struct queue {
	struct pending_event *ev;
	size_t nev, capev, bytes;
	struct pending_fault *fc;
	size_t nfc, capfc;
};

struct store_pending {
	struct queue wait; /* failed: written by store_retry */
	struct queue batch; /* written in the open batch: kept until it commits */
	uint64_t dropped; /* events past the bound, since open */
	int64_t dropped_counts[EV__COUNT][SEV_CRITICAL + 1]; /* not yet in the counters */
};

static struct store_pending *pending(struct store *s)
{
	if (!s->pending)
		s->pending = calloc(1, sizeof(*s->pending));
	return s->pending;
}

static void queue_clear(struct queue *q)
{
	for (size_t i = 0; i < q->nev; i++)
		free(q->ev[i].json);
	free(q->ev);
	free(q->fc);
	memset(q, 0, sizeof(*q));
}

void store_pending_free(struct store *s)
{
	if (!s->pending)
		return;
	queue_clear(&s->pending->wait);
	queue_clear(&s->pending->batch);
	free(s->pending);
	s->pending = NULL;
}

static bool waiting(struct store *s)
{
	return s->pending && (s->pending->wait.nev || s->pending->wait.nfc);
}

/* Add an event to @q; the wait queue is bounded: past it, the event only counts. */
static void queue_event(struct store_pending *p, struct queue *q, int kind, int sev,
			const char *json)
{
	size_t len = strlen(json);
	struct pending_event *v;

	if (q == &p->wait &&
	    (q->nev >= STORE_PENDING_EVENTS || q->bytes + len > STORE_PENDING_BYTES))
		goto drop;
	if (q->nev == q->capev) {
		size_t cap = q->capev ? 2 * q->capev : 16;

		v = realloc(q->ev, cap * sizeof(*v));
		if (!v)
			goto drop;
		q->ev = v;
		q->capev = cap;
	}
	v = &q->ev[q->nev];
	v->json = strdup(json);
	if (!v->json)
		goto drop;
	v->kind = kind;
	v->sev = sev;
	v->len = len;
	q->nev++;
	q->bytes += len;
	return;
drop:
	p->dropped++;
	p->dropped_counts[kind][sev]++;
}

/* Fault counts are sums: one entry per (class, feature), at most one per feature and class. */
static int queue_fault(struct queue *q, const char *class_, const char *feature, int64_t n)
{
	struct pending_fault *f;

	for (size_t i = 0; i < q->nfc; i++)
		if (!strcmp(q->fc[i].class_, class_) && !strcmp(q->fc[i].feature, feature)) {
			q->fc[i].n += n;
			return 0;
		}
	if (q->nfc == q->capfc) {
		size_t cap = q->capfc ? 2 * q->capfc : 8;

		f = realloc(q->fc, cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		q->fc = f;
		q->capfc = cap;
	}
	f = &q->fc[q->nfc++];
	snprintf(f->class_, sizeof(f->class_), "%s", class_);
	snprintf(f->feature, sizeof(f->feature), "%s", feature);
	f->n = n;
	return 0;
}

/* Move everything of @from to the end of @to (events in order, fault counts summed). */
static void queue_move(struct store_pending *p, struct queue *from, struct queue *to)
{
	for (size_t i = 0; i < from->nev; i++)
		queue_event(p, to, from->ev[i].kind, from->ev[i].sev, from->ev[i].json);
	for (size_t i = 0; i < from->nfc; i++)
		if (queue_fault(to, from->fc[i].class_, from->fc[i].feature, from->fc[i].n))
			log_err("out of memory: %lld faults of class %s are not counted",
				(long long)from->fc[i].n, from->fc[i].class_);
	queue_clear(from);
}

bool store_waiting(struct store *s)
{
	return s->daemon && waiting(s);
}

void store_keep_event(struct store *s, const struct event *e, const char *json, bool batch)
{
	struct store_pending *p;

	if (!s->daemon || (unsigned)e->kind >= EV__COUNT || (unsigned)e->sev > SEV_CRITICAL)
		return;
	p = pending(s);
	if (p)
		queue_event(p, batch ? &p->batch : &p->wait, e->kind, e->sev, json);
	else
		log_err("out of memory: a %s event is lost", event_kind_names[e->kind]);
}

void store_keep_fault(struct store *s, const char *class_, const char *feature, int64_t n,
		      bool batch)
{
	struct store_pending *p;

	if (!s->daemon)
		return;
	p = pending(s);
	if (!p || queue_fault(batch ? &p->batch : &p->wait, class_, feature ? feature : "", n))
		log_err("out of memory: %lld faults of class %s are not counted", (long long)n,
			class_);
}

void store_batch_done(struct store *s, int r)
{
	struct store_pending *p = s->pending;

	if (!p)
		return;
	if (r)
		queue_move(p, &p->batch, &p->wait);
	else
		queue_clear(&p->batch);
}

/* --- health -------------------------------------------------------------------------------- */

const char *store_health_state(const struct store_health *h)
{
	if (!h->online)
		return h->err == -EROFS || h->err == -EACCES || h->err == -EPERM ? "read-only" :
										   "offline";
	if (!h->err)
		return "ok";
	if (h->err == -ENOSPC || h->err == -EDQUOT)
		return "full";
	if (h->err == -EROFS || h->err == -EACCES)
		return "read-only";
	return "error";
}

void store_health(struct store *s, struct store_health *h)
{
	memset(h, 0, sizeof(*h));
	h->online = s->db != NULL;
	h->err = s->werr;
	snprintf(h->why, sizeof(h->why), "%s", s->why);
	h->errors = s->errors;
	h->failing_since_ns = s->failing_since_ns;
	if (s->pending) {
		h->pending = s->pending->wait.nev;
		h->dropped = s->pending->dropped;
	}
}

void store_publish(struct store *s)
{
	struct store_health h;
	char buf[HEALTH_SIZE];
	int n;

	if (s->lock_fd < 0)
		return;
	store_health(s, &h);
	memset(buf, ' ', sizeof(buf));
	n = snprintf(buf, sizeof(buf),
		     "%d\nstore=%s\nerr=%d\nerrors=%llu\npending=%llu\ndropped=%llu\nsince=%lld\n"
		     "why=%.300s\n",
		     (int)getpid(), store_health_state(&h), -h.err, (unsigned long long)h.errors,
		     (unsigned long long)h.pending, (unsigned long long)h.dropped,
		     (long long)h.failing_since_ns, h.why);
	if (n > 0 && n < (int)sizeof(buf))
		buf[n] = ' ';
	buf[sizeof(buf) - 1] = '\n';
	/* In place, over bytes written at start: a full disk cannot refuse it. */
	if (pwrite(s->lock_fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
		log_debug("failed to write the store's health to its lock file: %s",
			  strerror(errno));
}

int store_health_read(const char *state_dir, struct store_health *h)
{
	char path[PATH_MAX], buf[HEALTH_SIZE + 1], *save = NULL;
	ssize_t n;
	int fd;

	memset(h, 0, sizeof(*h));
	snprintf(path, sizeof(path), "%s/%s", state_dir, STORE_LOCK_NAME);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, buf, HEALTH_SIZE, 0);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	if (!strstr(buf, "\nstore="))
		return -ENOENT;
	h->online = true;
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(l, '=');
		size_t len;

		if (!v)
			continue;
		*v++ = 0;
		len = strlen(v);
		while (len && v[len - 1] == ' ')
			v[--len] = 0;
		if (!strcmp(l, "store"))
			h->online = strcmp(v, "offline") && strcmp(v, "read-only");
		else if (!strcmp(l, "err"))
			h->err = -abs(atoi(v));
		else if (!strcmp(l, "errors"))
			h->errors = strtoull(v, NULL, 10);
		else if (!strcmp(l, "pending"))
			h->pending = strtoull(v, NULL, 10);
		else if (!strcmp(l, "dropped"))
			h->dropped = strtoull(v, NULL, 10);
		else if (!strcmp(l, "since"))
			h->failing_since_ns = strtoll(v, NULL, 10);
		else if (!strcmp(l, "why"))
			snprintf(h->why, sizeof(h->why), "%s", v);
	}
	return 0;
}

void store_note_write(struct store *s, int r)
{
	if (!s->daemon)
		return;
	if (!r) {
		/* What failed still waits: only store_retry, which writes it, ends the failure. */
		if (!s->werr || waiting(s))
			return;
		log_warn("the evidence store %s is written again (%llu writes failed since %llds "
			 "ago)",
			 s->path, (unsigned long long)s->errors,
			 (long long)((clock_real_ns() - s->failing_since_ns) / NSEC_PER_SEC));
		s->werr = 0;
		s->why[0] = 0;
		s->failing_since_ns = 0;
		store_publish(s);
		return;
	}
	/* A caller's own refusal (no such snapshot, a bad argument) is no failure to write. */
	if (r == -ENOENT || r == -EINVAL)
		return;
	s->errors++;
	if (r == s->werr)
		return;
	if (!s->werr)
		s->failing_since_ns = clock_real_ns();
	s->werr = r;
	snprintf(s->why, sizeof(s->why), "%s", s->db ? sqlite3_errmsg(s->db) : strerror(-r));
	log_err("the evidence store %s cannot be written: %s (%s); up to %d events wait in "
		"memory and are written when it can be again; the journal, the textfile and the "
		"hooks still get every event",
		s->path, r == -ENOSPC ? "it is full" : strerror(-r), s->why, STORE_PENDING_EVENTS);
	store_publish(s);
}

/* --- writing what waited ------------------------------------------------------------------- */

static int write_counts(struct store *s, int64_t counts[EV__COUNT][SEV_CRITICAL + 1])
{
	for (int k = 0; k < EV__COUNT; k++)
		for (int v = 0; v <= SEV_CRITICAL; v++) {
			sqlite3_stmt *st;
			int r;

			if (!counts[k][v])
				continue;
			st = store_prep(
				s,
				"INSERT INTO event_counters VALUES (?, ?, ?) ON CONFLICT"
				" (kind, severity) DO UPDATE SET count = count + excluded.count");
			if (st) {
				sqlite3_bind_text(st, 1, event_kind_names[k], -1, SQLITE_STATIC);
				sqlite3_bind_text(st, 2, severity_name(v), -1, SQLITE_STATIC);
				sqlite3_bind_int64(st, 3, counts[k][v]);
			}
			r = store_run(s, st, "count dropped events");
			if (r)
				return r;
		}
	return 0;
}

static int write_waiting(struct store *s)
{
	struct store_pending *p = s->pending;
	struct queue *q = &p->wait;
	int r = 0;

	for (size_t i = 0; !r && i < q->nev; i++) {
		struct json_object *o = json_tokener_parse(q->ev[i].json);
		struct event *e = event_from_json(o);

		json_object_put(o);
		if (!e) {
			log_err("an event kept in memory no longer reads: dropped, still counted");
			p->dropped_counts[q->ev[i].kind][q->ev[i].sev]++;
			continue;
		}
		r = store_insert_event(s, e, q->ev[i].json);
		event__free(e);
	}
	for (size_t i = 0; !r && i < q->nfc; i++)
		r = store_insert_fault(s, q->fc[i].class_, q->fc[i].feature, q->fc[i].n);
	if (!r)
		r = write_counts(s, p->dropped_counts);
	return r;
}

int store_retry(struct store *s, bool force)
{
	int64_t now = clock_mono_ns();
	size_t nev;
	int r;

	if (!s->daemon || !s->db || s->in_tx || (!waiting(s) && !s->werr))
		return 0;
	if (!force && now - s->last_retry_mono < STORE_RETRY_NS)
		return s->werr ? s->werr : -EAGAIN;
	s->last_retry_mono = now;
	if (!waiting(s)) {
		/* Nothing waits, but the last write failed: a small write tells whether it works. */
		char buf[24];

		snprintf(buf, sizeof(buf), "%lld", (long long)(clock_real_ns() / NSEC_PER_SEC));
		return store_set_status(s, "store_checked", buf);
	}
	nev = s->pending->wait.nev;
	r = store_exec(s, "BEGIN IMMEDIATE", "begin a transaction");
	if (!r)
		r = write_waiting(s);
	if (!r)
		r = store_exec(s, "COMMIT", "commit");
	if (r) {
		if (s->db && !sqlite3_get_autocommit(s->db))
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		store_note_write(s, r);
		store_publish(s);
		return r;
	}
	log_info("wrote the %zu events that waited in memory (%llu dropped since start, still "
		 "counted)",
		 nev, (unsigned long long)s->pending->dropped);
	queue_clear(&s->pending->wait);
	memset(s->pending->dropped_counts, 0, sizeof(s->pending->dropped_counts));
	store_note_write(s, 0);
	store_publish(s);
	return 0;
}
