// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>

#include "core/signals.h"
#include "analysis/faultevent.h"

/* Migration evidence is critical; a program's own bug or a deliberate trap is not. */
static const enum severity class_severity[FC__COUNT] = {
	[FC_ADVERTISED_BUT_FAULTING] = SEV_CRITICAL,
	[FC_FEATURE_LOST] = SEV_CRITICAL,
	[FC_NEVER_ADVERTISED] = SEV_WARNING,
	[FC_OS_DISABLED] = SEV_WARNING,
	[FC_NOT_FEATURE_RELATED] = SEV_NOTICE,
	[FC_UNDECODABLE] = SEV_NOTICE,
	[FC_PROBE] = SEV_INFO,
};

enum severity faultevent_severity(enum fault_class cls)
{
	return (unsigned)cls < FC__COUNT ? class_severity[cls] : SEV_NOTICE;
}

void faultevent_classify(const struct fault *f, const struct classify_input *ctx,
			 struct attribution *a, struct classification *c)
{
	struct classify_input in = *ctx;

	attrib_decode(f->bytes, f->nbytes, a);
	in.attr = a;
	in.sig = f->sig;
	in.trap_nr = f->trap_nr;
	in.comm = f->comm;
	in.fault = f;
	classify_fault(&in, c);
}

static struct json_object *fault_json(const struct fault *f, const struct attribution *a,
				      const struct classification *c)
{
	struct json_object *o = fault_to_json(f);

	if (!o)
		return NULL;
	json_object_object_add(o, "kind", json_object_new_string("fault.sigill"));
	if (a->decoded) {
		json_object_object_add(o, "mnemonic", json_object_new_string(a->mnemonic));
		json_object_object_add(o, "text", json_object_new_string(a->text));
		json_object_object_add(o, "isa_set", json_object_new_string(a->isa_set));
		json_object_object_add(o, "decoder", json_object_new_string(a->decoder));
	}
	json_object_object_add(o, "features", featset_to_json(&a->features));
	json_object_object_add(o, "missing", featset_to_json(&c->missing));
	json_object_object_add(o, "class", json_object_new_string(fault_class_name(c->cls)));
	json_object_object_add(o, "reason", json_object_new_string(c->reason));
	json_object_object_add(o, "probe_confirms", json_object_new_boolean(c->probe_confirms));
	return o;
}

struct event *faultevent_new(const struct fault *f, const struct attribution *a,
			     const struct classification *c)
{
	enum severity sev = faultevent_severity(c->cls);
	struct event *e;

	/* A tracer may have injected it: news, not an alarm (and no weight in a verdict). */
	if (f->origin == FAULT_ORIGIN_TRACED && sev > SEV_NOTICE)
		sev = SEV_NOTICE;
	/*
	 * "CPUID says yes, the CPU says no" rests on bytes read microseconds after the fault: a
	 * process that rewrites its own code meanwhile can show any instruction.  Until a probe
	 * faults on the same feature it is a warning, not an alarm (the capture it triggers
	 * runs the probes, and the next fault of a real mismatch is confirmed).
	 */
	if (c->cls == FC_ADVERTISED_BUT_FAULTING && !c->probe_confirms && sev > SEV_WARNING)
		sev = SEV_WARNING;
	e = event__new(EV_FAULT_SIGILL, sev);
	const char *sig = signals_name(f->sig);

	if (!e)
		return NULL;
	json_object_put(e->body);
	e->body = fault_json(f, a, c);
	if (!e->body) {
		event__free(e);
		return NULL;
	}
	/* The event happened at the fault, not when it was analysed. */
	if (f->mono_ns) {
		e->monotonic_ns = f->mono_ns;
		e->realtime_ns = f->real_ns;
	}
	/* The one feature sinks label with: the first missing one, else the first needed. */
	int pick = -1;

	for (int id = 0; id < FEAT__COUNT && pick < 0; id++)
		if (featset_has(&c->missing, id))
			pick = id;
	for (int id = 0; id < FEAT__COUNT && pick < 0; id++)
		if (featset_has(&a->features, id))
			pick = id;
	if (pick >= 0)
		json_object_object_add(e->body, "feature",
				       json_object_new_string(feature_table[pick].name));
	snprintf(e->subject, sizeof(e->subject), "%s", f->comm);
	e->pid = f->pid;
	snprintf(e->summary, sizeof(e->summary), "%s (pid %d) SIG%s at 0x%llx: %s: %s%s", f->comm,
		 f->pid, sig ? sig : "?", (unsigned long long)f->ip,
		 a->decoded ? a->mnemonic : "undecodable", fault_class_name(c->cls),
		 f->origin == FAULT_ORIGIN_TRACED ? " (traced)" : "");
	return e;
}
