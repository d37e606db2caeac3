#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Compare the committed model table with a second, independent description of the same
models, libvirt's cpu_map (Debian's libvirt0), and say why each difference is there.

    crosscheck_models.py [--cpu-map DIR] [--strict]

libvirt keeps its own x86 model files (x86_Haswell-noTSX-IBRS.xml, ...) with its own
feature names.  They are libvirt's copies, written when libvirt added each model and not
read from QEMU at run time.  libvirt 9.0 names models without versions, as QEMU's aliases
do; each is compared with the QEMU version that the alias resolves to.

Each difference is given the first reason that the evidence supports:
  no-name       libvirt 9.0 has no name for the bit, so no libvirt model can list it;
  libvirt-note  libvirt's model file leaves the feature out in a comment that says why;
  hypervisor    QEMU sets it in every model it loads; no libvirt model lists it;
  kvm-default   QEMU itself, under KVM, presents the bit as libvirt lists it (QEMU's
                KVM defaults: x2apic on; monitor, svm and its leaf 0x8000000a bits off);
  machine-type  QEMU itself gives the bit libvirt's value for older machine types
                (pc-i440fx-X.Y compat properties): QEMU changed the model later and keeps
                the old form for old machine types; libvirt's copy has the old form;
  other-version another version of the same QEMU model has libvirt's value (libvirt's
                file follows QEMU's model before or after the version its name resolves to);
  libvirt-original, qemu-later
                from HISTORY below: two older copies of both projects' definitions show
                who changed what (libvirt left it out from the start; QEMU added it later);
  libvirt-copy  libvirt's -IBRS/-noTSX variant has the bit as libvirt's own base model,
                whose difference has one of the reasons above;
  libvirt-base  the same for a libvirt model that holds every feature of another libvirt
                model (IvyBridge of SandyBridge, Cascadelake-Server of Skylake-Server-IBRS);
  UNEXPLAINED   none of these.
The kvm-default and machine-type reasons are checked by asking QEMU (query-cpu-model-
expansion of the libvirt name under KVM, and under every pc-i440fx machine type); without
qemu-system-x86_64 they are not checked and such differences stay UNEXPLAINED.  Without
/dev/kvm the expansions are made under TCG and KVM's own defaults, as QEMU's source
defines them, are applied to them (as_under_kvm); vme, which TCG switches off everywhere,
then cannot be checked against the machine types:
  vme-unchecked  a vme difference left without a reason for that alone.

libvirt features marked removed='yes' are not part of libvirt's model (libvirt keeps the
name for old domain definitions) and are compared as absent.

