// SPDX-License-Identifier: GPL-2.0-or-later
#include <string.h>

#include "core/escape.h"
#include "formats/fleetprint.h"
#include "formats/snapprint.h"

void print_escaped(FILE *f, const char *s)
{
	fputs(str_esc(s), f);
}

/* "label  a b c" wrapped; "-" when empty. */
static void print_set(FILE *f, const char *label, const struct featset *s, int indent)
{
	fprintf(f, "%*s%-5s ", indent, "", label);
	if (!featset_count(s)) {
		fputs("-\n", f);
		return;
	}
	fprintf(f, "(%d)\n", featset_count(s));
	featset_print_wrapped(s, indent + 6, f);
}

static void print_scoped(FILE *f, const struct featset *s, int indent, bool sys_as_count)
{
	struct featset part;

	featset_scope(&part, s, SCOPE_USER);
	print_set(f, "user", &part, indent);
	featset_scope(&part, s, SCOPE_HINT);
	print_set(f, "hint", &part, indent);
	featset_scope(&part, s, SCOPE_SYS);
	if (sys_as_count) {
		fprintf(f, "%*s%-5s %d (kernel, hypervisor, firmware; --json lists them)\n", indent,
			"", "sys", featset_count(&part));
		return;
	}
	print_set(f, "sys", &part, indent);
}

static void print_model_ref(FILE *f, const struct named_model *m)
{
	const char *alias = models_alias(m), *lv = models_libvirt_model(m);

	fprintf(f, "%s", m->name);
	if (alias)
		fprintf(f, " (%s)", alias);
	fprintf(f, ", %s, QEMU %s", m->vendor, m->since);
	if (lv)
		fprintf(f, ", libvirt %s", lv);
}

static void print_config_notes(FILE *f, const struct fleet_config *c, const char *tool)
{
	if (featset_count(&c->unnamed)) {
		fprintf(f, "%-12s %s has no name for: ", "", tool);
		featset_print_wrapped(&c->unnamed, 0, f);
	}
}

static bool lacks_same(const struct fleet_report *r, int a, int b)
{
	for (size_t k = 0; k < r->ninputs; k++)
		if (featset_has(&r->inputs[k].features, a) !=
		    featset_has(&r->inputs[k].features, b))
			return false;
	return true;
}

/* The missing features grouped by the inputs that lack them, three inputs named each. */
static void print_near(FILE *f, const struct fleet_report *r, const struct fleet_near *nm)
{
	struct featset left = nm->missing;
	int id;

	fprintf(f, "%-12s ", "");
	print_model_ref(f, nm->m);
	fprintf(f, ": kept out by %zu of %zu inputs\n", nm->blocking, r->ninputs);
	featset_for_each (id, &nm->missing) {
		size_t lack = 0, shown = 0;
		struct featset group = { 0 };
		int other;

		if (!featset_has(&left, id))
			continue;
		featset_for_each (other, &left)
			if (lacks_same(r, id, other))
				featset_add(&group, other);
		featset_minus(&left, &left, &group);
		for (size_t k = 0; k < r->ninputs; k++)
			lack += !featset_has(&r->inputs[k].features, id);
		fprintf(f, "%-14s missing on %zu:", "", lack);
		for (size_t k = 0; k < r->ninputs && shown < 3; k++) {
			if (featset_has(&r->inputs[k].features, id))
				continue;
			fputc(' ', f);
			print_escaped(f, r->inputs[k].name);
			shown++;
		}
		fprintf(f, "%s\n", lack > shown ? " ..." : "");
		featset_print_wrapped(&group, 16, f);
	}
}

