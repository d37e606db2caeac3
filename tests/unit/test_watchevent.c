// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fault watcher's own events, from hand-made records and counters: watcher.forged
 * names who sent (never a feature), watcher.loss who filled a catch-all, each at most
 * once per period and only when its counter moved.
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "analysis/watchevent.h"
#include "core/clock.h"

TestSuite(watchevent);

static struct forged_signal forgery(int pid, const char *comm)
{
	struct forged_signal s = { .sender_pid = pid,
				   .sender_tid = pid,
				   .sender_uid = 65534,
				   .target_pid = pid,
				   .target_tid = pid,
				   .sig = 4,
				   .si_code = 2,
				   .reason = "inside-a-syscall" };

	snprintf(s.sender_comm, sizeof(s.sender_comm), "%s", comm);
	snprintf(s.target_comm, sizeof(s.target_comm), "%s", comm);
	return s;
}

static bool mentions_a_feature(struct json_object *o)
{
	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v)
		{
			if (strstr(k, "feature") || mentions_a_feature(v))
				return true;
		}
	} else if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			if (mentions_a_feature(json_object_array_get_idx(o, i)))
				return true;
	}
	return false;
}

static int64_t body_int(const struct event *e, const char *key)
{
	struct json_object *v;

	cr_assert(json_object_object_get_ex(e->body, key, &v), "no \"%s\"", key);
	return json_object_get_int64(v);
}

Test(watchevent, forged_signals_name_their_sender_once_a_period)
{
	struct watchevent *w = watchevent__new(NULL);
	struct watcher_counts c = { 0 };
	struct forged_signal s = forgery(4242, "forge");
	struct evlist out = { 0 };
	struct json_object *senders, *first, *v;

	cr_assert_not_null(w);
	/* Nothing forged, nothing said. */
	cr_assert_eq(watchevent_tick(w, &c, 0, &out), 0);
	cr_expect_eq(out.n, 0);
	watchevent_forged(w, &s);
	watchevent_forged(w, &s);
	c.forged = 2;
	cr_assert_eq(watchevent_tick(w, &c, NSEC_PER_SEC, &out), 0);
	cr_assert_eq(out.n, 1);
	cr_expect_eq(out.v[0]->kind, EV_WATCHER_FORGED);
	cr_expect_eq(out.v[0]->pid, 4242);
	cr_expect_str_eq(out.v[0]->subject, "forge");
	cr_expect_eq(body_int(out.v[0], "forged"), 2);
	cr_assert(json_object_object_get_ex(out.v[0]->body, "senders", &senders));
	cr_assert_eq(json_object_array_length(senders), 1);
	first = json_object_array_get_idx(senders, 0);
	cr_assert(json_object_object_get_ex(first, "uid", &v));
	cr_expect_eq(json_object_get_int(v), 65534);
	cr_assert(json_object_object_get_ex(first, "records", &v));
	cr_expect_eq(json_object_get_int(v), 2);
	cr_expect_not(mentions_a_feature(out.v[0]->body), "%s",
		      json_object_to_json_string(out.v[0]->body));
	evlist_free(&out);
	/* More within the period: held back; after it, one event with what came since. */
	c.forged = 7;
	cr_assert_eq(watchevent_tick(w, &c, 5 * NSEC_PER_SEC, &out), 0);
	cr_expect_eq(out.n, 0);
	cr_assert_eq(watchevent_tick(w, &c, 12 * NSEC_PER_SEC, &out), 0);
	cr_assert_eq(out.n, 1);
	cr_expect_eq(body_int(out.v[0], "forged"), 5);
	evlist_free(&out);
	watchevent__free(w);
}

Test(watchevent, a_flood_of_senders_is_bounded)
{
	struct watchevent *w = watchevent__new(NULL);
	struct watcher_counts c = { .forged = 100 };
	struct evlist out = { 0 };
	struct json_object *senders;

	for (int i = 0; i < 100; i++) {
		struct forged_signal s = forgery(1000 + i, "f");

		watchevent_forged(w, &s);
	}
	cr_assert_eq(watchevent_tick(w, &c, 0, &out), 0);
	cr_assert_eq(out.n, 1);
	cr_assert(json_object_object_get_ex(out.v[0]->body, "senders", &senders));
	cr_expect_eq(json_object_array_length(senders), WATCHEVENT_MAX_NAMED);
	cr_expect_eq(body_int(out.v[0], "senders_omitted"), 100 - WATCHEVENT_MAX_NAMED);
	evlist_free(&out);
	watchevent__free(w);
}

Test(watchevent, loss_names_the_process_that_filled_its_catch_all)
{
	struct watchevent *w = watchevent__new(NULL);
	struct watcher_counts c = { .untracked = 19936, .drops = 3 };
	struct fault spray = {
		.pid = 77, .comm = "spray", .kind = FAULT_UNTRACKED, .delta = 19900
	};
	struct fault other = { .pid = 78, .comm = "other", .kind = FAULT_UNTRACKED, .delta = 36 };
	struct evlist out = { 0 };

	watchevent_untracked(w, &other);
	watchevent_untracked(w, &spray);
	cr_assert_eq(watchevent_tick(w, &c, 0, &out), 0);
	cr_assert_eq(out.n, 1);
	cr_expect_eq(out.v[0]->kind, EV_WATCHER_LOSS);
	cr_expect_eq(out.v[0]->pid, 77);
	cr_expect_eq(body_int(out.v[0], "untracked"), 19936);
	cr_expect_eq(body_int(out.v[0], "drops"), 3);
	cr_expect(strstr(out.v[0]->summary, "spray"), "%s", out.v[0]->summary);
	evlist_free(&out);
	/* Nothing new: nothing more, however long it waits. */
	cr_assert_eq(watchevent_tick(w, &c, 600 * NSEC_PER_SEC, &out), 0);
	cr_expect_eq(out.n, 0);
	watchevent__free(w);
}
