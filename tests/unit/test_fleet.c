// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Named models, fleets and the pre-flight check.
 *   models: the committed table against a regeneration from the installed QEMU, against
 *           libvirt's own model files (every difference explained), and decoded through
 *           the feature table;
 *   fleet:  real dumps (the lab's TCG guests, libcpuid's corpus): the common set is the
 *           intersection, the models it names fit inside it, the configuration it emits
 *           gives a guest the whole target set and nothing usable beyond the common set;
 *   check:  the command against dumps of this machine (AVX2 cleared, its own, bare metal).
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "analysis/decode.h"
#include "analysis/fleet.h"
#include "analysis/models.h"
#include "analysis/preflight.h"
#include "capture/capture.h"
#include "core/log.h"
#include "formats/dumpfmt.h"
#include "formats/fleetread.h"
#include "formats/snapjson.h"
#include "testutil.h"

#define SRC CPUDRIFT_SRCDIR
#define DUMPS SRC "/tests/fixtures/dumps/"
#define CORPUS SRC "/../shared/data/libcpuid-tests"

static const char *const tcg_dumps[] = {
	DUMPS "tcg-Haswell-noTSX-IBRS.cpuid-r.txt",
	DUMPS "tcg-Skylake-Client-noTSX-IBRS.cpuid-r.txt",
	DUMPS "tcg-EPYC-Rome.cpuid-r.txt",
};
#define NTCG (sizeof(tcg_dumps) / sizeof(tcg_dumps[0]))

