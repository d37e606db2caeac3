// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fleet baselines (pure).  The common set is the intersection of every input's advertised
 * features.  A named model fits when every feature it defines that a program can use is
 * in the common set; the newest are those with the most such features (the model table
 * records no release dates, and a later CPU generation is a superset of the one before).
 *
 * The configuration masks a VM to the common set:
 *   - it adds every user and hint feature of the common set the base model lacks, and
 *     removes every feature of the base the fleet lacks, so that QEMU's enforce fails on a
 *     host that cannot give the set, rather than the guest losing it later;
 *   - the kernel's and hypervisor's bits (scope sys) of the common set are added only when
 *     every input is a guest: then the hypervisor already gives them to every guest.  On
 *     bare metal they describe the host (vmx, est, monitor, thermal MSRs), not what a
 *     guest should see;
 *   - hypervisor is left as QEMU sets it (on): it describes the VM, not the CPU; OSXSAVE
 *     and OSPKE follow the guest kernel's CR4 and cannot be asked for.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/fleet.h"

struct fleet {
	size_t n, cap;
	struct fleet_input *v;
};

struct fleet *fleet__new(void)
{
	return calloc(1, sizeof(struct fleet));
}

void fleet__free(struct fleet *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		free(f->v[i].name);
	free(f->v);
	free(f);
}

size_t fleet_count(const struct fleet *f)
{
	return f->n;
}

