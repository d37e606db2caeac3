// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Why did it fault?  The order of the tests is the order of certainty: our own probes,
 * then what the bytes say, then what CPUID said before and says now, then what the OS
 * enables, and only when everything claims the feature works do we blame the hardware.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "analysis/classify.h"

static const char *const class_names[FC__COUNT] = {
#define X(id, name, desc) [FC_##id] = name,
	FAULT_CLASSES(X)
#undef X
};

static const char *const class_descs[FC__COUNT] = {
#define X(id, name, desc) [FC_##id] = desc,
	FAULT_CLASSES(X)
#undef X
};

#define X86_TRAP_NM 7 /* device not available: how XFD reports AMX without permission */

const char *fault_class_name(enum fault_class c)
{
	return (unsigned)c < FC__COUNT ? class_names[c] : "?";
}

const char *fault_class_desc(enum fault_class c)
{
	return (unsigned)c < FC__COUNT ? class_descs[c] : "?";
}

int fault_class_lookup(const char *name)
{
	for (int i = 0; i < FC__COUNT; i++)
		if (!strcmp(class_names[i], name))
			return i;
	return -1;
}

bool fault_class_is_migration(const char *name)
{
	return !strcmp(name, class_names[FC_FEATURE_LOST]) ||
	       !strcmp(name, class_names[FC_ADVERTISED_BUT_FAULTING]);
}

static void names(const struct featset *s, char *buf, size_t len)
{
	int id;

	buf[0] = '\0';
	featset_for_each (id, s) {
		size_t used = strlen(buf);

		if (used + 2 >= len)
			break;
		snprintf(buf + used, len - used, "%s%s", used ? "," : "", feature_table[id].name);
	}
}

/* Whether the probes found any feature of @s in @set. */
static bool probe_says(const struct featset *set, const struct featset *s)
{
	struct featset both;

	if (!set)
		return false;
	featset_and(&both, set, s);
	return featset_count(&both) > 0;
}

static bool needs_amx(const struct featset *s)
{
	int id;

	featset_for_each (id, s)
		if (feature_table[id].xstate & XSTATE_AMX)
			return true;
	return false;
}

static void set(struct classification *out, enum fault_class c, const char *fmt, const char *arg)
{
	out->cls = c;
	snprintf(out->reason, sizeof(out->reason), fmt, arg);
}

void classify_fault(const struct classify_input *in, struct classification *out)
{
	const struct attribution *a = in->attr;
	static const struct featset empty;
	const struct featset *adv = in->advertised ? in->advertised : &empty;
	struct featset earlier = { 0 };
	char list[160];
	int id;

	memset(out, 0, sizeof(*out));
	/* Where the code lives, not who ran it: any user may run cpudrift probe or explain. */
	if (in->fault && code_range_holds(in->probe_code, in->fault))
		return set(out, FC_PROBE, "%s", "fault inside this cpudrift's instruction probes");
	if (!a || !a->decoded)
		return set(out, FC_UNDECODABLE, "%s", "the bytes at the fault IP do not decode");
	if (in->sig != SIGILL)
		return set(out, FC_NOT_FEATURE_RELATED,
			   "%s is not how a missing feature faults (#UD raises SIGILL)",
			   in->sig == SIGSEGV ? "SIGSEGV" : "this signal");
	if (a->deliberate_trap)
		return set(out, FC_NOT_FEATURE_RELATED, "%s is a deliberate trap", a->mnemonic);
	if (!featset_count(&a->features))
		return set(out, FC_NOT_FEATURE_RELATED,
			   "%s needs no CPUID feature (privileged or invalid in this context)",
			   a->mnemonic);

	featset_minus(&out->missing, &a->features, adv);
	if (featset_count(&out->missing)) {
		if (in->baseline)
			for (int w = 0; w < FEATSET_WORDS; w++)
				earlier.w[w] |= in->baseline->w[w];
		if (in->at_start)
			for (int w = 0; w < FEATSET_WORDS; w++)
				earlier.w[w] |= in->at_start->w[w];
		featset_and(&out->lost, &out->missing, &earlier);
		if (featset_count(&out->lost)) {
			names(&out->lost, list, sizeof(list));
			return set(out, FC_FEATURE_LOST, "advertised earlier, not now: %s", list);
		}
		names(&out->missing, list, sizeof(list));
		return set(out, FC_NEVER_ADVERTISED, "never advertised here: %s", list);
	}

	featset_for_each (id, &a->features)
		if (!feature_xstate_enabled(id, in->has_xcr0, in->xcr0))
			featset_add(&out->disabled, id);
	if (featset_count(&out->disabled)) {
		names(&out->disabled, list, sizeof(list));
		return set(out, FC_OS_DISABLED, "XCR0 does not enable the state of: %s", list);
	}
	if (needs_amx(&a->features) && (in->amx_permitted == 0 || in->trap_nr == X86_TRAP_NM)) {
		featset_for_each (id, &a->features)
			if (feature_table[id].xstate & XSTATE_AMX)
				featset_add(&out->disabled, id);
		return set(out, FC_OS_DISABLED, "%s",
			   "AMX used without ARCH_REQ_XCOMP_PERM permission");
	}
	if (probe_says(in->probe ? &in->probe->os_disabled : NULL, &a->features)) {
		out->disabled = a->features;
		return set(out, FC_OS_DISABLED, "%s", "the probes found the OS keeps it disabled");
	}

	out->probe_confirms = probe_says(in->probe ? &in->probe->mismatch : NULL, &a->features);
	names(&a->features, list, sizeof(list));
	set(out, FC_ADVERTISED_BUT_FAULTING,
	    out->probe_confirms ? "advertised and enabled, and the probe faults too: %s" :
				  "advertised and enabled, yet it faulted: %s",
	    list);
}