/* Run @cmd through the shell; its stdout and stderr into @out; returns the exit status. */
static int run(const char *cmd, char *out, size_t len)
{
	char full[4096];
	size_t n = 0;
	FILE *p;
	int st;

	snprintf(full, sizeof(full), "%s 2>&1", cmd);
	p = popen(full, "r");
	cr_assert_not_null(p, "popen %s", cmd);
	while (n + 1 < len) {
		size_t k = fread(out + n, 1, len - 1 - n, p);

		if (!k)
			break;
		n += k;
	}
	out[n] = '\0';
	/* Drain what did not fit, so that the child never blocks on a full pipe. */
	while (fgetc(p) != EOF)
		;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static const char *prog(void)
{
	static char buf[512];
	const char *b = getenv("CPUDRIFT_BUILD");

	snprintf(buf, sizeof(buf), "%s/cpudrift", b ? b : SRC "/build");
	return buf;
}

static struct snapshot *load(const char *path)
{
	struct errbuf err = { "" };
	struct snapshot *s = NULL;

	cr_assert_eq(dump_import_file(path, &s, &err), 0, "%s: %s", path, err.msg);
	return s;
}

static void usable(struct featset *out, const struct featset *s)
{
	struct featset h;

	featset_scope(out, s, SCOPE_USER);
	featset_scope(&h, s, SCOPE_HINT);
	featset_or(out, out, &h);
}

static const char *names_of(const struct featset *s)
{
	static char buf[4096];
	const char *names[FEAT__COUNT];
	int n = featset_names(s, names);
	size_t len = 0;

	buf[0] = '\0';
	for (int i = 0; i < n && len + 40 < sizeof(buf); i++)
		len += snprintf(buf + len, sizeof(buf) - len, "%s%s", i ? " " : "", names[i]);
	return buf;
}

/* --- models ----------------------------------------------------------------------------- */

TestSuite(models);

Test(models, committed_table_matches_a_regeneration_from_qemu, .timeout = 120)
{
	static char out[1 << 16];
	int st;

	st = run("python3 " SRC "/detector/analysis/gen_models.py --check", out, sizeof(out));
	if (st == 77)
		cr_skip_test(
			"qemu-system-x86_64 is not installed: the table cannot be regenerated");
	cr_assert_eq(st, 0, "gen_models.py --check (status %d):\n%s", st, out);
	cr_expect(strstr(out, "committed tables match a regeneration"), "%s", out);
}

Test(models, every_difference_from_libvirt_is_explained, .timeout = 120)
{
	static char out[1 << 18];
	int st;

	if (access("/usr/share/libvirt/cpu_map/index.xml", R_OK))
		cr_skip_test("libvirt's cpu_map is not installed (apt-get install libvirt0)");
	if (run("command -v qemu-system-x86_64", out, sizeof(out)))
		cr_skip_test("qemu-system-x86_64 is not installed: QEMU cannot back the reasons");
	st = run("python3 " SRC "/detector/analysis/crosscheck_models.py --strict", out,
		 sizeof(out));
	cr_assert_eq(st, 0, "crosscheck_models.py --strict (status %d), tail:\n%s", st,
		     strlen(out) > 3000 ? out + strlen(out) - 3000 : out);
	/* It compared something: QEMU was asked, and the models were read. */
	cr_expect(strstr(out, "== QEMU asked:"), "%s", out);
	cr_expect(strstr(out, "Haswell-noTSX-IBRS = Haswell-v4"), "no model compared");
	cr_expect(strstr(out, " 0 unexplained, 0 stale history entries"), "tail: %s",
		  out + strlen(out) - 200);
}

/* QEMU 7.2's rows: every bit QEMU defines is a row of the feature table. */
Test(models, qemu_7_2_words_decode_through_the_feature_table)
{
	size_t checked = 0;

	for (size_t i = 0; i < models_count; i++) {
		const struct named_model *m = &models_table[i];

		if (strcmp(m->source, "qemu-7.2.22"))
			continue;
		for (size_t w = 0; w < m->nwords; w++) {
			for (unsigned bit = 0; bit < 32; bit++) {
				bool found = false;

				if (!(m->words[w].value >> bit & 1))
					continue;
				for (int id = 0; id < FEAT__COUNT && !found; id++) {
					const struct feature *f = &feature_table[id];

					found = f->leaf == m->words[w].leaf &&
						f->subleaf == m->words[w].subleaf &&
						f->reg == m->words[w].reg && f->bit == bit;
				}
				cr_expect(found, "%s: 0x%x.%u reg %u bit %u has no feature row",
					  m->name, m->words[w].leaf, m->words[w].subleaf,
					  m->words[w].reg, bit);
				checked++;
			}
		}
	}
	cr_expect_gt(checked, 1000);
}

Test(models, aliases_resolve_and_levels_follow_the_features)
{
	const struct named_model *m = models_find("Haswell-noTSX-IBRS");
	struct featset fs;

	cr_assert_not_null(m);
	cr_expect_str_eq(m->name, "Haswell-v4");
	cr_expect_str_eq(models_alias(m), "Haswell-noTSX-IBRS");
	cr_expect_str_eq(models_libvirt_model(m), "Haswell-noTSX-IBRS");
	cr_expect_null(models_find("no-such-model"));
	cr_expect_null(models_find("host"), "host has no fixed definition");
	models_features(m, &fs);
	cr_expect(featset_has(&fs, FEAT_AVX2) && !featset_has(&fs, FEAT_RTM));
	/* The guest kernel sets CR4.OSXSAVE wherever XSAVE is defined. */
	cr_expect(featset_has(&fs, FEAT_OSXSAVE));
	cr_expect_eq(models_level(m), x86_level(&fs, false, 0));
	cr_expect_eq(models_level(m), 3);
	cr_expect_eq(models_level(models_find("Nehalem")), 2);
	cr_expect_eq(models_level(models_find("Skylake-Server-v4")), 4);
	cr_expect_eq(models_defined_in(m, "7.2"), 1);
	cr_expect_eq(models_defined_in(models_find("SapphireRapids-v1"), "7.2"), 0);
	cr_expect_eq(models_defined_in(models_find("SapphireRapids-v1"), "8.0"), 1);
}

Test(models, cli_lists_every_version_and_shows_one)
{
	static char out[1 << 17];
	struct json_object *o, *feats;
	char cmd[600];
	struct featset fs;
	int lines = 0;

	snprintf(cmd, sizeof(cmd), "%s models", prog());
	cr_assert_eq(run(cmd, out, sizeof(out)), 0, "%s", out);
	for (char *p = out; (p = strchr(p, '\n')); p++)
		lines++;
	cr_expect_eq(lines, (int)models_count + 1, "header and one line per version");
	cr_expect(strstr(out, "SapphireRapids-v1"), "newer models are listed");

	snprintf(cmd, sizeof(cmd), "%s models --json EPYC-Rome", prog());
	cr_assert_eq(run(cmd, out, sizeof(out)), 0, "%s", out);
	o = json_tokener_parse(out);
	cr_assert_not_null(o, "%s", out);
	cr_expect_str_eq(json_object_get_string(json_object_object_get(o, "name")), "EPYC-Rome-v1");
	feats = json_object_object_get(o, "features");
	models_features(models_find("EPYC-Rome"), &fs);
	cr_expect_eq((int)json_object_array_length(feats), featset_count(&fs));
	json_object_put(o);

	snprintf(cmd, sizeof(cmd), "%s models nosuchmodel", prog());
	cr_expect_eq(run(cmd, out, sizeof(out)), 2, "%s", out);
	cr_expect(strstr(out, "nosuchmodel"), "%s", out);
}

/* --- fleet ------------------------------------------------------------------------------ */

TestSuite(fleet);

/*
 * What a report must satisfy whatever the inputs: the common set is the intersection, each
 * model it names fits, and the QEMU configuration (base - remove + add) holds the target
 * set and no usable feature outside the common set.
 */
static void check_report(const struct fleet_report *r, struct snapshot **in, size_t n)
{
	struct featset inter = in[0]->features, cu;

	for (size_t i = 1; i < n; i++)
		featset_and(&inter, &inter, &in[i]->features);
	cr_expect(featset_equal(&r->common, &inter), "common is not the intersection");
	cr_expect_eq(r->ninputs, n);
	for (size_t i = 0; i < r->nfits; i++) {
		struct featset fs, mu, extra;

		models_features(r->fits[i].m, &fs);
		usable(&mu, &fs);
		featset_minus(&extra, &mu, &r->common);
		cr_expect_eq(featset_count(&extra), 0, "%s does not fit: it has %s",
			     r->fits[i].m->name, names_of(&extra));
	}
	/* Newest first: a later entry never has more usable features than an earlier one. */
	for (size_t i = 1; i < r->nfits; i++) {
		struct featset a, b, fa, fb;

		models_features(r->fits[i - 1].m, &fa);
		models_features(r->fits[i].m, &fb);
		usable(&a, &fa);
		usable(&b, &fb);
		cr_expect_geq(featset_count(&a), featset_count(&b), "%s before %s",
			      r->fits[i - 1].m->name, r->fits[i].m->name);
	}
	/* Near misses: what they miss is outside the common set, and some input has it all. */
	for (size_t i = 0; i < r->nnear; i++) {
		struct featset fs, mu, miss, out;
		size_t blocking = 0;

		models_features(r->near[i].m, &fs);
		usable(&mu, &fs);
		featset_minus(&miss, &mu, &r->common);
		cr_expect(featset_equal(&miss, &r->near[i].missing), "%s", r->near[i].m->name);
		for (size_t k = 0; k < n; k++) {
			featset_minus(&out, &mu, &in[k]->features);
			blocking += featset_count(&out) > 0;
		}
		cr_expect_eq(blocking, r->near[i].blocking, "%s", r->near[i].m->name);
		cr_expect_lt(blocking, n, "%s: no input could run it", r->near[i].m->name);
	}
	usable(&cu, &r->common);
	if (r->qemu.base) {
		struct featset got, missing, beyond;
		int id;

		models_features(r->qemu.base, &got);
		featset_minus(&got, &got, &r->qemu.del);
		featset_for_each (id, &r->qemu.add)
			if (!featset_has(&r->qemu.unnamed, id))
				featset_add(&got, id);
		featset_minus(&missing, &r->target, &got);
		featset_minus(&missing, &missing, &r->qemu.unnamed);
		cr_expect_eq(featset_count(&missing), 0, "the -cpu string misses %s",
			     names_of(&missing));
		usable(&got, &got);
		featset_minus(&beyond, &got, &r->common);
		featset_del(&beyond, FEAT_OSXSAVE);
		featset_del(&beyond, FEAT_OSPKE);
		cr_expect_eq(featset_count(&beyond), 0, "the -cpu string gives more: %s",
			     names_of(&beyond));
	}
	featset_minus(&cu, &cu, &r->target);
	featset_del(&cu, FEAT_OSXSAVE);
	featset_del(&cu, FEAT_OSPKE);
	cr_expect_eq(featset_count(&cu), 0, "target lacks usable common features: %s",
		     names_of(&cu));
}

Test(fleet, tcg_guest_dumps)
{
	struct snapshot *s[NTCG];
	struct fleet *f = fleet__new();
	struct fleet_report r;
	char *cpu, *xml;

	cr_assert_not_null(f);
	for (size_t i = 0; i < NTCG; i++) {
		s[i] = load(tcg_dumps[i]);
		cr_assert_eq(fleet_add(f, tcg_dumps[i], s[i]), 0);
	}
	cr_assert_eq(fleet_analyse(f, "7.2", &r), 0);
	check_report(&r, s, NTCG);
	cr_expect_eq(r.nvendors, 2, "Intel and AMD guests");
	cr_expect(r.all_guests);
	cr_expect_gt(r.nfits, 0);
	cr_assert_not_null(r.qemu.base);
	cr_expect_eq(models_defined_in(r.qemu.base, "7.2"), 1, "--qemu 7.2 must give a 7.2 base");
	/* Every guest had AVX2, so the string asks for it whatever the base. */
	cr_expect(featset_has(&r.common, FEAT_AVX2));
	cpu = fleet_qemu_cpu(&r);
	cr_assert_not_null(cpu);
	cr_expect(!strncmp(cpu, r.qemu.base->name, strlen(r.qemu.base->name)), "%s", cpu);
	cr_expect(featset_has(&r.qemu.add, FEAT_AVX2) == (strstr(cpu, ",+avx2") != NULL), "%s",
		  cpu);
	xml = fleet_libvirt_xml(&r);
	cr_assert_not_null(xml);
	cr_expect(strstr(xml, "<cpu mode='custom' match='exact'"), "%s", xml);
	cr_expect_null(strstr(xml, "<vendor>"), "a mixed fleet must not pin a vendor:\n%s", xml);
	free(cpu);
	free(xml);
	for (size_t i = 0; i < NTCG; i++)
		snapshot__free(s[i]);
	fleet__free(f);
}

/* libcpuid's corpus: one fleet per vendor folder, and the whole corpus as one. */
static struct snapshot **corpus;
static char **corpus_names;
static size_t ncorpus, corpus_cap;

static int collect(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	static const char dashes[] = "\n--------------------------------------------------"
				     "------------------------------\n";
	struct errbuf err = { "" };
	struct snapshot *s = NULL;
	char *buf, *cut;

	(void)st;
	(void)ftw;
	if (type != FTW_F || !strstr(path, ".test") || strstr(path, "/arm/"))
		return 0;
	buf = tu_read_file(path);
	if (!buf)
		return 0;
	cut = strstr(buf, dashes);
	if (cut && !dump_import(buf, cut - buf, path, &s, &err)) {
		if (ncorpus == corpus_cap) {
			corpus_cap = corpus_cap ? corpus_cap * 2 : 256;
			corpus = realloc(corpus, corpus_cap * sizeof(*corpus));
			corpus_names = realloc(corpus_names, corpus_cap * sizeof(*corpus_names));
			cr_assert(corpus && corpus_names);
		}
		corpus[ncorpus] = s;
		corpus_names[ncorpus++] = strdup(path);
	}
	free(buf);
	return 0;
}

static void corpus_fleet(const char *folder, size_t min_fits, size_t *count)
{
	struct snapshot **sel = calloc(ncorpus, sizeof(*sel));
	struct fleet *f = fleet__new();
	struct fleet_report r;
	size_t n = 0;

	cr_assert(sel && f);
	for (size_t i = 0; i < ncorpus; i++) {
		if (folder && !strstr(corpus_names[i], folder))
			continue;
		sel[n++] = corpus[i];
		cr_assert_eq(fleet_add(f, corpus_names[i], corpus[i]), 0);
	}
	*count = n;
	if (n) {
		cr_assert_eq(fleet_analyse(f, NULL, &r), 0);
		check_report(&r, sel, n);
		if (folder && (!strcmp(folder, "/intel/") || !strcmp(folder, "/amd/")))
			cr_expect_eq(r.nvendors, 1, "%s", folder);
		if (!folder)
			cr_expect_gt(r.nvendors, 1, "the corpus mixes vendors");
		cr_expect_eq(r.level, x86_level(&r.common, r.has_xcr0, r.xcr0));
		cr_log_info(
			"%s: %zu dumps, %d common features, level %d, newest fit %s, -cpu base %s",
			folder ? folder : "everything", n, featset_count(&r.common), r.level,
			r.nfits ? r.fits[0].m->name : "none",
			r.qemu.base ? r.qemu.base->name : "none");
		if (min_fits)
			cr_expect_geq(r.nfits, min_fits, "%s", folder);
	}
	free(sel);
	fleet__free(f);
}

Test(fleet, libcpuid_corpus, .timeout = 60)
{
	static const struct {
		const char *folder;
		size_t min_fits;
	} fleets[] = {
		{ "/intel/x86-64/golden-cove/", 1 },
		{ "/amd/zen3/", 1 },
		{ "/intel/x86-64/", 1 },
		{ "/amd/", 0 },
		{ "/intel/", 0 },
		{ "/hygon/", 0 },
		{ "/zhaoxin/", 0 },
		{ NULL, 0 },
	};
	size_t n;

	if (access(CORPUS, R_OK))
		cr_skip_test("libcpuid test corpus not found at %s", CORPUS);
	nftw(CORPUS, collect, 16, FTW_PHYS);
	cr_assert_gt(ncorpus, 300, "only %zu dumps read", ncorpus);
	for (size_t i = 0; i < sizeof(fleets) / sizeof(fleets[0]); i++) {
		corpus_fleet(fleets[i].folder, fleets[i].min_fits, &n);
		cr_expect_gt(n, 0, "%s", fleets[i].folder);
	}
	for (size_t i = 0; i < ncorpus; i++) {
		snapshot__free(corpus[i]);
		free(corpus_names[i]);
	}
	free(corpus);
	free(corpus_names);
}

/* Per input, "beyond" is exactly its features minus the common set, in the JSON. */
Test(fleet, cli_json_names_vendors_and_what_each_input_has_beyond)
{
	static char out[1 << 18];
	struct json_object *o, *per;
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "%s fleet --json %s %s %s", prog(), tcg_dumps[0], tcg_dumps[1],
		 tcg_dumps[2]);
	cr_assert_eq(run(cmd, out, sizeof(out)), 0, "%s", out);
	o = json_tokener_parse(out);
	cr_assert_not_null(o, "%s", out);
	cr_expect(json_object_get_boolean(json_object_object_get(o, "mixed_vendors")));
	per = json_object_object_get(o, "per_input");
	cr_assert_eq(json_object_array_length(per), NTCG);
	for (size_t i = 0; i < NTCG; i++) {
		struct json_object *e = json_object_array_get_idx(per, i), *b;
		struct snapshot *s = load(tcg_dumps[i]), *all[NTCG];
		struct featset inter, beyond;
		size_t listed = 0;

		for (size_t k = 0; k < NTCG; k++)
			all[k] = k == i ? s : load(tcg_dumps[k]);
		inter = all[0]->features;
		for (size_t k = 1; k < NTCG; k++)
			featset_and(&inter, &inter, &all[k]->features);
		featset_minus(&beyond, &s->features, &inter);
		b = json_object_object_get(e, "beyond");
		json_object_object_foreach(b, scope, arr)
		{
			(void)scope;
			for (size_t k = 0; k < json_object_array_length(arr); k++) {
				int id = feature_lookup(
					json_object_get_string(json_object_array_get_idx(arr, k)));

				cr_expect(id >= 0 && featset_has(&beyond, id));
				listed++;
			}
		}
		cr_expect_eq((int)listed, featset_count(&beyond), "%s", tcg_dumps[i]);
		for (size_t k = 0; k < NTCG; k++)
			snapshot__free(all[k]);
	}
	json_object_put(o);
}

