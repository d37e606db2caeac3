// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/watchevent.h"
#include "core/clock.h"
#include "core/signals.h"

struct sender {
	unsigned uid;
	int pid, tid, target_pid;
	char comm[16], target_comm[16];
	int sig, si_code;
	const char *reason;
	uint64_t records;
};

struct loser {
	int pid;
	char comm[16];
	uint64_t untracked;
};

struct watchevent {
	struct watchevent_opts o;
	/* forged signals since the last watcher.forged */
	struct sender senders[WATCHEVENT_MAX_NAMED];
	size_t nsenders, senders_omitted;
	uint64_t forged_reported; /* the kernel's forged counter at the last event */
	int64_t forged_at; /* when the last one was raised; INT64_MIN: never */
	/* losses since the last watcher.loss */
	struct loser losers[WATCHEVENT_MAX_NAMED];
	size_t nlosers, losers_omitted;
	uint64_t untracked_reported, drops_reported;
	int64_t loss_at;
};

struct watchevent *watchevent__new(const struct watchevent_opts *o)
{
	struct watchevent *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	if (o)
		w->o = *o;
	if (!w->o.forged_period_ns)
		w->o.forged_period_ns = 10 * NSEC_PER_SEC;
	if (!w->o.loss_period_ns)
		w->o.loss_period_ns = 60 * NSEC_PER_SEC;
	w->forged_at = w->loss_at = INT64_MIN;
	return w;
}

void watchevent__free(struct watchevent *w)
{
	free(w);
}

void watchevent_forged(struct watchevent *w, const struct forged_signal *s)
{
	struct sender *d = NULL;

	for (size_t i = 0; i < w->nsenders && !d; i++)
		if (w->senders[i].uid == s->sender_uid && w->senders[i].pid == s->sender_pid &&
		    !strcmp(w->senders[i].comm, s->sender_comm))
			d = &w->senders[i];
	if (!d && w->nsenders == WATCHEVENT_MAX_NAMED) {
		w->senders_omitted++;
		return;
	}
	if (!d) {
		d = &w->senders[w->nsenders++];
		d->uid = s->sender_uid;
		d->pid = s->sender_pid;
		snprintf(d->comm, sizeof(d->comm), "%s", s->sender_comm);
	}
	/* The latest signal of a sender says the most about what it tries now. */
	d->tid = s->sender_tid;
	d->target_pid = s->target_pid;
	snprintf(d->target_comm, sizeof(d->target_comm), "%s", s->target_comm);
	d->sig = s->sig;
	d->si_code = s->si_code;
	d->reason = s->reason;
	d->records++;
}

void watchevent_untracked(struct watchevent *w, const struct fault *f)
{
	struct loser *l = NULL;

	for (size_t i = 0; i < w->nlosers && !l; i++)
		if (w->losers[i].pid == f->pid && !strcmp(w->losers[i].comm, f->comm))
			l = &w->losers[i];
	if (!l && w->nlosers == WATCHEVENT_MAX_NAMED) {
		/* Keep the biggest: replace the smallest when this one is bigger. */
		size_t min = 0;

		for (size_t i = 1; i < w->nlosers; i++)
			if (w->losers[i].untracked < w->losers[min].untracked)
				min = i;
		w->losers_omitted++;
		if (w->losers[min].untracked >= f->delta)
			return;
		l = &w->losers[min];
		memset(l, 0, sizeof(*l));
	}
	if (!l)
		l = &w->losers[w->nlosers++];
	l->pid = f->pid;
	snprintf(l->comm, sizeof(l->comm), "%s", f->comm);
	l->untracked += f->delta;
}

static struct json_object *signal_json(int sig)
{
	const char *name = signals_name(sig);

	return name ? json_object_new_string(name) : json_object_new_int(sig);
}

