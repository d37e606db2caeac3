// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/evidence.h"

struct evidence {
	bool have_cpuid, have_shadow;
	struct observation cpuid, shadow;
};

struct evidence *evidence__new(void)
{
	return calloc(1, sizeof(struct evidence));
}

void evidence__free(struct evidence *ev)
{
	free(ev);
}

bool evidence_class_is_migration(const char *fault_class)
{
	return !strcmp(fault_class, "feature-lost") ||
	       !strcmp(fault_class, "advertised-but-faulting");
}

static void body_i64(struct event *e, const char *k, int64_t v)
{
	json_object_object_add(e->body, k, json_object_new_int64(v));
}

static void body_str(struct event *e, const char *k, const char *v)
{
	json_object_object_add(e->body, k, json_object_new_string(v));
}

static int cpuid_feed(struct evidence *t, const struct observation *o, struct evlist *out)
{
	struct featset gone, added;
	bool ident;
	struct event *e;

	if (!t->have_cpuid) {
		t->have_cpuid = true;
		t->cpuid = *o;
		return 0;
	}
	featset_minus(&gone, &t->cpuid.feats, &o->feats);
	featset_minus(&added, &o->feats, &t->cpuid.feats);
	ident = strcmp(t->cpuid.text, o->text) != 0;
	if (!featset_count(&gone) && !featset_count(&added) && !ident) {
		t->cpuid = *o;
		return 0;
	}
	e = observe_event(o, EV_CPUID_DRIFT, featset_count(&gone) ? SEV_CRITICAL : SEV_WARNING,
			  "cpuid", "CPUID changed: %d features removed, %d added%s",
			  featset_count(&gone), featset_count(&added),
			  ident ? ", identity changed" : "");
	if (e) {
		json_object_object_add(e->body, "removed", featset_to_json(&gone));
		json_object_object_add(e->body, "added", featset_to_json(&added));
		body_str(e, "identity_before", t->cpuid.text);
		body_str(e, "identity_after", o->text);
		body_i64(e, "level_before", t->cpuid.cpuid.level);
		body_i64(e, "level_after", o->cpuid.level);
	}
	t->cpuid = *o;
	return evlist_push(out, e);
}

static int shadow_feed(struct evidence *t, const struct observation *o, struct evlist *out)
{
	struct featset gone, added;
	struct event *e;

	if (!t->have_shadow || featset_equal(&t->shadow.feats, &o->feats)) {
		t->have_shadow = true;
		t->shadow = *o;
		return 0;
	}
	featset_minus(&gone, &t->shadow.feats, &o->feats);
	featset_minus(&added, &o->feats, &t->shadow.feats);
	e = observe_event(o, EV_PROBE_SHADOW_DRIFT, SEV_WARNING, "shadow",
			  "the masked-but-executable set changed: %d lost, %d gained",
			  featset_count(&gone), featset_count(&added));
	if (e) {
		json_object_object_add(e->body, "lost", featset_to_json(&gone));
		json_object_object_add(e->body, "gained", featset_to_json(&added));
	}
	t->shadow = *o;
	return evlist_push(out, e);
}

static int fault_feed(const struct observation *o, struct evlist *out)
{
	bool migr = evidence_class_is_migration(o->text);
	struct event *e;

	e = observe_event(o, EV_FAULT_SIGILL, migr ? SEV_CRITICAL : SEV_NOTICE, o->text,
			  "SIGILL in pid %lld, class %s", (long long)o->fault.pid, o->text);
	if (e) {
		e->pid = (int)o->fault.pid;
		body_str(e, "class", o->text);
		json_object_object_add(e->body, "features", featset_to_json(&o->feats));
	}
	return evlist_push(out, e);
}

int evidence_feed(struct evidence *ev, const struct observation *o, struct evlist *out)
{
	switch (o->src) {
	case OBS_CPUID:
		return cpuid_feed(ev, o, out);
	case OBS_SHADOW:
		return shadow_feed(ev, o, out);
	case OBS_FAULT:
		return fault_feed(o, out);
	default:
		return 0;
	}
}