Test(fleet, an_unreadable_input_is_an_error_naming_it)
{
	char dir[] = "/tmp/cpudrift-fleet-XXXXXX", bad[300], cmd[2048];
	static char out[1 << 14];
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(bad, sizeof(bad), "%s/host-17.json", dir);
	f = fopen(bad, "w");
	cr_assert_not_null(f);
	fputs("{ \"format\": \"cpudrift-snapshot\", \"vcpus\": [ { \"cpu\": 0, \"leaves\": 7 } ] }",
	      f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s fleet %s %s", prog(), tcg_dumps[0], bad);
	cr_expect_eq(run(cmd, out, sizeof(out)), 2, "%s", out);
	cr_expect(strstr(out, "host-17.json"), "the error must name the file: %s", out);
	snprintf(cmd, sizeof(cmd), "%s fleet %s %s/missing.txt", prog(), tcg_dumps[0], dir);
	cr_expect_eq(run(cmd, out, sizeof(out)), 2, "%s", out);
	cr_expect(strstr(out, "missing.txt"), "the error must name the file: %s", out);
	tu_rmtree(dir);
}

/*
 * Bare-metal hosts: their kernel bits (vmx, est, monitor...) are not asked for, and a
 * model that fits the usable features is not refused for lacking the hypervisor bit.
 */
Test(fleet, bare_metal_hosts_are_masked_on_usable_features)
{
	struct snapshot *host = load(DUMPS "cpuid-r-epyc-kvm.txt");
	struct errbuf err = { "" };
	struct fleet *f = fleet__new();
	struct fleet_report r;
	struct featset sys;
	int id;

	/* The same CPU seen without a hypervisor: bit 31 of leaf 1 ECX clear, no 0x4000xxxx. */
	for (int i = 0; i < host->nvcpus; i++) {
		struct vcpu_dump *v = &host->vcpus[i];
		size_t k = 0;

		for (size_t j = 0; j < v->n; j++) {
			if (v->leaves[j].leaf == 1)
				v->leaves[j].r[REG_ECX] &= ~(1u << 31);
			if ((v->leaves[j].leaf & 0xffff0000u) != LEAF_HV_BASE)
				v->leaves[k++] = v->leaves[j];
		}
		v->n = k;
	}
	cr_assert_eq(decode_snapshot(host, &err), 0, "%s", err.msg);
	cr_assert_not(featset_has(&host->features, FEAT_HYPERVISOR));
	cr_assert_eq(fleet_add(f, "host", host), 0);
	cr_assert_eq(fleet_analyse(f, NULL, &r), 0);
	check_report(&r, &host, 1);
	cr_expect_not(r.all_guests);
	featset_scope(&sys, &r.qemu.add, SCOPE_SYS);
	cr_expect_eq(featset_count(&sys), 0, "kernel bits of a host asked for: %s", names_of(&sys));
	featset_for_each (id, &r.qemu.del)
		cr_expect_neq(id, FEAT_HYPERVISOR, "the hypervisor bit is never removed");
	snapshot__free(host);
	fleet__free(f);
}

/* --- check ------------------------------------------------------------------------------ */

TestSuite(check);

static char check_dir[] = "/tmp/cpudrift-check-XXXXXX";

static void check_setup(void)
{
	cr_assert_not_null(mkdtemp(check_dir));
}

static void check_teardown(void)
{
	tu_rmtree(check_dir);
}

/* This machine now, as a snapshot file, with @edit applied to its raw leaves. */
static const char *this_machine(const char *name, void (*edit)(struct vcpu_dump *))
{
	static char path[8][400];
	static int k;
	struct errbuf err = { "" };
	struct snapshot *s = NULL;
	FILE *f;

	k = (k + 1) % 8;
	cr_assert_eq(capture_snapshot(&s, NULL, &err), 0, "%s", err.msg);
	for (int i = 0; edit && i < s->nvcpus; i++)
		edit(&s->vcpus[i]);
	cr_assert_eq(decode_snapshot(s, &err), 0, "%s", err.msg);
	snprintf(path[k], sizeof(path[k]), "%s/%s", check_dir, name);
	f = fopen(path[k], "w");
	cr_assert_not_null(f);
	cr_assert_eq(snapshot_write_json(s, f), 0);
	fclose(f);
	snapshot__free(s);
	return path[k];
}

static void clear_avx2(struct vcpu_dump *v)
{
	for (size_t j = 0; j < v->n; j++)
		if (v->leaves[j].leaf == 7 && v->leaves[j].subleaf == 0)
			v->leaves[j].r[REG_EBX] &= ~(1u << 5);
}

static void bare_metal(struct vcpu_dump *v)
{
	size_t k = 0;

	for (size_t j = 0; j < v->n; j++) {
		if (v->leaves[j].leaf == 1)
			v->leaves[j].r[REG_ECX] &= ~(1u << 31);
		if ((v->leaves[j].leaf & 0xffff0000u) != LEAF_HV_BASE)
			v->leaves[k++] = v->leaves[j];
	}
	v->n = k;
}

static bool live_has(int id)
{
	struct errbuf err = { "" };
	struct snapshot *s = NULL;
	bool has;

	cr_assert_eq(capture_snapshot(&s, NULL, &err), 0, "%s", err.msg);
	has = featset_has(&s->features, id);
	snapshot__free(s);
	return has;
}

Test(check, a_target_without_avx2_exits_1_and_names_it, .init = check_setup, .fini = check_teardown)
{
	static char out[1 << 23];
	struct json_object *o, *user;
	char cmd[1024];
	bool named = false;

	if (!live_has(FEAT_AVX2))
		cr_skip_test("this machine has no AVX2 to take away");
	snprintf(cmd, sizeof(cmd), "%s check %s", prog(), this_machine("no-avx2.json", clear_avx2));
	cr_expect_eq(run(cmd, out, sizeof(out)), 1, "%.2000s", out);
	cr_expect(strstr(out, "avx2"), "%s", out);
	cr_expect(strstr(out, "UNSAFE"), "%s", out);

	/* JSON alone (a warning on stderr is not part of it); the process list may be long. */
	snprintf(cmd, sizeof(cmd), "%s check --json %s/no-avx2.json 2>/dev/null", prog(),
		 check_dir);
	cr_expect_eq(run(cmd, out, sizeof(out)), 1, "%.2000s", out);
	o = json_tokener_parse(out);
	cr_assert_not_null(o, "not JSON: %.2000s", out);
	cr_expect_not(json_object_get_boolean(json_object_object_get(o, "safe")));
	user = json_object_object_get(json_object_object_get(o, "lost"), "user");
	for (size_t i = 0; i < json_object_array_length(user); i++)
		named |=
			!strcmp(json_object_get_string(json_object_array_get_idx(user, i)), "avx2");
	cr_expect(named, "%s", out);
	/* AVX2 is in v3: the level drops when the machine was v3 or more. */
	if (json_object_get_int(json_object_object_get(o, "level_vm")) >= 3)
		cr_expect(json_object_get_boolean(json_object_object_get(o, "level_drop")));
	json_object_put(o);
}

Test(check, this_machines_own_snapshot_exits_0, .init = check_setup, .fini = check_teardown)
{
	static char out[1 << 16];
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "%s check %s", prog(), this_machine("self.json", NULL));
	cr_expect_eq(run(cmd, out, sizeof(out)), 0, "%s", out);
	cr_expect(strstr(out, "safe"), "%s", out);
}