static int grow(struct fleet *f, size_t need)
{
	size_t cap = f->cap ? f->cap : 64;
	struct fleet_input *v;

	if (need <= f->cap)
		return 0;
	while (cap < need)
		cap *= 2;
	v = realloc(f->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	f->v = v;
	f->cap = cap;
	return 0;
}

int fleet_reserve(struct fleet *f, size_t n)
{
	int r = grow(f, f->n + n);

	if (r)
		return r;
	/* An unset slot has no name: fleet_analyse() refuses it. */
	memset(&f->v[f->n], 0, n * sizeof(f->v[0]));
	f->n += n;
	return 0;
}

int fleet_add(struct fleet *f, const char *name, const struct snapshot *s)
{
	int r = fleet_reserve(f, 1);

	if (!r)
		r = fleet_set(f, f->n - 1, name, s);
	if (r && f->n && !f->v[f->n - 1].name)
		f->n--;
	return r;
}

int fleet_set(struct fleet *f, size_t i, const char *name, const struct snapshot *s)
{
	struct fleet_input *in = &f->v[i];

	free(in->name);
	memset(in, 0, sizeof(*in));
	in->name = strdup(name);
	if (!in->name)
		return -ENOMEM;
	snprintf(in->vendor, sizeof(in->vendor), "%s", s->id.vendor);
	snprintf(in->brand, sizeof(in->brand), "%s", s->id.brand);
	in->family = s->id.family;
	in->model = s->id.model;
	in->stepping = s->id.stepping;
	/* The bit, or a hypervisor leaf: some hypervisors hide one of the two. */
	in->hypervisor = featset_has(&s->features, FEAT_HYPERVISOR) || s->hypervisor[0];
	in->level = s->level;
	in->has_xcr0 = s->has_xcr0;
	in->xcr0 = s->xcr0;
	in->features = s->features;
	return 0;
}

/* The features a program can use: fits are judged on these. */
static void usable(struct featset *out, const struct featset *s)
{
	struct featset h;

	featset_scope(out, s, SCOPE_USER);
	featset_scope(&h, s, SCOPE_HINT);
	featset_or(out, out, &h);
}

/* Bits no configuration asks for or removes (see the top of the file). */
static bool not_configurable(int id)
{
	return id == FEAT_HYPERVISOR || id == FEAT_OSXSAVE || id == FEAT_OSPKE;
}

static bool vendor_allowed(const struct fleet_report *r, const struct named_model *m)
{
	return r->nvendors != 1 || strcmp(r->vendors[0], m->vendor) == 0;
}

struct cand {
	struct fleet_fit fit;
	struct featset usable;
	int nusable;
};

/* Newest first: more usable features, then a higher level, then a later version. */
static int cand_cmp(const void *pa, const void *pb)
{
	const struct cand *a = pa, *b = pb;

	if (a->nusable != b->nusable)
		return b->nusable - a->nusable;
	if (a->fit.level != b->fit.level)
		return b->fit.level - a->fit.level;
	if (strcmp(a->fit.m->base, b->fit.m->base))
		return strcmp(a->fit.m->base, b->fit.m->base);
	return (int)b->fit.m->version - (int)a->fit.m->version;
}

/* Fewer inputs in the way first, then the newest. */
static int near_cmp(const void *pa, const void *pb)
{
	const struct cand *a = pa, *b = pb;

	if (a->fit.level != b->fit.level) /* level holds the blocking inputs here */
		return a->fit.level - b->fit.level;
	return b->nusable - a->nusable;
}

/*
 * Models with more usable features than the newest fit that the fewest inputs keep out:
 * "all but these two hosts could run EPYC-Rome".  Models that no input could run are not
 * near.  @scratch holds models_count entries.
 */
static void find_near(struct fleet_report *r, struct cand *scratch, int best)
{
	struct featset fs, missing;
	size_t n = 0;

	for (size_t i = 0; i < models_count; i++) {
		const struct named_model *m = &models_table[i];
		struct cand *c = &scratch[n];
		size_t blocking = 0;

		if (!vendor_allowed(r, m))
			continue;
		models_features(m, &fs);
		usable(&c->usable, &fs);
		c->nusable = featset_count(&c->usable);
		featset_minus(&missing, &c->usable, &r->common);
		if (c->nusable <= best || !featset_count(&missing))
			continue;
		for (size_t k = 0; k < r->ninputs; k++)
			blocking += !featset_subset(&c->usable, &r->inputs[k].features);
		if (blocking >= r->ninputs)
			continue;
		c->fit.m = m;
		c->fit.lacks = missing;
		c->fit.level = (int)blocking;
		n++;
	}
	qsort(scratch, n, sizeof(*scratch), near_cmp);
	r->nnear = 0;
	for (size_t i = 0; i < n && r->nnear < FLEET_NEAR_MAX; i++) {
		size_t k;

		/* One version per missing set: the newest, which sorts first. */
		for (k = 0; k < i; k++)
			if (featset_equal(&scratch[k].fit.lacks, &scratch[i].fit.lacks))
				break;
		if (k < i)
			continue;
		r->near[r->nnear].m = scratch[i].fit.m;
		r->near[r->nnear].missing = scratch[i].fit.lacks;
		r->near[r->nnear].blocking = (size_t)scratch[i].fit.level;
		r->nnear++;
	}
}

/*
 * The newest fitting models, one per distinct usable set: the versions of a model that
 * differ only in kernel bits or MSRs are represented by the latest.
 */
static int find_fits(struct fleet_report *r)
{
	struct cand *c = calloc(models_count, sizeof(*c));
	struct featset cu, fs;
	size_t n = 0;

	if (!c)
		return -ENOMEM;
	usable(&cu, &r->common);
	for (size_t i = 0; i < models_count; i++) {
		const struct named_model *m = &models_table[i];

		if (!vendor_allowed(r, m))
			continue;
		models_features(m, &fs);
		usable(&c[n].usable, &fs);
		if (!featset_subset(&c[n].usable, &r->common))
			continue;
		c[n].fit.m = m;
		c[n].fit.level = x86_level(&fs, false, 0);
		featset_minus(&c[n].fit.lacks, &cu, &c[n].usable);
		c[n].nusable = featset_count(&c[n].usable);
		n++;
	}
	qsort(c, n, sizeof(*c), cand_cmp);
	r->nfits = 0;
	for (size_t i = 0; i < n && r->nfits < FLEET_MODELS_MAX; i++) {
		size_t k;

		for (k = 0; k < i; k++)
			if (featset_equal(&c[k].usable, &c[i].usable))
				break;
		if (k == i)
			r->fits[r->nfits++] = c[i].fit;
	}
	find_near(r, c, n ? c[0].nusable : 0);
	free(c);
	return 0;
}

/* add/del of configuration @c on base @m; returns how many usable features it removes. */
static int plan(const struct fleet_report *r, const struct named_model *m, struct fleet_config *c,
		int qemu)
{
	struct featset base, du;
	int id;

	memset(c, 0, sizeof(*c));
	c->base = m;
	models_features(m, &base);
	featset_minus(&c->add, &r->target, &base);
	featset_minus(&c->del, &base, &r->common);
	featset_for_each (id, &c->del)
		if (not_configurable(id))
			featset_del(&c->del, id);
	featset_for_each (id, &c->add)
		if (!models_tool_name(qemu, id))
			featset_add(&c->unnamed, id);
	featset_for_each (id, &c->del)
		if (!models_tool_name(qemu, id))
			featset_add(&c->unnamed, id);
	usable(&du, &c->del);
	return featset_count(&du);
}

/*
 * The base of one tool's configuration: the model the tool can name (and, for QEMU, that
 * the given release defines) that removes the fewest usable features, of the fleet's
 * vendor when it has one, and among those the newest as fits are ordered.  When a model
 * fits, that is the newest fitting one.
 */
static void choose_base(const struct fleet_report *r, struct fleet_config *c, int qemu)
{
	struct cand best = { 0 }, cur;
	struct fleet_config cfg;
	int best_del = 0, best_vendor = 0;

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < models_count; i++) {
		const struct named_model *m = &models_table[i];
		struct featset fs;
		int del, vendor;

		if (qemu ? models_defined_in(m, r->qemu_version) != 1 : !models_libvirt_model(m))
			continue;
		del = plan(r, m, &cfg, qemu);
		vendor = vendor_allowed(r, m);
		models_features(m, &fs);
		usable(&cur.usable, &fs);
		cur.nusable = featset_count(&cur.usable);
		cur.fit.m = m;
		cur.fit.level = x86_level(&fs, false, 0);
		if (best.fit.m) {
			if (vendor != best_vendor) {
				if (vendor < best_vendor)
					continue;
			} else if (del != best_del) {
				if (del > best_del)
					continue;
			} else if (cand_cmp(&cur, &best) >= 0) {
				continue;
			}
		}
		best = cur;
		best_del = del;
		best_vendor = vendor;
		*c = cfg;
	}
	if (c->base)
		c->base_name = qemu ? c->base->name : models_libvirt_model(c->base);
}