static int forged_event(struct watchevent *w, const struct watcher_counts *c, struct evlist *out)
{
	struct event *e = event__new(EV_WATCHER_FORGED, SEV_WARNING);
	struct json_object *a;
	const struct sender *first = w->nsenders ? &w->senders[0] : NULL;
	uint64_t n = c->forged - w->forged_reported;

	if (!e)
		return -ENOMEM;
	a = json_object_new_array();
	for (size_t i = 0; i < w->nsenders; i++) {
		const struct sender *d = &w->senders[i];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "uid", json_object_new_int64(d->uid));
		json_object_object_add(o, "pid", json_object_new_int(d->pid));
		json_object_object_add(o, "tid", json_object_new_int(d->tid));
		json_object_object_add(o, "comm", json_object_new_string(d->comm));
		json_object_object_add(o, "target_pid", json_object_new_int(d->target_pid));
		json_object_object_add(o, "target_comm", json_object_new_string(d->target_comm));
		json_object_object_add(o, "signal", signal_json(d->sig));
		json_object_object_add(o, "si_code", json_object_new_int(d->si_code));
		json_object_object_add(o, "reason", json_object_new_string(d->reason));
		json_object_object_add(o, "records", json_object_new_int64((int64_t)d->records));
		json_object_array_add(a, o);
	}
	json_object_object_add(e->body, "forged", json_object_new_int64((int64_t)n));
	json_object_object_add(e->body, "forged_total", json_object_new_int64((int64_t)c->forged));
	json_object_object_add(e->body, "senders", a);
	json_object_object_add(e->body, "senders_omitted",
			       json_object_new_int64((int64_t)w->senders_omitted));
	if (first) {
		snprintf(e->subject, sizeof(e->subject), "%s", first->comm);
		e->pid = first->pid;
		snprintf(e->summary, sizeof(e->summary),
			 "%" PRIu64 " signal%s not raised by the CPU refused as evidence; first "
			 "from uid %u pid %d (%s) to pid %d: %s",
			 n, n == 1 ? "" : "s", first->uid, first->pid, first->comm,
			 first->target_pid, first->reason);
	} else {
		snprintf(e->subject, sizeof(e->subject), "forged");
		snprintf(e->summary, sizeof(e->summary),
			 "%" PRIu64 " signal%s not raised by the CPU refused as evidence", n,
			 n == 1 ? "" : "s");
	}
	w->forged_reported = c->forged;
	w->nsenders = 0;
	w->senders_omitted = 0;
	return evlist_push(out, e);
}

static int loss_event(struct watchevent *w, const struct watcher_counts *c, struct evlist *out)
{
	struct event *e = event__new(EV_WATCHER_LOSS, SEV_WARNING);
	uint64_t untracked = c->untracked - w->untracked_reported;
	uint64_t drops = c->drops - w->drops_reported;
	const struct loser *top = NULL;
	struct json_object *a;
	char who[64] = "";

	if (!e)
		return -ENOMEM;
	a = json_object_new_array();
	for (size_t i = 0; i < w->nlosers; i++) {
		const struct loser *l = &w->losers[i];
		struct json_object *o = json_object_new_object();

		if (!top || l->untracked > top->untracked)
			top = l;
		json_object_object_add(o, "pid", json_object_new_int(l->pid));
		json_object_object_add(o, "comm", json_object_new_string(l->comm));
		json_object_object_add(o, "untracked",
				       json_object_new_int64((int64_t)l->untracked));
		json_object_array_add(a, o);
	}
	json_object_object_add(e->body, "untracked", json_object_new_int64((int64_t)untracked));
	json_object_object_add(e->body, "drops", json_object_new_int64((int64_t)drops));
	json_object_object_add(e->body, "untracked_total",
			       json_object_new_int64((int64_t)c->untracked));
	json_object_object_add(e->body, "drops_total", json_object_new_int64((int64_t)c->drops));
	json_object_object_add(e->body, "processes", a);
	json_object_object_add(e->body, "processes_omitted",
			       json_object_new_int64((int64_t)w->losers_omitted));
	snprintf(e->subject, sizeof(e->subject), "%s", top ? top->comm : "watcher");
	e->pid = top ? top->pid : 0;
	if (top)
		snprintf(who, sizeof(who), "; most from pid %d (%s)", top->pid, top->comm);
	snprintf(e->summary, sizeof(e->summary),
		 "fault watcher: %" PRIu64 " fault%s untracked, %" PRIu64
		 " record%s dropped; counts stay exact%s",
		 untracked, untracked == 1 ? "" : "s", drops, drops == 1 ? "" : "s", who);
	w->untracked_reported = c->untracked;
	w->drops_reported = c->drops;
	w->nlosers = 0;
	w->losers_omitted = 0;
	return evlist_push(out, e);
}

int watchevent_tick(struct watchevent *w, const struct watcher_counts *c, int64_t mono_ns,
		    struct evlist *out)
{
	int ret = 0;

	if (c->forged > w->forged_reported &&
	    (w->forged_at == INT64_MIN || mono_ns - w->forged_at >= w->o.forged_period_ns)) {
		w->forged_at = mono_ns;
		ret = forged_event(w, c, out);
	}
	if (!ret && (c->untracked > w->untracked_reported || c->drops > w->drops_reported) &&
	    (w->loss_at == INT64_MIN || mono_ns - w->loss_at >= w->o.loss_period_ns)) {
		w->loss_at = mono_ns;
		ret = loss_event(w, c, out);
	}
	return ret;
}