Test(check, a_bare_metal_dump_of_the_same_cpu_exits_0, .init = check_setup, .fini = check_teardown)
{
	static char out[1 << 16];
	char cmd[1024];

	if (!live_has(FEAT_HYPERVISOR))
		cr_skip_test("this machine is not a guest: there is no hypervisor bit to clear");
	snprintf(cmd, sizeof(cmd), "%s check --json %s", prog(),
		 this_machine("bare.json", bare_metal));
	cr_expect_eq(run(cmd, out, sizeof(out)), 0, "%s", out);
	/* It is shown, apart: lost, but of scope sys. */
	cr_expect(strstr(out, "\"hypervisor\""), "%s", out);
}

Test(check, another_vms_snapshot_against_a_qemu_model, .init = check_setup, .fini = check_teardown)
{
	static char out[1 << 16];
	struct snapshot *vm = load(tcg_dumps[1]);
	struct featset model;
	struct preflight p;
	char cmd[1024];
	int st;

	models_features(models_find("Nehalem"), &model);
	preflight_compare(&vm->features, vm->level, &model, models_level(models_find("Nehalem")),
			  &p);
	cr_expect(p.unsafe, "Skylake to Nehalem loses AVX");
	snprintf(cmd, sizeof(cmd), "%s check --vm %s qemu:Nehalem", prog(), tcg_dumps[1]);
	st = run(cmd, out, sizeof(out));
	cr_expect_eq(st, 1, "%s", out);
	cr_expect(strstr(out, "drops from x86-64-v3 to x86-64-v2"), "%s", out);
	snprintf(cmd, sizeof(cmd), "%s check --vm %s qemu:Skylake-Client-noTSX-IBRS", prog(),
		 tcg_dumps[0]);
	/* Haswell under TCG to Skylake: nothing usable lost. */
	cr_expect_eq(run(cmd, out, sizeof(out)), 0, "%s", out);
	snprintf(cmd, sizeof(cmd), "%s check --vm %s qemu:NoSuchCpu", prog(), tcg_dumps[0]);
	cr_expect_eq(run(cmd, out, sizeof(out)), 2, "%s", out);
	snapshot__free(vm);
}