int fleet_analyse(struct fleet *f, const char *qemu_version, struct fleet_report *r)
{
	struct featset sys;
	int id;

	memset(r, 0, sizeof(*r));
	if (!f->n)
		return -EINVAL;
	for (size_t i = 0; i < f->n; i++)
		if (!f->v[i].name)
			return -EINVAL;
	r->ninputs = f->n;
	r->inputs = f->v;
	r->qemu_version = qemu_version;
	r->common = f->v[0].features;
	r->all_guests = true;
	r->xcr0 = ~0ull;
	for (size_t i = 0; i < f->n; i++) {
		const struct fleet_input *in = &f->v[i];
		size_t k;

		featset_and(&r->common, &r->common, &in->features);
		r->all_guests &= in->hypervisor;
		if (in->has_xcr0) {
			r->has_xcr0 = true;
			r->xcr0 &= in->xcr0;
		}
		for (k = 0; k < r->nvendors && k < 8; k++)
			if (!strcmp(r->vendors[k], in->vendor))
				break;
		if (k == r->nvendors) {
			if (r->nvendors < 8)
				r->vendors[r->nvendors] = in->vendor;
			r->nvendors++;
		}
	}
	if (!r->has_xcr0)
		r->xcr0 = 0;
	r->level = x86_level(&r->common, r->has_xcr0, r->xcr0);

	usable(&r->target, &r->common);
	if (r->all_guests) {
		featset_scope(&sys, &r->common, SCOPE_SYS);
		featset_or(&r->target, &r->target, &sys);
	}
	featset_for_each (id, &r->target)
		if (not_configurable(id))
			featset_del(&r->target, id);

	if (find_fits(r))
		return -ENOMEM;
	choose_base(r, &r->qemu, 1);
	choose_base(r, &r->libvirt, 0);
	return 0;
}