void fleet_print(const struct fleet_report *r, FILE *f)
{
	size_t guests = 0;
	char *cpu, *xml;

	for (size_t i = 0; i < r->ninputs; i++)
		guests += r->inputs[i].hypervisor;
	fprintf(f, "%-12s %zu inputs (%zu guests, %zu bare metal), ", "fleet", r->ninputs, guests,
		r->ninputs - guests);
	if (r->nvendors == 1) {
		fprintf(f, "vendor %s\n", r->vendors[0]);
	} else {
		fprintf(f, "MIXED VENDORS:");
		for (size_t i = 0; i < r->nvendors && i < 8; i++)
			fprintf(f, " %s", r->vendors[i]);
		if (r->nvendors > 8)
			fprintf(f, " and %zu more", r->nvendors - 8);
		fputc('\n', f);
	}
	fprintf(f, "%-12s %d features on every input, level %s\n", "common",
		featset_count(&r->common), x86_level_name(r->level));
	print_scoped(f, &r->common, 13, false);

	fprintf(f, "%-12s what masking to the common set hides on each input\n", "beyond");
	for (size_t i = 0; i < r->ninputs; i++) {
		const struct fleet_input *in = &r->inputs[i];
		struct featset beyond;

		featset_minus(&beyond, &in->features, &r->common);
		fprintf(f, "%-12s ", "");
		print_escaped(f, in->name);
		fprintf(f, ": %s family 0x%x model 0x%x stepping %u, %s, level %s\n", in->vendor,
			in->family, in->model, in->stepping,
			in->hypervisor ? "guest" : "bare metal", x86_level_name(in->level));
		if (!featset_count(&beyond)) {
			fprintf(f, "%-12s   nothing\n", "");
			continue;
		}
		print_scoped(f, &beyond, 15, true);
	}

	fprintf(f,
		"%-12s newest named models inside the common set (judged on user and hint"
		" features)\n",
		"models");
	if (!r->nfits)
		fprintf(f, "%-12s none\n", "");
	for (size_t i = 0; i < r->nfits; i++) {
		const struct fleet_fit *fit = &r->fits[i];

		fprintf(f, "%-12s ", "");
		print_model_ref(f, fit->m);
		fprintf(f, ", level %s\n", x86_level_name(fit->level));
		if (featset_count(&fit->lacks)) {
			fprintf(f, "%-14s lacks (%d):\n", "", featset_count(&fit->lacks));
			featset_print_wrapped(&fit->lacks, 16, f);
		} else {
			fprintf(f, "%-14s lacks nothing of the common set\n", "");
		}
	}

	if (r->nnear)
		fprintf(f, "%-12s newer models that all but a few inputs could run\n", "near");
	for (size_t i = 0; i < r->nnear; i++)
		print_near(f, r, &r->near[i]);

	cpu = fleet_qemu_cpu(r);
	fprintf(f, "%-12s ", "qemu");
	if (cpu) {
		fprintf(f, "-cpu %s\n", cpu);
		fprintf(f, "%-12s (base ", "");
		print_model_ref(f, r->qemu.base);
		fprintf(f, "; add ,enforce to refuse a host that cannot give it all)\n");
		print_config_notes(f, &r->qemu, "QEMU");
	} else {
		fprintf(f, "no model can be the base%s%s\n", r->qemu_version ? " with QEMU " : "",
			r->qemu_version ? r->qemu_version : "");
	}
	free(cpu);
	xml = fleet_libvirt_xml(r);
	if (xml) {
		const char *label = "libvirt";

		for (char *line = xml, *nl; *line; line = nl + 1, label = "") {
			nl = strchr(line, '\n');
			fprintf(f, "%-12s %.*s\n", label, (int)(nl - line), line);
		}
		print_config_notes(f, &r->libvirt, "libvirt");
	} else {
		fprintf(f, "%-12s no libvirt model can be the base\n", "libvirt");
	}
	free(xml);
}