/* Read on several threads: the same report as on one, inputs in argument order, and the
 * first unreadable file in that order is the one named. */
Test(fleet, threaded_reading_keeps_order_and_names_the_first_bad_file)
{
	char *paths[48], bad[2][64] = { "/nonexistent/host-07.json", "/nonexistent/host-31.json" };
	struct fleet *one = fleet__new(), *many = fleet__new();
	struct fleet_report r1, rn;
	struct errbuf err = { "" };

	cr_assert(one && many);
	for (size_t i = 0; i < 48; i++)
		paths[i] = (char *)tcg_dumps[i % NTCG];
	cr_assert_eq(fleet_read_files(one, paths, 48, 1, &err), 0, "%s", err.msg);
	cr_assert_eq(fleet_read_files(many, paths, 48, 4, &err), 0, "%s", err.msg);
	cr_assert_eq(fleet_analyse(one, NULL, &r1), 0);
	cr_assert_eq(fleet_analyse(many, NULL, &rn), 0);
	cr_expect(featset_equal(&r1.common, &rn.common));
	for (size_t i = 0; i < 48; i++) {
		cr_expect_str_eq(rn.inputs[i].name, paths[i]);
		cr_expect(featset_equal(&rn.inputs[i].features, &r1.inputs[i].features));
	}
	fleet__free(many);
	many = fleet__new();
	paths[7] = bad[0];
	paths[31] = bad[1];
	cr_expect_neq(fleet_read_files(many, paths, 48, 4, &err), 0);
	cr_expect(strstr(err.msg, "host-07.json"), "%s", err.msg);
	fleet__free(one);
	fleet__free(many);
}