/* --- output ------------------------------------------------------------------------- */

struct strbuf {
	char *s;
	size_t n, cap;
	bool failed;
};

static void sb_add(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_add(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int len;

	if (b->failed)
		return;
	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (b->n + len + 1 > b->cap) {
		size_t cap = (b->n + len + 1) * 2;
		char *s = realloc(b->s, cap);

		if (!s) {
			b->failed = true;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
	va_end(ap);
	b->n += len;
}

static char *sb_done(struct strbuf *b)
{
	if (b->failed) {
		free(b->s);
		return NULL;
	}
	return b->s;
}

/* Features in name order, so that the output is stable. */
static void named_list(const struct featset *s, int qemu, const char **out, int *n)
{
	const char *names[FEAT__COUNT];
	int k = featset_names(s, names);

	*n = 0;
	for (int i = 0; i < k; i++) {
		const char *t = models_tool_name(qemu, feature_lookup(names[i]));

		if (t)
			out[(*n)++] = t;
	}
}

char *fleet_qemu_cpu(const struct fleet_report *r)
{
	const char *names[FEAT__COUNT];
	struct strbuf b = { 0 };
	int n;

	if (!r->qemu.base)
		return NULL;
	sb_add(&b, "%s", r->qemu.base_name);
	named_list(&r->qemu.del, 1, names, &n);
	for (int i = 0; i < n; i++)
		sb_add(&b, ",-%s", names[i]);
	named_list(&r->qemu.add, 1, names, &n);
	for (int i = 0; i < n; i++)
		sb_add(&b, ",+%s", names[i]);
	return sb_done(&b);
}

static const char *libvirt_vendor(const char *cpuid_vendor)
{
	/* libvirt's x86_vendors.xml names. */
	static const struct {
		const char *cpuid, *lv;
	} v[] = {
		{ "GenuineIntel", "Intel" },
		{ "AuthenticAMD", "AMD" },
		{ "HygonGenuine", "Hygon" },
		{ "CentaurHauls", "Zhaoxin" },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (!strcmp(cpuid_vendor, v[i].cpuid))
			return v[i].lv;
	return NULL;
}

char *fleet_libvirt_xml(const struct fleet_report *r)
{
	const char *names[FEAT__COUNT], *vendor;
	struct strbuf b = { 0 };
	int n;

	if (!r->libvirt.base)
		return NULL;
	/* Names come from our own tables, never from the inputs: nothing to escape. */
	sb_add(&b, "<cpu mode='custom' match='exact' check='partial'>\n");
	sb_add(&b, "  <model fallback='forbid'>%s</model>\n", r->libvirt.base_name);
	/*
	 * A <vendor> restricts the VM to hosts of that vendor: only for a one-vendor fleet
	 * whose base model is of that vendor.
	 */
	vendor = r->nvendors == 1 && !strcmp(r->vendors[0], r->libvirt.base->vendor) ?
			 libvirt_vendor(r->libvirt.base->vendor) :
			 NULL;
	if (vendor)
		sb_add(&b, "  <vendor>%s</vendor>\n", vendor);
	named_list(&r->libvirt.add, 0, names, &n);
	for (int i = 0; i < n; i++)
		sb_add(&b, "  <feature policy='require' name='%s'/>\n", names[i]);
	named_list(&r->libvirt.del, 0, names, &n);
	for (int i = 0; i < n; i++)
		sb_add(&b, "  <feature policy='disable' name='%s'/>\n", names[i]);
	sb_add(&b, "</cpu>\n");
	return sb_done(&b);
}

static struct json_object *config_json(const struct fleet_config *c, char *text, int qemu)
{
	struct json_object *o = json_object_new_object();
	const char *names[FEAT__COUNT];
	struct json_object *a;
	int n;

	json_object_object_add(o, "base", c->base ? models_to_json(c->base, false) : NULL);
	json_object_object_add(o, qemu ? "cpu" : "xml", text ? json_object_new_string(text) : NULL);
	a = json_object_new_array();
	named_list(&c->add, qemu, names, &n);
	for (int i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(names[i]));
	json_object_object_add(o, "add", a);
	a = json_object_new_array();
	named_list(&c->del, qemu, names, &n);
	for (int i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(names[i]));
	json_object_object_add(o, "remove", a);
	json_object_object_add(o, "unnamed", featset_to_json(&c->unnamed));
	free(text);
	return o;
}

struct json_object *fleet_to_json(const struct fleet_report *r)
{
	struct json_object *o = json_object_new_object(), *a;

	json_object_object_add(o, "inputs", json_object_new_int64((int64_t)r->ninputs));
	a = json_object_new_array();
	for (size_t i = 0; i < r->nvendors && i < 8; i++)
		json_object_array_add(a, json_object_new_string(r->vendors[i]));
	json_object_object_add(o, "vendors", a);
	json_object_object_add(o, "mixed_vendors", json_object_new_boolean(r->nvendors > 1));
	json_object_object_add(o, "all_guests", json_object_new_boolean(r->all_guests));
	json_object_object_add(o, "common", featset_to_json(&r->common));
	json_object_object_add(o, "common_by_scope", featset_to_json_by_scope(&r->common));
	json_object_object_add(o, "level", json_object_new_int(r->level));
	json_object_object_add(o, "level_name", json_object_new_string(x86_level_name(r->level)));
	json_object_object_add(o, "target", featset_to_json(&r->target));

	a = json_object_new_array();
	for (size_t i = 0; i < r->ninputs; i++) {
		const struct fleet_input *in = &r->inputs[i];
		struct json_object *e = json_object_new_object();
		struct featset beyond;

		featset_minus(&beyond, &in->features, &r->common);
		json_object_object_add(e, "name", json_object_new_string(in->name));
		json_object_object_add(e, "vendor", json_object_new_string(in->vendor));
		json_object_object_add(e, "family", json_object_new_int64(in->family));
		json_object_object_add(e, "model", json_object_new_int64(in->model));
		json_object_object_add(e, "stepping", json_object_new_int64(in->stepping));
		json_object_object_add(e, "brand", json_object_new_string(in->brand));
		json_object_object_add(e, "hypervisor", json_object_new_boolean(in->hypervisor));
		json_object_object_add(e, "level", json_object_new_int(in->level));
		json_object_object_add(e, "beyond", featset_to_json_by_scope(&beyond));
		json_object_array_add(a, e);
	}
	json_object_object_add(o, "per_input", a);

	a = json_object_new_array();
	for (size_t i = 0; i < r->nfits; i++) {
		struct json_object *e = models_to_json(r->fits[i].m, false);

		json_object_object_add(e, "level", json_object_new_int(r->fits[i].level));
		json_object_object_add(e, "lacks", featset_to_json(&r->fits[i].lacks));
		json_object_array_add(a, e);
	}
	json_object_object_add(o, "models", a);

	a = json_object_new_array();
	for (size_t i = 0; i < r->nnear; i++) {
		struct json_object *e = models_to_json(r->near[i].m, false), *miss;
		int id;

		json_object_object_add(e, "blocking_inputs",
				       json_object_new_int64((int64_t)r->near[i].blocking));
		miss = json_object_new_object();
		featset_for_each (id, &r->near[i].missing) {
			struct json_object *who = json_object_new_array();

			for (size_t k = 0; k < r->ninputs; k++)
				if (!featset_has(&r->inputs[k].features, id))
					json_object_array_add(
						who, json_object_new_string(r->inputs[k].name));
			json_object_object_add(miss, feature_table[id].name, who);
		}
		json_object_object_add(e, "missing", miss);
		json_object_array_add(a, e);
	}
	json_object_object_add(o, "near_misses", a);
	json_object_object_add(o, "qemu", config_json(&r->qemu, fleet_qemu_cpu(r), 1));
	json_object_object_add(o, "libvirt", config_json(&r->libvirt, fleet_libvirt_xml(r), 0));
	return o;
}