Exit status: 0, or 1 with --strict when a difference is unexplained or a HISTORY entry
matches no difference; 2 when models.def or libvirt's cpu_map is missing (apt-get install
libvirt0).  Standard library only.
"""

import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import gen_models  # noqa: E402  (the table reader, QMP client and libvirt parser)

# Differences that neither QEMU 7.2 nor libvirt 9.0 can explain at run time, explained from
# two older copies of the same definitions, read through the project's search tool:
#   QEMU_2013    qemu/qemu target-i386/cpu.c at commit 00b810532446 (QEMU 1.x, 2013):
#                builtin_x86_defs[] and the PENTIUM_FEATURES/PPRO_FEATURES macros;
#   LIBVIRT_2012 libvirt/libvirt src/cpu/cpu_map.xml at commit 012f9b19ef38 (2012): the
#                single cpu_map before the per-model files; its models inherit from one
#                another (486 -> pentium -> pentium2 -> pentium3; pentiumpro -> coreduo ->
#                n270 -> core2duo; pentiumpro -> qemu32 -> kvm32 -> cpu64-rhel5 -> phenom).
# libvirt never changes a released model: its model and feature names are API, "each name
# has the same meaning across all versions of libvirt" (Jiri Denemark, libvirt devel list,
# 2018-05-30), and libvirt's check='partial' code says its definitions "may slightly differ
# as QEMU adds or removes features from CPU models" (libvirt commit 2ba73ca83b50).
# Each entry: (libvirt model, QEMU feature name, side that has it) -> (reason, evidence).
# crosscheck --strict fails on an entry that no longer matches a difference.
_ORIGINAL = ("libvirt-original", "libvirt's first definition (LIBVIRT_2012) already left it "
             "out, while QEMU's model of the time had it (QEMU_2013): libvirt's own choice, "
             "kept since")
_LATER = ("qemu-later", "QEMU's model did not have it in QEMU_2013 and LIBVIRT_2012 had no "
          "name for any leaf 0xd bit: QEMU added it after libvirt wrote its model")
HISTORY = {
    ("pentium", "apic", "qemu"): _ORIGINAL,
    ("pentium2", "apic", "qemu"): _ORIGINAL,
    ("pentium3", "apic", "qemu"): _ORIGINAL,
    ("coreduo", "ss", "qemu"): _ORIGINAL,
    ("n270", "ss", "qemu"): _ORIGINAL,
    ("n270", "lahf-lm", "qemu"): _ORIGINAL,
    ("core2duo", "ss", "qemu"): _ORIGINAL,
    ("core2duo", "cx16", "qemu"): _ORIGINAL,
    ("core2duo", "lahf-lm", "qemu"): _ORIGINAL,
    ("athlon", "mca", "qemu"): _ORIGINAL,
    ("phenom", "vme", "qemu"): _ORIGINAL,
    ("phenom", "cx16", "qemu"): _ORIGINAL,
    ("phenom", "popcnt", "qemu"): _ORIGINAL,
    ("phenom", "pdpe1gb", "qemu"): _ORIGINAL,
    ("phenom", "rdtscp", "qemu"): _ORIGINAL,
    ("phenom", "lahf-lm", "qemu"): _ORIGINAL,
    ("phenom", "abm", "qemu"): _ORIGINAL,
    ("phenom", "sse4a", "qemu"): _ORIGINAL,
    ("SandyBridge", "xsaveopt", "qemu"): _LATER,
    ("Haswell", "xsaveopt", "qemu"): _LATER,
    ("EPYC-Rome", "xsaves", "qemu"): (
        "qemu-later", "libvirt's value is the one QEMU itself later gave as EPYC-Rome-v4 "
        "\"(no XSAVES)\": Linux disables XSAVES on AMD family 0x17 (erratum 1386); qemu-devel "
        "<20230524213748.8918-1-davydov-max@yandex-team.ru>"),
}


def libvirt_models(cpu_map, bit_of):
    """{name: (vendor, {bits}, [(family, model)], [names without a CPUID bit], comments,
    {names marked removed='yes'})}"""
    index = ET.parse(os.path.join(cpu_map, "index.xml")).getroot()
    vendors = {v.get("name"): v.get("string") for v in
               ET.parse(os.path.join(cpu_map, "x86_vendors.xml")).getroot().iter("vendor")}
    raw = {}
    for arch in index.iter("arch"):
        if arch.get("name") != "x86":
            continue
        for inc in arch.iter("include"):
            if inc.get("filename") in ("x86_vendors.xml", "x86_features.xml"):
                continue
            path = os.path.join(cpu_map, inc.get("filename"))
            notes = " ".join(re.findall(r"<!--(.*?)-->", open(path, encoding="utf-8").read(),
                                        re.S))
            for m in ET.parse(path).getroot():
                if m.tag == "model":
                    raw[m.get("name")] = (m, notes)

    def resolve(name, seen=()):
        m, notes = raw[name]
        vendor, bits, sigs, unknown, removed = None, set(), [], [], set()
        parent = m.find("model")  # a model may start from another one
        if parent is not None and parent.get("name") not in seen:
            vendor, bits, sigs, unknown, _, removed = resolve(parent.get("name"),
                                                              seen + (name,))
            bits, removed = set(bits), set(removed)
        v = m.find("vendor")
        if v is not None:
            vendor = vendors.get(v.get("name"), v.get("name"))
        sigs = sigs + [(int(s.get("family")), int(s.get("model"))) for s in m.iter("signature")]
        for f in m.iter("feature"):
            if f.get("removed") == "yes":
                removed.add(f.get("name"))
                continue
            if f.get("name") in bit_of:
                bits.add(bit_of[f.get("name")])
            else:
                unknown = unknown + [f.get("name")]
        return vendor, bits, sigs, unknown, notes, removed

    return {n: resolve(n) for n in raw}


def machine_types():
    out = subprocess.run([gen_models.QEMU, "-machine", "help"], capture_output=True,
                         text=True, check=True).stdout
    types = [l.split()[0] for l in out.splitlines() if re.match(r"pc-i440fx-\d", l)]
    return sorted(types, key=lambda t: tuple(int(x) for x in t[len("pc-i440fx-"):].split(".")))


def expand(accel, machine, names, name_bit):
    """{model name: {bits}} as QEMU presents each model under ACCEL and MACHINE."""
    out = {}
    with gen_models.Qemu(["-accel", accel, "-machine", machine]) as q:
        for n in names:
            msg = q.cmd("query-cpu-model-expansion", type="full", model={"name": n})
            if "error" in msg:
                continue
            props = msg["return"]["model"]["props"]
            out[n] = {name_bit[p] for p, v in props.items() if v is True and p in name_bit}
    return out


# What KVM changes in every named model, as QEMU 7.2 defines it (no /dev/kvm here to ask):
# target/i386/kvm/kvm-cpu.c, kvm_default_props (x2apic on; acpi, monitor and svm off), and
# target/i386/cpu.c, feature_dependencies (svm off takes every bit of leaf 0x8000000A EDX,
# FEAT_SVM, with it).  TCG instead switches vme off in every model (tcg_default_props):
# KVM leaves it as the model defines it, which models.def keeps.
KVM_ON = ("x2apic",)
KVM_OFF = ("acpi", "monitor", "svm")
SVM_WORD = (0x8000000a, 0, "EDX")


def as_under_kvm(name, bits, models, aliases, name_bit):
    """A TCG expansion of NAME turned into what KVM would present."""
    out = {b for b in bits if b[:3] != SVM_WORD and b not in {name_bit[f] for f in KVM_OFF}}
    out |= {name_bit[f] for f in KVM_ON}
    vme = name_bit["vme"]
    m = models.get(aliases.get(name, name))
    if m is not None and vme in gen_models.bits_of(m["words"]):
        out.add(vme)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cpu-map", default=gen_models.LIBVIRT_CPU_MAP)
    ap.add_argument("--strict", action="store_true", help="exit 1 on an unexplained difference")
    args = ap.parse_args()

    models, aliases = gen_models.read_committed(os.path.join(HERE, "models.def"))
    if not models or not os.path.exists(os.path.join(args.cpu_map, "index.xml")):
        print("crosscheck: needs models.def and %s (apt-get install libvirt0)" % args.cpu_map,
              file=sys.stderr)
        return 2
    lv_rows, _ = gen_models.libvirt_features(args.cpu_map)
    bit_of = {n: (l, s, r, b) for l, s, r, b, n in lv_rows}
    lv_name = {(l, s, r, b): n for l, s, r, b, n in lv_rows}
    qnames = {}
    row = re.compile(r'^QEMU_FEAT\((0x[0-9a-f]+), (\d+), (E[ABCD]X), (\d+), "([^"]+)"\)$')
    for line in open(os.path.join(HERE, "qemu_feature_names.def"), encoding="utf-8"):
        m = row.match(line)
        if m:
            qnames[(int(m.group(1), 16), int(m.group(2)), m.group(3), int(m.group(4)))] = \
                m.group(5)
    name_bit = {n: b for b, n in qnames.items()}

    def fname(bit):
        return qnames.get(bit) or lv_name.get(bit) or "%#x.%d:%s[%d]" % bit

    # 1. Feature names: QEMU's (probed from the binary) and libvirt's, bit by bit.
    both = set(qnames) & set(lv_name)
    spelled = [b for b in sorted(both) if qnames[b] != lv_name[b]]
    conflict = [b for b in spelled if re.sub(r"[-_.]", "", qnames[b]) !=
                re.sub(r"[-_.]", "", lv_name[b]) and lv_name[b] != "pclmuldq"]
    print("== feature names: %d bits named by both, %d spelled differently, %d conflicts" %
          (len(both), len(spelled), len(conflict)))
    print("  spelling: " + ", ".join("%s/%s" % (qnames[b], lv_name[b]) for b in spelled))
    print("  only QEMU 7.2 names a bit: " + ", ".join(qnames[b] for b in sorted(set(qnames) -
                                                                               both)))
    print("  only libvirt names a bit: " + ", ".join(lv_name[b] for b in sorted(set(lv_name) -
                                                                             both)))
    for b in conflict:
        print("  CONFLICT %r: QEMU %s, libvirt %s" % (b, qnames[b], lv_name[b]))

    lv = libvirt_models(args.cpu_map, bit_of)
    hyper_listed = any(bit_of.get("hypervisor") in v[1] for v in lv.values())

    # 2. QEMU's own view of each libvirt name, under KVM and under every machine type.
    kvm, history, accel = {}, [], None
    if shutil.which(gen_models.QEMU):
        names = sorted(lv)
        with concurrent.futures.ThreadPoolExecutor(max_workers=2 * (os.cpu_count() or 1)) as p:
            mts = machine_types()
            # TCG switches vme off in every model; KVM does not, so the history is read
            # under KVM when it can be.
            accel = "kvm" if gen_models.kvm_usable() else "tcg"
            futs = [(mt, p.submit(expand, accel, mt, names, name_bit)) for mt in mts]
            history = [(mt, f.result()) for mt, f in futs]
        if accel == "tcg":
            history = [(mt, {n: as_under_kvm(n, b, models, aliases, name_bit)
                             for n, b in exp.items()}) for mt, exp in history]
        kvm = history[-1][1] if history else {}
        print("== QEMU asked: %d pc-i440fx machine types under %s%s" % (
            len(history), accel.upper(),
            ", with KVM's own defaults applied (no /dev/kvm)" if accel == "tcg" else ""))
    else:
        print("== %s not installed: kvm-default and machine-type reasons not checked" %
              gen_models.QEMU)

    # 3. Model by model.
    used_history = set()

    def other_version(m, bit, in_lv):
        """Another version of the same QEMU model that has libvirt's value: libvirt's file
        copies the model as it was before, or after, the version its name resolves to."""
        for v in sorted(models.values(), key=lambda x: x["version"]):
            if v["base"] == m["base"] and v["version"] != m["version"] and \
                    (bit in gen_models.bits_of(v["words"])) == in_lv:
                return v["name"]
        return None

    def reason(name, m, side, bit, depth=0):
        in_lv = side == "libvirt"
        if bit not in lv_name:
            return ("no-name", "libvirt 9.0 has no name for this bit")
        if not in_lv and "name='%s'" % lv_name[bit] in lv[name][4]:
            return ("libvirt-note", "libvirt's file leaves it out on purpose, in a comment: "
                    "supported only by TCG, by KVM only if the host has it")
        if fname(bit) == "hypervisor" and not hyper_listed:
            return ("hypervisor", "QEMU adds it to every model; no libvirt model lists it")
        if name in kvm and (bit in kvm[name]) == in_lv:
            return ("kvm-default", "under KVM QEMU presents it %s, as libvirt lists it" %
                    ("on" if in_lv else "off"))
        older = [mt for mt, exp in history if name in exp and (bit in exp[name]) == in_lv]
        if older:
            return ("machine-type", "QEMU itself gives libvirt's value with machine types up "
                    "to %s (a compat property); libvirt kept that older form" % older[-1])
        other = other_version(m, bit, in_lv)
        if other:
            return ("other-version", "QEMU's own %s has libvirt's value; libvirt's file "
                    "follows that version" % other)
        key = (name, fname(bit), side)
        if key in HISTORY:
            used_history.add(key)
            return HISTORY[key]
        if accel == "tcg" and fname(bit) == "vme":
            # Older machine types switch vme off by compat properties, which TCG's own
            # vme=off hides: only KVM could show them.
            return ("vme-unchecked", "TCG switches vme off under every machine type, so "
                    "which machine types drop it cannot be read without /dev/kvm")
        if depth > 4:
            return ("UNEXPLAINED", "too deep")
        # libvirt wrote its -IBRS/-noTSX variants, and several later models, from its own
        # copy of an older model: when libvirt's model holds every feature of another
        # libvirt model that differs from QEMU in the same way for a known reason, that is
        # the reason here too.
        bases = [m["base"]] if m["base"] != name and m["base"] in lv else []
        bases += sorted((b for b in lv if b != name and b not in bases and
                         lv[b][0] == lv[name][0] and lv[b][1] < lv[name][1]),
                        key=lambda b: -len(lv[b][1]))
        for base in bases:
            bm = models.get(aliases.get(base, base))
            if bm is None or (bit in lv[base][1]) != in_lv or \
                    (bit in gen_models.bits_of(bm["words"])) == in_lv:
                continue
            root = reason(base, bm, side, bit, depth + 1)
            if root[0] != "UNEXPLAINED":
                kind = "libvirt-copy" if base == m["base"] else "libvirt-base"
                return (kind, "as in libvirt's own %s (%s)%s" %
                        (base, root[0], "" if kind == "libvirt-copy" else
                         ", whose every feature libvirt's %s holds" % name))
        return ("UNEXPLAINED", "QEMU's model has it %s under every machine type" %
                ("off" if in_lv else "on") if history else "not checked")

    print("\n== models (libvirt name = QEMU version it resolves to)")
    tally, unexplained, same, absent = {}, 0, [], []
    for name in sorted(lv, key=str.lower):
        vendor, lbits, sigs, unknown, _, removed = lv[name]
        target = aliases.get(name, name)
        m = models.get(target)
        if m is None:
            absent.append(name)
            continue
        qbits = gen_models.bits_of(m["words"])
        notes = []
        if vendor and vendor != m["vendor"]:
            notes.append("vendor %s, QEMU %s" % (vendor, m["vendor"]))
        if sigs and (m["family"], m["model"]) not in sigs:
            notes.append("QEMU's family/model %d/%d is not among libvirt's signatures %s" %
                         (m["family"], m["model"], ", ".join("%d/%d" % s for s in sigs)))
        if unknown:
            notes.append("libvirt MSR features, not CPUID bits: " + ", ".join(unknown))
        if removed:
            notes.append("libvirt marks removed='yes' (not part of the model): " +
                         ", ".join(sorted(removed)))
        diffs = [("qemu", b) for b in sorted(qbits - lbits)] + \
                [("libvirt", b) for b in sorted(lbits - qbits)]
        if all(fname(b) == "hypervisor" for _, b in diffs):
            same.append(name if name == target else "%s=%s" % (name, target))
        print("%s = %s: %d bits in QEMU's model, %d in libvirt's%s" %
              (name, target, len(qbits), len(lbits), "".join("\n    note: " + n for n in notes)))
        for side, bit in diffs:
            why = reason(name, m, side, bit)
            if why[0] == "UNEXPLAINED":
                unexplained += 1
            tally.setdefault((why[0], side, fname(bit)), []).append(name)
            print("    %s %-16s %s: %s" % ("+QEMU   " if side == "qemu" else "+libvirt",
                                          fname(bit), why[0], why[1]))
    print("\nidentical but for the hypervisor bit: %s" % (", ".join(same) or "none"))
    print("libvirt models without a QEMU 7.2 model of that name: %s" % ", ".join(absent))
    print("\n== summary: reason, side, feature, libvirt models")
    for (reason, side, feat), names in sorted(tally.items(),
                                              key=lambda x: (x[0][0] == "UNEXPLAINED",
                                                             x[0][0], -len(x[1]), x[0])):
        print("  %-12s %-7s %-16s %2d  %s" % (reason, "QEMU" if side == "qemu" else "libvirt",
                                              feat, len(names), " ".join(names)))
    stale = sorted(set(HISTORY) - used_history)
    for key in stale:
        print("  STALE history entry, matches no difference: %s %s (%s)" % key)
    print("%d differences, %d unexplained, %d stale history entries" %
          (sum(len(v) for v in tally.values()), unexplained, len(stale)))
    return 1 if (unexplained or stale) and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