static pid_t start_sleeper(const char *tunables)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (!pid) {
		if (tunables)
			setenv("GLIBC_TUNABLES", tunables, 1);
		else
			unsetenv("GLIBC_TUNABLES");
		execlp("sleep", "sleep", "60", (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Until the child runs sleep: a process seen before its exec is another program. */
static void wait_exec(pid_t pid)
{
	char link[64], exe[PATH_MAX];

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	for (int t = 0; t < 500; t++) {
		ssize_t n = readlink(link, exe, sizeof(exe) - 1);

		if (n > 0) {
			exe[n] = '\0';
			if (strstr(exe, "/sleep"))
				return;
		}
		usleep(10000);
	}
	cr_assert_fail("pid %d never ran sleep", (int)pid);
}

static int listed_at(struct json_object *procs, int pid)
{
	for (size_t i = 0; i < json_object_array_length(procs); i++)
		if (json_object_get_int(json_object_object_get(json_object_array_get_idx(procs, i),
							       "pid")) == pid)
			return (int)i;
	return -1;
}

/*
 * Moving to a target without AVX2: the processes running now are at risk, a child that
 * masks AVX2 through GLIBC_TUNABLES is ranked as masked below an unmasked one, each group
 * names its remedy, and cpudrift itself is never listed.
 */
Test(check, processes_at_risk_are_ranked_and_grouped, .init = check_setup, .fini = check_teardown,
     .timeout = 60)
{
	static char out[1 << 23];
	struct json_object *o, *ar, *procs, *groups;
	char cmd[1024], self[PATH_MAX];
	pid_t plain, masked;
	int ip, im;

	if (geteuid())
		cr_skip_test("reading other processes' environment and maps needs root");
	if (!live_has(FEAT_AVX2))
		cr_skip_test("this machine has no AVX2 to take away");
	plain = start_sleeper(NULL);
	masked = start_sleeper("glibc.cpu.hwcaps=-AVX2,-AVX512F");
	wait_exec(plain);
	wait_exec(masked);
	snprintf(cmd, sizeof(cmd), "%s check --json %s 2>/dev/null", prog(),
		 this_machine("no-avx2.json", clear_avx2));
	cr_expect_eq(run(cmd, out, sizeof(out)), 1, "%.2000s", out);
	kill(plain, SIGKILL);
	kill(masked, SIGKILL);
	waitpid(plain, NULL, 0);
	waitpid(masked, NULL, 0);

	o = json_tokener_parse(out);
	cr_assert_not_null(o, "%s", out);
	ar = json_object_object_get(o, "at_risk");
	cr_assert_not_null(ar, "no at_risk in %s", out);
	procs = json_object_object_get(ar, "processes");
	ip = listed_at(procs, plain);
	im = listed_at(procs, masked);
	cr_assert_geq(ip, 0, "the unmasked child is not listed");
	cr_assert_geq(im, 0, "the masked child is not listed");
	cr_expect_lt(ip, im, "masked (%d) must rank below unmasked (%d)", im, ip);
	cr_expect(json_object_get_boolean(json_object_object_get(
		json_object_array_get_idx(procs, (size_t)im), "glibc_masked")));
	cr_expect_not(json_object_get_boolean(json_object_object_get(
		json_object_array_get_idx(procs, (size_t)ip), "glibc_masked")));
	cr_expect(strstr(json_object_get_string(json_object_object_get(
				 json_object_array_get_idx(procs, (size_t)ip), "reason")),
			 "avx2"),
		  "the reason names what would be lost");
	/*
	 * Not the check's own process, nor anything running this cpudrift executable (other
	 * builds of cpudrift on a shared machine are other programs, and may be listed).
	 */
	cr_assert_not_null(realpath(prog(), self));
	for (size_t i = 0; i < json_object_array_length(procs); i++) {
		struct json_object *e = json_object_array_get_idx(procs, i);
		const char *exe = json_object_get_string(json_object_object_get(e, "exe"));

		cr_expect(!exe || strcmp(exe, self), "cpudrift itself is listed: %s", exe);
	}
	groups = json_object_object_get(ar, "groups");
	cr_assert_gt(json_object_array_length(groups), 0);
	for (size_t i = 0; i < json_object_array_length(groups); i++)
		cr_expect(json_object_get_string(json_object_object_get(
				  json_object_array_get_idx(groups, i), "remedy"))[0],
			  "a group without a remedy");
	json_object_put(o);

	/* Another VM's snapshot: no processes of this machine. */
	snprintf(cmd, sizeof(cmd), "%s check --json --vm %s/no-avx2.json %s", prog(), check_dir,
		 tcg_dumps[0]);
	run(cmd, out, sizeof(out));
	cr_expect(strstr(out, "\"at_risk\": null"), "%s", out);
}

/* A file name is the user's, or whoever named the files a glob picked: printed escaped. */
Test(fleet, control_characters_in_file_names_are_escaped)
{
	char dir[] = "/tmp/cpudrift-fleet-XXXXXX", evil[400], cmd[2048];
	static char out[1 << 18];
	char *dump = tu_read_file(tcg_dumps[0]);
	FILE *f;

	cr_assert_not_null(dump);
	cr_assert_not_null(mkdtemp(dir));
	snprintf(evil, sizeof(evil), "%s/host\x1b[2J\nfake line.txt", dir);
	f = fopen(evil, "w");
	cr_assert_not_null(f);
	fputs(dump, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s fleet %s/host* %s", prog(), dir, tcg_dumps[1]);
	cr_expect_eq(run(cmd, out, sizeof(out)), 0, "%s", out);
	cr_expect_null(strchr(out, '\x1b'), "an escape sequence reached the terminal");
	cr_expect(strstr(out, "host\\e[2J\\nfake line.txt"), "%s", out);
	/* And in the error that names an unreadable one. */
	f = fopen(evil, "w");
	cr_assert_not_null(f);
	fputs("junk\n", f);
	fclose(f);
	cr_expect_eq(run(cmd, out, sizeof(out)), 2, "%s", out);
	cr_expect_null(strchr(out, '\x1b'), "an escape sequence reached the terminal: %s", out);
	cr_expect(strstr(out, "host\\e[2J"), "%s", out);
	free(dump);
	tu_rmtree(dir);
}
