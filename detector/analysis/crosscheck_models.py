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
  libvirt-copy  libvirt's -IBRS/-noTSX variant has the bit as libvirt's own base model,
                whose difference has one of the reasons above;
  UNEXPLAINED   none of these.
The kvm-default and machine-type reasons are checked by asking QEMU (query-cpu-model-
expansion of the libvirt name under KVM, and under every pc-i440fx machine type); without
qemu-system-x86_64 they are not checked and such differences stay UNEXPLAINED.

Exit status: 0, or 1 with --strict when a difference is unexplained; 2 when models.def
or libvirt's cpu_map is missing (apt-get install libvirt0).  Standard library only.
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


def libvirt_models(cpu_map, bit_of):
    """{name: (vendor, {bits}, [(family, model)], [names without a CPUID bit], comments)}"""
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
        vendor, bits, sigs, unknown = None, set(), [], []
        parent = m.find("model")  # a model may start from another one
        if parent is not None and parent.get("name") not in seen:
            vendor, bits, sigs, unknown, _ = resolve(parent.get("name"), seen + (name,))
            bits = set(bits)
        v = m.find("vendor")
        if v is not None:
            vendor = vendors.get(v.get("name"), v.get("name"))
        sigs = sigs + [(int(s.get("family")), int(s.get("model"))) for s in m.iter("signature")]
        for f in m.iter("feature"):
            if f.get("name") in bit_of:
                bits.add(bit_of[f.get("name")])
            else:
                unknown = unknown + [f.get("name")]
        return vendor, bits, sigs, unknown, notes

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
    kvm, history = {}, []
    if shutil.which(gen_models.QEMU):
        names = sorted(lv)
        with concurrent.futures.ThreadPoolExecutor(max_workers=2 * (os.cpu_count() or 1)) as p:
            mts = machine_types()
            # TCG switches vme off in every model; KVM does not, so the history is read
            # under KVM when it can be.
            accel = "kvm" if gen_models.kvm_usable() else "tcg"
            futs = [(mt, p.submit(expand, accel, mt, names, name_bit)) for mt in mts]
            kvm = futs[-1][1].result() if accel == "kvm" else {}
            history = [(mt, f.result()) for mt, f in futs]
        print("== QEMU asked: %d pc-i440fx machine types under %s" % (len(history),
                                                                     accel.upper()))
    else:
        print("== %s not installed: kvm-default and machine-type reasons not checked" %
              gen_models.QEMU)

    # 3. Model by model.
    def reason(name, m, side, bit):
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
        # libvirt wrote its -IBRS/-noTSX variants from its own copy of the base model.
        base = m["base"]
        if base != name and base in lv and (bit in lv[base][1]) == in_lv:
            root = reason(base, models[aliases.get(base, base)], side, bit)
            if root[0] != "UNEXPLAINED":
                return ("libvirt-copy", "as in libvirt's own %s (%s)" % (base, root[0]))
            return ("UNEXPLAINED", "as in libvirt's own %s, unexplained there too" % base)
        return ("UNEXPLAINED", "QEMU's model has it %s under every machine type" %
                ("off" if in_lv else "on") if history else "not checked")

    print("\n== models (libvirt name = QEMU version it resolves to)")
    tally, unexplained, same, absent = {}, 0, [], []
    for name in sorted(lv, key=str.lower):
        vendor, lbits, sigs, unknown, _ = lv[name]
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
    print("%d differences, %d unexplained" % (sum(len(v) for v in tally.values()), unexplained))
    return 1 if unexplained and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