void preflight_print(const struct preflight *p, const char *vm, const char *target, FILE *f)
{
	struct featset part;

	fprintf(f, "%-12s ", "vm");
	print_escaped(f, vm);
	fprintf(f, ", level %s\n%-12s ", x86_level_name(p->level_vm), "target");
	print_escaped(f, target);
	fprintf(f, ", level %s\n", x86_level_name(p->level_target));
	fprintf(f, "%-12s %s\n", "verdict",
		p->unsafe ? "UNSAFE: programs could lose features they use" :
			    "safe: no feature a program can use would be lost");
	if (p->level_target < p->level_vm)
		fprintf(f, "%-12s drops from %s to %s\n", "level", x86_level_name(p->level_vm),
			x86_level_name(p->level_target));
	fprintf(f, "%-12s what this VM has and the target lacks\n", "lost");
	featset_scope(&part, &p->lost, SCOPE_USER);
	print_set(f, "user", &part, 13);
	featset_scope(&part, &p->lost, SCOPE_HINT);
	print_set(f, "hint", &part, 13);
	featset_scope(&part, &p->lost, SCOPE_SYS);
	fprintf(f, "%*s(kernel, hypervisor and firmware bits below do not decide the verdict)\n",
		13, "");
	print_set(f, "sys", &part, 13);
	fprintf(f, "%-12s what the target has and this VM lacks\n", "gained");
	print_scoped(f, &p->gained, 13, false);
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int64_t jint(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

void atrisk_print(struct json_object *ar, size_t shown, FILE *f)
{
	struct json_object *groups, *procs;
	size_t n;

	if (!ar) {
		fprintf(f, "%-12s none at risk: nothing a program can use would be lost\n",
			"processes");
		return;
	}
	fprintf(f,
		"%-12s %lld running now would be at risk (%lld map glibc-hwcaps above the "
		"target's level, %lld run with glibc's AVX2 mask)%s\n",
		"processes", (long long)jint(ar, "total"), (long long)jint(ar, "above_level"),
		(long long)jint(ar, "masked"),
		json_object_get_boolean(json_object_object_get(ar, "complete")) ?
			"" :
			"; the scan was incomplete");
	groups = json_object_object_get(ar, "groups");
	n = json_object_array_length(groups);
	for (size_t i = 0; i < n; i++) {
		struct json_object *g = json_object_array_get_idx(groups, i);
		const char *name = jstr(g, "name"), *remedy = jstr(g, "remedy");

		fprintf(f, "%-12s ", i ? "" : "by unit");
		print_escaped(f, name ? name : "?");
		fprintf(f, ": %lld process%s; ", (long long)jint(g, "count"),
			jint(g, "count") == 1 ? "" : "es");
		print_escaped(f, remedy ? remedy : "");
		fputc('\n', f);
	}
	if (jint(ar, "groups_omitted"))
		fprintf(f, "%-12s and %lld processes in further groups (--json lists the first)\n",
			"", (long long)jint(ar, "groups_omitted"));
	procs = json_object_object_get(ar, "processes");
	n = json_object_array_length(procs);
	for (size_t i = 0; i < n && i < shown; i++) {
		struct json_object *p = json_object_array_get_idx(procs, i);
		const char *comm = jstr(p, "comm"), *exe = jstr(p, "exe"),
			   *group = jstr(p, "group");
		const char *reason = jstr(p, "reason");

		fprintf(f, "%-12s %lld ", i ? "" : "ranked", (long long)jint(p, "pid"));
		print_escaped(f, comm ? comm : "?");
		fputs(" (", f);
		print_escaped(f, exe ? exe : "exe unknown");
		fputs(", ", f);
		print_escaped(f, group ? group : "none");
		fputs("): ", f);
		print_escaped(f, reason ? reason : "");
		fputc('\n', f);
	}
	if (jint(ar, "total") > (int64_t)(n < shown ? n : shown))
		fprintf(f, "%-12s ... %lld more (--json lists %zu in all)\n", "",
			(long long)(jint(ar, "total") - (int64_t)(n < shown ? n : shown)), n);
}

void models_print_list(FILE *f)
{
	fprintf(f, "%-24s %-26s %-13s %-16s %-9s %-5s %s\n", "MODEL", "ALIAS", "VENDOR",
		"FAMILY/MODEL/ST", "LEVEL", "QEMU", "SOURCE");
	for (size_t i = 0; i < models_count; i++) {
		const struct named_model *m = &models_table[i];
		const char *alias = models_alias(m);
		char fms[48], step[12] = "?";

		if (m->stepping >= 0)
			snprintf(step, sizeof(step), "%d", m->stepping);
		snprintf(fms, sizeof(fms), "%d/%d/%s", m->family, m->model, step);
		fprintf(f, "%-24s %-26s %-13s %-16s %-9s %-5s %s\n", m->name, alias ? alias : "-",
			m->vendor, fms, x86_level_name(models_level(m)), m->since, m->source);
	}
}

void models_print_one(const struct named_model *m, FILE *f)
{
	const char *alias = models_alias(m), *lv = models_libvirt_model(m);
	struct featset fs;

	models_features(m, &fs);
	fprintf(f, "%-12s %s (%s version %u)\n", "model", m->name, m->base, m->version);
	fprintf(f, "%-12s %s\n", "alias", alias ? alias : "-");
	fprintf(f, "%-12s %s\n", "libvirt", lv ? lv : "- (Debian's libvirt has no such model)");
	fprintf(f, "%-12s %s\n", "vendor", m->vendor);
	fprintf(f, "%-12s family %d, model %d, stepping ", "cpu", m->family, m->model);
	if (m->stepping >= 0)
		fprintf(f, "%d\n", m->stepping);
	else
		fprintf(f, "not recorded\n");
	fprintf(f, "%-12s %s\n", "model-id", m->model_id[0] ? m->model_id : "-");
	fprintf(f, "%-12s %s\n", "level", x86_level_name(models_level(m)));
	fprintf(f, "%-12s %s (source %s)\n", "qemu", m->since, m->source);
	fprintf(f, "%-12s %d\n", "features", featset_count(&fs));
	print_scoped(f, &fs, 13, false);
}
