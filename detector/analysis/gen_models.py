#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Generate cpudrift's named CPU model tables from QEMU and libvirt.

    gen_models.py --out DIR     write models.def, qemu_feature_names.def and
                                libvirt_feature_names.def into DIR
    gen_models.py --check       regenerate into a temporary folder and compare with the
                                committed tables beside this script; exit 1 on difference

Exit status: 0 done (or no difference), 1 difference, 2 error, 77 qemu-system-x86_64
is not installed (nothing can be regenerated: a test should skip).

Where the facts come from, without booting a guest:

  * QEMU (qemu-system-x86_64, Debian's 7.2), through QMP on stdio:
    - query-cpu-definitions: every -cpu model, its versions (NAME-vN) and aliases;
    - the QEMU name of each CPUID bit: one paused `-cpu base` machine per batch of
      names, one `device_add base-x86_64-cpu,NAME=on` per name, and the bit that
      appears in the new CPU's feature-words or filtered-features is NAME's bit.
      Names that change no CPUID word are MSR features (VMX, ARCH_CAPABILITIES...);
    - each model: one paused `-cpu MODEL` machine; the CPU object's feature-words and
      filtered-features (what TCG cannot emulate is filtered, but still part of the
      model), vendor, family, model, stepping and model-id (qom-get);
    - vme: QEMU 7.2 switches vme off in every named model under TCG (an accelerator
      default, not a filter), so its bit is read from query-cpu-model-expansion under
      KVM, which leaves vme as the model defines it.  Without /dev/kvm the committed
      vme bit is kept and the run says so.
    - self-check: query-cpu-model-expansion of every model, translated to bits through
      the name table, must give the same words (vme aside).
    Only bits QEMU gives a name are kept: the XCR0/XSS component masks of leaf 0xd and
    the copies of leaf 1 EDX that AMD models show in 0x80000001 EDX are derived, not
    defined, and have none.
  * libvirt: Debian's libvirt0 cpu_map/x86_features.xml (feature name -> CPUID bit).
  * ../shared/data/qemu-models-new/ when present: models newer than QEMU 7.2 (facts from
    newer QEMU source and libvirt's cpu_map, see its README).  Without it, the committed
    rows of those models are kept.

Standard library only.  The output is sorted, so a run on the same inputs writes the same
bytes.
"""

import argparse
import concurrent.futures
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED_NEW = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "data",
                                           "qemu-models-new"))
LIBVIRT_CPU_MAP = "/usr/share/libvirt/cpu_map"
QEMU = "qemu-system-x86_64"
TABLES = ("models.def", "qemu_feature_names.def", "libvirt_feature_names.def")
REGS = ("EAX", "EBX", "ECX", "EDX")
SKIP_MODELS = ("host", "max", "base")
QMP_TIMEOUT = 30.0
NAMES_PER_MACHINE = 160

# The QEMU release that first defines each model newer than 7.2, with where that was read.
# A model missing here is marked "?".
SINCE = {
    "SapphireRapids-v1": ("8.0", "libvirt commit 96c8d39a 'cpu_map: Add SapphireRapids CPU "
                          "model': introduced in QEMU by commit v8.0.0-7eb061b06e"),
    "SapphireRapids-v2": ("8.1", "QEMU merge 3b08e40b (2023-07-07, Granite Rapids pull) with "
                          "'Add few security fix bits in ARCH_CAPABILITIES into SapphireRapids'"),
    "GraniteRapids-v1": ("8.1", "QEMU merge 3b08e40b (2023-07-07) 'Add new CPU model "
                         "GraniteRapids'"),
    "EPYC-Genoa-v1": ("8.1", "qemu-devel [PULL 14/16] 2023-05-09 "
                      "<20230509090453.37884-15-pbonzini@redhat.com>"),
    "SierraForest-v1": ("9.1", "qemu-devel [PULL v2 00/63] 'First batch of i386 and build "
                        "system patch for QEMU 9.1' <20240424081443.75869-1-pbonzini@redhat.com>"),
    "SapphireRapids-v3": ("9.1", "qemu-devel [PULL 28/46] 2024-05-06 "
                          "<20240506075125.8238-29-pbonzini@redhat.com>"),
    "GraniteRapids-v2": ("9.2", "qemu-devel [PULL 49/49] 2024-10-31 'target/i386: Introduce "
                         "GraniteRapids-v2 model'"),
    "SierraForest-v2": ("10.0", "qemu-devel [PULL 16/48] 2025-01-24 "
                        "<20250124094442.13207-17-pbonzini@redhat.com>"),
    "ClearwaterForest-v1": ("10.0", "same pull as SierraForest-v2 (2025-01-24)"),
    "YongFeng-v1": ("10.0", "qemu-devel: the YongFeng model-field fix is discussed as "
                    "qemu-stable material for 10.0.x"),
    "SapphireRapids-v5": ("11.0", "libvirt devel msg16503: cpu_map adds v5/v6 with the "
                          "qemu_11.0.0 domain capabilities"),
    "SapphireRapids-v6": ("11.0", "libvirt devel msg16503"),
    "SierraForest-v4": ("11.0", "libvirt devel msg16502: cpu_map adds v4/v5 with the "
                        "qemu_11.0.0 domain capabilities"),
    "SierraForest-v5": ("11.0", "libvirt devel msg16502"),
    "DiamondRapids-v1": ("11.0", "libvirt devel msg16505: cpu_map adds DiamondRapids with the "
                         "qemu_11.0.0 domain capabilities"),
}


def log(msg):
    print(msg, file=sys.stderr)


class QmpError(Exception):
    pass


class Qemu:
    """One paused QEMU with QMP on stdio.  No guest runs: -S stops it before the first
    instruction, and every answer comes from QEMU's object model."""

    def __init__(self, args):
        argv = [QEMU, "-S", "-nodefaults", "-nographic", "-qmp", "stdio"] + list(args)
        self.argv = " ".join(argv)
        # stderr to a file: QEMU warns once per filtered feature, enough to fill a pipe.
        self.err = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err, text=True)
        # A wedged QEMU must not hang the build: killed after QMP_TIMEOUT s without an
        # answer (each command re-arms it; a busy machine makes a session long, not an
        # answer), and the read below sees EOF.
        self.timer = None
        self.killed = False
        self._arm()
        try:
            self._read()  # greeting
            self.cmd_ok("qmp_capabilities")
        except BaseException:
            self.close()
            raise

    def _kill(self):
        self.killed = True
        self.proc.kill()

    def _arm(self):
        if self.timer:
            self.timer.cancel()
        self.timer = threading.Timer(QMP_TIMEOUT, self._kill)
        self.timer.daemon = True
        self.timer.start()

    def _read(self):
        while True:
            line = self.proc.stdout.readline()
            if not line:
                self.proc.wait()
                if self.killed:
                    raise QmpError("%s: no answer in %.0f s: QEMU killed" % (self.argv,
                                                                            QMP_TIMEOUT))
                self.err.seek(0)
                err = self.err.read().strip().splitlines()
                err = err[-1] if err else "status %d" % self.proc.returncode
                raise QmpError("%s: QEMU exited: %s" % (self.argv, err or "no message"))
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def cmd(self, name, **args):
        self._arm()
        self.proc.stdin.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def cmd_ok(self, name, **args):
        msg = self.cmd(name, **args)
        if "error" in msg:
            raise QmpError("%s: %s: %s" % (self.argv, name, msg["error"].get("desc")))
        return msg["return"]

    def close(self):
        try:
            if self.proc.poll() is None:
                self.cmd("quit")
        except (QmpError, OSError, ValueError):
            pass
        self.timer.cancel()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.err):
            f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def words_of(feature_words):
    """QOM feature-words list -> {(leaf, subleaf, reg): value}; leaves read without a
    subleaf get subleaf 0, as in cpudrift's feature table."""
    out = {}
    for w in feature_words:
        key = (w["cpuid-input-eax"], w.get("cpuid-input-ecx", 0), w["cpuid-register"])
        out[key] = out.get(key, 0) | w["features"]
    return out


def cpu_words(q, path):
    """feature-words | filtered-features of one CPU object: its definition, whether or not
    TCG can emulate it."""
    words = words_of(q.cmd_ok("qom-get", path=path, property="feature-words"))
    for key, val in words_of(q.cmd_ok("qom-get", path=path,
                                      property="filtered-features")).items():
        words[key] = words.get(key, 0) | val
    return words


def bits_of(words):
    return {(l, s, r, b) for (l, s, r), v in words.items() for b in range(32) if v >> b & 1}


def probe_catalogue():
    """Version, model list with aliases, and the canonical feature names, from one QEMU."""
    with Qemu(["-accel", "tcg", "-machine", "none"]) as q:
        ver = q.cmd_ok("query-version")
        defs = q.cmd_ok("query-cpu-definitions")
        static = q.cmd_ok("query-cpu-model-expansion", type="static",
                          model={"name": "max"})["model"]["props"]
    v = ver["qemu"]
    version = "%d.%d.%d" % (v["major"], v["minor"], v["micro"])
    if ver.get("package"):
        version += " (%s)" % ver["package"].strip()
    names = sorted(k for k, val in static.items() if isinstance(val, bool))
    return version, defs, names


def probe_names_batch(names):
    """Each name switched on in its own hot-added `base` CPU (which has no features): the
    CPUID bits that appear are the name's.  QEMU 7.2 crashes when a hot-added CPU differs
    from the boot CPU in `apic`; a name that kills the machine is probed on the boot CPU
    instead (`-cpu base,NAME=on`), and the batch goes on in a new machine."""
    found = {}
    todo = list(names)
    while todo:
        with Qemu(["-accel", "tcg", "-machine", "pc", "-cpu", "base",
                   "-smp", "1,maxcpus=%d" % (len(todo) + 1)]) as q:
            base = bits_of(cpu_words(q, q.cmd_ok("query-cpus-fast")[0]["qom-path"]))
            while todo:
                name = todo[0]
                dev = "n%d" % len(found)
                try:
                    msg = q.cmd("device_add", driver="base-x86_64-cpu", id=dev,
                                **{"socket-id": 0, "core-id": len(todo), "thread-id": 0,
                                   name: True})
                except QmpError:
                    found[name] = probe_name_boot(name, base)
                    todo.pop(0)
                    break
                todo.pop(0)
                if "error" in msg:
                    found[name] = ("error", msg["error"].get("desc"))
                    continue
                found[name] = ("bits", sorted(bits_of(cpu_words(q, "/machine/peripheral/" +
                                                                dev)) - base))
    return found


def probe_name_boot(name, base):
    with Qemu(["-accel", "tcg", "-machine", "pc", "-cpu", "base,%s=on" % name]) as q:
        words = cpu_words(q, q.cmd_ok("query-cpus-fast")[0]["qom-path"])
    return ("bits", sorted(bits_of(words) - base))


def probe_model(name):
    with Qemu(["-accel", "tcg", "-machine", "pc", "-cpu", name, "-smp", "1"]) as q:
        path = q.cmd_ok("query-cpus-fast")[0]["qom-path"]
        words = cpu_words(q, path)
        info = {p: q.cmd_ok("qom-get", path=path, property=p)
                for p in ("vendor", "family", "model", "stepping", "model-id")}
    return name, words, info


def probe_expansions(models, accel):
    with Qemu(["-accel", accel, "-machine", "none"]) as q:
        if accel == "kvm" and not q.cmd_ok("query-kvm").get("enabled"):
            raise QmpError("KVM not enabled")
        return {m: q.cmd_ok("query-cpu-model-expansion", type="full",
                            model={"name": m})["model"]["props"] for m in models}


def kvm_usable():
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


# --- the committed tables, read back where a source is missing --------------------------

W_RE = re.compile(r"W\((0x[0-9a-f]+), (\d+), (E[ABCD]X), (0x[0-9a-f]+)\)")
FIELDS_RE = re.compile(r'^MODEL\("([^"]+)", "([^"]*)", (\d+), "([^"]*)", (-?\d+), (-?\d+), '
                       r'(-?\d+),\s+"((?:[^"\\]|\\.)*)", "([^"]*)", "([^"]*)",', re.M)
ALIAS_RE = re.compile(r'^ALIAS\("([^"]+)", "([^"]+)"\)$', re.M)


def read_committed(path):
    """{name: model dict} from a models.def this script wrote."""
    if not os.path.exists(path):
        return {}, {}
    text = open(path, encoding="utf-8").read()
    models = {}
    for m in FIELDS_RE.finditer(text):
        end = text.index("\n\n", m.start()) if "\n\n" in text[m.start():] else len(text)
        block = text[m.start():end]
        words = {}
        for l, s, r, v in W_RE.findall(block):
            words[(int(l, 16), int(s), r)] = int(v, 16)
        models[m.group(1)] = {
            "name": m.group(1), "base": m.group(2), "version": int(m.group(3)),
            "vendor": m.group(4), "family": int(m.group(5)), "model": int(m.group(6)),
            "stepping": int(m.group(7)),
            "model_id": re.sub(r"\\(.)", r"\1", m.group(8)),
            "source": m.group(9), "since": m.group(10), "words": words,
        }
    aliases = dict(ALIAS_RE.findall(text))
    return models, aliases


# --- libvirt ------------------------------------------------------------------------------

def libvirt_version():
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "libvirt0"],
                             capture_output=True, text=True, check=True).stdout.strip()
        return "libvirt0 " + out
    except (OSError, subprocess.CalledProcessError):
        return "libvirt (version unknown)"


def libvirt_features(cpu_map=LIBVIRT_CPU_MAP):
    """[(leaf, subleaf, reg, bit, name)] from x86_features.xml; MSR features skipped."""
    rows, msr = [], {}
    root = ET.parse(os.path.join(cpu_map, "x86_features.xml")).getroot()
    for feat in root.iter("feature"):
        name = feat.get("name")
        cpuid = feat.find("cpuid")
        if cpuid is None:
            idx = feat.find("msr").get("index")
            msr[idx] = msr.get(idx, 0) + 1
            continue
        leaf = int(cpuid.get("eax_in"), 16)
        sub = int(cpuid.get("ecx_in", "0"), 16)
        regs = [(r.upper(), int(cpuid.get(r), 16)) for r in ("eax", "ebx", "ecx", "edx")
                if cpuid.get(r)]
        if len(regs) != 1 or bin(regs[0][1]).count("1") != 1:
            raise ValueError("libvirt feature %s is not one CPUID bit" % name)
        rows.append((leaf, sub, regs[0][0], regs[0][1].bit_length() - 1, name))
    return sorted(rows), msr


def libvirt_model_names(cpu_map=LIBVIRT_CPU_MAP):
    """The x86 CPU model names libvirt's cpu_map defines (its <model name=...>), sorted."""
    names = set()
    index = ET.parse(os.path.join(cpu_map, "index.xml")).getroot()
    for arch in index.iter("arch"):
        if arch.get("name") != "x86":
            continue
        for inc in arch.iter("include"):
            if inc.get("filename") in ("x86_vendors.xml", "x86_features.xml"):
                continue
            for m in ET.parse(os.path.join(cpu_map, inc.get("filename"))).getroot():
                if m.tag == "model":
                    names.add(m.get("name"))
    return sorted(names, key=lambda n: (n.lower(), n))


# --- models newer than QEMU 7.2 ---------------------------------------------------------

def new_models(folder, names_by_bit, known):
    """Model dicts from qemu-models-new/{models,models-libvirt}.json."""
    out = []
    hyper = [k for k, n in names_by_bit.items() if n == "hypervisor"]
    for fname, kind in (("models.json", "qemu"), ("models-libvirt.json", "libvirt")):
        data = json.load(open(os.path.join(folder, fname), encoding="utf-8"))
        for m in data["models"]:
            if m["name"] in known:
                continue
            words = {}
            for f in m["features"]:
                key = (f["leaf"], f["subleaf"], f["register"].upper())
                words[key] = words.get(key, 0) | 1 << f["bit"]
            # QEMU sets the hypervisor bit in every named model it loads
            # (x86_cpu_load_model); the extracted definitions do not list it.
            for l, s, r, b in hyper:
                words[(l, s, r)] = words.get((l, s, r), 0) | 1 << b
            if m.get("avx10_version"):
                # CPUID.24H:EBX[7:0] is the AVX10 version, as the guest reads it.
                words[(0x24, 0, "EBX")] = words.get((0x24, 0, "EBX"), 0) | m["avx10_version"]
            if kind == "qemu":
                source = "qemu@" + data["source_files"]["target/i386/cpu.c"][:8]
            else:
                source = "libvirt@" + m["libvirt_file_commit"][:8]
            out.append({
                "name": m["name"], "base": m["base_model"], "version": m["version"],
                "vendor": m["vendor"], "family": m["family"], "model": m["model"],
                "stepping": -1 if m["stepping"] is None else m["stepping"],
                "model_id": m["model_id"] or "", "source": source,
                "since": SINCE.get(m["name"], ("?", ""))[0], "words": words,
                "aliases": m["aliases"],
            })
    return out


# --- output -------------------------------------------------------------------------------

def c_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def fmt_word(key, val):
    l, s, r = key
    return "W(0x%x, %d, %s, 0x%08x)" % (l, s, r, val)


def word_order(key):
    l, s, r = key
    return (l, s, REGS.index(r))


def model_order(m):
    return (m["base"].lower(), m["base"], m["version"])


def render_model(m, alias_of):
    al = sorted(a for a, t in alias_of.items() if t == m["name"])
    lines = ["/* %s%s */" % (m["name"], ", alias " + ", ".join(al) if al else "")]
    lines.append("MODEL(%s, %s, %d, %s, %d, %d, %d," % (
        c_str(m["name"]), c_str(m["base"]), m["version"], c_str(m["vendor"]), m["family"],
        m["model"], m["stepping"]))
    lines.append("      %s, %s, %s," % (c_str(m["model_id"]), c_str(m["source"]),
                                        c_str(m["since"])))
    words = [fmt_word(k, m["words"][k]) for k in sorted(m["words"], key=word_order)
             if m["words"][k]]
    line = "     "
    for w in words:
        if len(line) + 1 + len(w) > 99:
            lines.append(line)
            line = "     "
        line += " " + w
    lines.append(line + ")")
    return "\n".join(lines)


def write_models(path, models, alias_of, qemu_version):
    def count(prefix):
        return sum(1 for m in models if m["source"].startswith(prefix))

    hdr = """/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Named x86 CPU models: QEMU's -cpu models with their versions and aliases.
 * GENERATED by detector/analysis/gen_models.py -- do not edit; `make models` regenerates it,
 * `gen_models.py --check` compares a regeneration with this file.
 *
 * Source of the rows (column `source`):
 *   qemu-%(qv)s  read through QMP from Debian's qemu-system-x86_64, version
 *                %(qver)s, no guest booted: the CPU
 *                object's feature-words | filtered-features (what TCG filters out stays
 *                part of the model).  vme from a KVM expansion, because QEMU 7.2 turns vme
 *                off in every named model under TCG.  %(nq)d versions.
 *   qemu@COMMIT  models newer than 7.2, facts from qemu/qemu target/i386/cpu.c at COMMIT
 *                (GPL-2.0-or-later), via ../shared/data/qemu-models-new.  %(nn)d versions.
 *   libvirt@COMMIT  later versions from libvirt's src/cpu_map at COMMIT (LGPL-2.1-or-later;
 *                libvirt leaves out monitor, and topoext on AMD, which QEMU defines).
 *                %(nl)d versions.
 *   Only facts (bit positions, identities) are taken from either project; no text copied.
 *
 * MODEL(name, base, version, vendor, family, model, stepping, "model-id", source, since,
 *       W(leaf, subleaf, register, value) ...)
 *   name     "Base-vN", what -cpu takes; an unversioned name is an ALIAS row.
 *   stepping -1: not known (libvirt does not record it).
 *   since    first QEMU release that defines the version ("<=7.2" for Debian's, "?" not
 *            found); gen_models.py says where each was read.
 *   W        raw CPUID words, decoded through features.def like a captured dump.  Only bits
 *            QEMU names are kept (leaf 0xd XCR0/XSS masks and AMD's 0x80000001 EDX copies
 *            of leaf 1 EDX are derived, not defined).  QEMU adds the hypervisor bit to every
 *            named model; it is in every row.  OSXSAVE/OSPKE follow the guest's CR4 and are
 *            never set here.  Leaf 0x24 EBX[7:0] is the AVX10 version.
 * ALIAS(alias, versioned name): what an unversioned or legacy name resolves to on current
 *   machine types (QEMU 7.2's query-cpu-definitions alias-of).
 */

#ifndef MODEL
#define MODEL(name, base, version, vendor, family, model, stepping, model_id, source, since, \\
	      words)
#endif
#ifndef ALIAS
#define ALIAS(alias, name)
#endif

""" % {"qv": qemu_version.split(" ")[0], "qver": qemu_version, "nq": count("qemu-"),
       "nn": count("qemu@"), "nl": count("libvirt@")}
    body = "\n\n".join(render_model(m, alias_of) for m in models)
    aliases = "\n".join('ALIAS(%s, %s)' % (c_str(a), c_str(t))
                        for a, t in sorted(alias_of.items(), key=lambda x: (x[0].lower(), x[0])))
    with open(path, "w", encoding="utf-8") as f:
        f.write(hdr + body + "\n\n" + aliases + "\n\n#undef MODEL\n#undef ALIAS\n")


def write_names(path, rows, macro, header, model_names=None):
    with open(path, "w", encoding="utf-8") as f:
        f.write("/* SPDX-License-Identifier: GPL-2.0-or-later */\n/*\n")
        for line in header:
            f.write((" * " + line).rstrip() + "\n")
        f.write(" */\n\n#ifndef %s\n#define %s(leaf, subleaf, reg, bit, name)\n#endif\n\n"
                % (macro, macro))
        for l, s, r, b, n in rows:
            f.write("%s(0x%x, %d, %s, %d, %s)\n" % (macro, l, s, r, b, c_str(n)))
        f.write("\n#undef %s\n" % macro)
        if model_names is not None:
            f.write("\n#ifndef LIBVIRT_MODEL\n#define LIBVIRT_MODEL(name)\n#endif\n\n")
            for n in model_names:
                f.write("LIBVIRT_MODEL(%s)\n" % c_str(n))
            f.write("\n#undef LIBVIRT_MODEL\n")


# --- the run ------------------------------------------------------------------------------

def generate(out_dir, committed_dir, jobs, new_dir=SHARED_NEW, use_kvm=True,
             cpu_map=LIBVIRT_CPU_MAP):
    t0 = time.monotonic()
    kept = []
    old_models, old_aliases = read_committed(os.path.join(committed_dir, "models.def"))

    version, defs, names = probe_catalogue()
    concrete = sorted(d["name"] for d in defs
                      if not d.get("alias-of") and d["name"] not in SKIP_MODELS)
    alias_of = {d["name"]: d["alias-of"] for d in defs if d.get("alias-of")}
    log("QEMU %s: %d models, %d aliases, %d feature names" %
        (version, len(concrete), len(alias_of), len(names)))

    batches = [names[i:i + NAMES_PER_MACHINE] for i in range(0, len(names), NAMES_PER_MACHINE)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        name_futs = [pool.submit(probe_names_batch, b) for b in batches]
        model_futs = [pool.submit(probe_model, m) for m in concrete]
        exp_fut = pool.submit(probe_expansions, concrete, "tcg")
        kvm_fut = None
        if use_kvm and kvm_usable():
            kvm_fut = pool.submit(probe_expansions, concrete, "kvm")
        found = {}
        for f in name_futs:
            found.update(f.result())
        probed = {n: (w, i) for n, w, i in (f.result() for f in model_futs)}
        tcg_exp = exp_fut.result()
        kvm_exp = None
        if kvm_fut:
            try:
                kvm_exp = kvm_fut.result()
            except QmpError as e:
                log("KVM expansion failed (%s)" % e)
    t_probe = time.monotonic() - t0

    # The name table: one new bit per CPUID feature name.  Switching a name on can also
    # set bits of derived words (xsave sets the x87 and SSE bits of the XCR0 mask in leaf
    # 0xd); a word in which no name has a bit of its own is derived and does not count.
    bit_name, msr_names, multi = {}, [], {}
    for name in names:
        kind, val = found[name]
        if kind == "error":
            raise QmpError("device_add %s=on failed: %s" % (name, val))
        if not val:
            msr_names.append(name)
        elif len(val) == 1:
            if val[0] in bit_name:
                raise QmpError("%s and %s share bit %r" % (bit_name[val[0]], name, val[0]))
            bit_name[val[0]] = name
        else:
            multi[name] = val
    own_words = {k[:3] for k in bit_name}
    for name, val in multi.items():
        val = [k for k in val if k[:3] in own_words]
        if len(val) != 1 or val[0] in bit_name:
            raise QmpError("%s=on set bits %r" % (name, multi[name]))
        bit_name[val[0]] = name
    name_bit = {n: k for k, n in bit_name.items()}
    named = {}
    for l, s, r, b in bit_name:
        named[(l, s, r)] = named.get((l, s, r), 0) | 1 << b
    vme = name_bit["vme"]

    models, dropped, kept_vme = [], {}, []
    for name in concrete:
        words, info = probed[name]
        kept_words = {}
        for key, val in words.items():
            if val & ~named.get(key, 0):
                dropped.setdefault(key, set()).add(name)
            if val & named.get(key, 0):
                kept_words[key] = val & named[key]
        # Self-check: the model's expansion, through the name table, gives the same bits.
        exp_bits = {name_bit[p] for p, v in tcg_exp[name].items() if v is True and p in name_bit}
        got_bits = bits_of(kept_words)
        if exp_bits != got_bits:
            raise QmpError("%s: expansion and feature-words disagree: +%r -%r" %
                           (name, sorted(exp_bits - got_bits), sorted(got_bits - exp_bits)))
        vkey = vme[:3]
        if kvm_exp is not None:
            has_vme = bool(kvm_exp[name].get("vme"))
        elif name in old_models:
            has_vme = bool(old_models[name]["words"].get(vkey, 0) >> vme[3] & 1)
            kept_vme.append(name)
        else:
            has_vme = False
            log("warning: %s: vme unknown (no KVM, no committed row)" % name)
        if has_vme:
            kept_words[vkey] = kept_words.get(vkey, 0) | 1 << vme[3]
        m = re.match(r"^(.*)-v(\d+)$", name)
        models.append({
            "name": name, "base": m.group(1), "version": int(m.group(2)),
            "vendor": info["vendor"], "family": info["family"], "model": info["model"],
            "stepping": info["stepping"], "model_id": info["model-id"],
            "source": "qemu-" + version.split(" ")[0],
            "since": "<=" + ".".join(version.split(".")[:2]), "words": kept_words,
        })

    if kept_vme:
        kept.append("the vme bit of %d models (no KVM to read it from)" % len(kept_vme))

    # Models newer than Debian's QEMU.
    known = set(concrete) | set(alias_of)
    if os.path.isdir(new_dir):
        for m in new_models(new_dir, bit_name, known):
            for a in m.pop("aliases"):
                if a != m["name"]:
                    alias_of[a] = m["name"]
            models.append(m)
    else:
        carried = [m for m in old_models.values() if not m["source"].startswith("qemu-")]
        for m in carried:
            models.append(m)
        for a, t in old_aliases.items():
            if t in {m["name"] for m in carried}:
                alias_of[a] = t
        if carried:
            kept.append("%d rows of models newer than QEMU 7.2 (%s absent)" %
                        (len(carried), new_dir))
    models.sort(key=model_order)

    write_models(os.path.join(out_dir, "models.def"), models, alias_of, version)

    qrows = sorted((l, s, r, b, n) for (l, s, r, b), n in bit_name.items())
    write_names(os.path.join(out_dir, "qemu_feature_names.def"), qrows, "QEMU_FEAT", [
        "QEMU's own name of each CPUID feature bit, for -cpu strings such as Haswell,-avx2.",
        "GENERATED by detector/analysis/gen_models.py -- do not edit.  From Debian's",
        "qemu-system-x86_64 %s." % version,
        "",
        "Derived from QEMU itself: one paused `-cpu base` machine, one hot-added",
        "base-x86_64-cpu per name with NAME=on, and the bit that appears in the new CPU's",
        "feature-words | filtered-features.  Names are the canonical ones of",
        "query-cpu-model-expansion (static); QEMU also accepts spellings such as sse4_1,",
        "lahf_lm or pclmuldq.  %d further names are not CPUID bits (MSR features: vmx-*,"
        % len(msr_names),
        "IA32_ARCH_CAPABILITIES bits, lmce, ...) and are not rows.",
        "",
        "QEMU_FEAT(leaf, subleaf, register, bit, \"qemu-name\")",
    ])

    lv_path = os.path.join(cpu_map, "x86_features.xml")
    old_lv = os.path.join(committed_dir, "libvirt_feature_names.def")
    if os.path.exists(lv_path):
        lrows, lmsr = libvirt_features(cpu_map)
        lver = libvirt_version()
        write_names(os.path.join(out_dir, "libvirt_feature_names.def"), lrows, "LIBVIRT_FEAT", [
            "libvirt's name of each CPUID feature bit, for <cpu mode='custom'> elements.",
            "GENERATED by detector/analysis/gen_models.py from %s" % lver,
            "cpu_map/x86_features.xml -- do not edit.",
            "",
            "Origin and licence: facts (feature name -> CPUID bit) read from libvirt's",
            "cpu_map data as Debian ships it; libvirt is LGPL-2.1-or-later (Debian's",
            "copyright file gives Files: * as LGPL-2.1+).  No file or text is copied.",
            "Not rows: libvirt's MSR features (%s)." % ", ".join(
                "%d in MSR %s" % (n, i) for i, n in sorted(lmsr.items())),
            "",
            "LIBVIRT_FEAT(leaf, subleaf, register, bit, \"libvirt-name\")",
            "LIBVIRT_MODEL(\"name\"): the x86 CPU models libvirt's cpu_map defines, the names",
            "a <model> element may use with this libvirt (its own definitions differ from",
            "QEMU's in places: crosscheck_models.py says where and why).",
        ], libvirt_model_names(cpu_map))
    elif os.path.exists(old_lv):
        shutil.copyfile(old_lv, os.path.join(out_dir, "libvirt_feature_names.def"))
        kept.append("libvirt_feature_names.def (%s absent; apt-get install libvirt0)" % lv_path)

    summary = {
        "qemu": version, "models": len(models),
        "qemu_7_2_versions": len(concrete), "newer_versions": len(models) - len(concrete),
        "aliases": len(alias_of), "qemu_names": len(qrows), "msr_names": len(msr_names),
        "probe_seconds": round(t_probe, 2), "seconds": round(time.monotonic() - t0, 2),
        "dropped_unnamed_words": sorted("0x%x.%d %s" % k for k in dropped),
    }
    return summary, kept


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--out", metavar="DIR", help="write the tables into DIR")
    g.add_argument("--check", action="store_true",
                   help="compare a regeneration with the committed tables")
    ap.add_argument("--jobs", type=int, default=max(2, 2 * (os.cpu_count() or 1)),
                    help="QEMU processes at once (default: twice the CPUs)")
    ap.add_argument("--new-models", metavar="DIR", default=SHARED_NEW,
                    help="qemu-models-new folder (default: %(default)s)")
    ap.add_argument("--cpu-map", metavar="DIR", default=LIBVIRT_CPU_MAP,
                    help="libvirt cpu_map folder (default: %(default)s)")
    ap.add_argument("--no-kvm", action="store_true",
                    help="do not use /dev/kvm; keep the committed vme bits")
    ap.add_argument("-v", "--verbose", action="store_true", help="print the run's summary")
    args = ap.parse_args()

    if shutil.which(QEMU) is None:
        log("%s is not installed (apt-get install qemu-system-x86): nothing to generate" % QEMU)
        return 77
    try:
        if args.out:
            os.makedirs(args.out, exist_ok=True)
            summary, kept = generate(args.out, HERE, args.jobs, args.new_models,
                                     not args.no_kvm, args.cpu_map)
        else:
            tmp = tempfile.mkdtemp(prefix="gen_models.")
            try:
                summary, kept = generate(tmp, HERE, args.jobs, args.new_models,
                                         not args.no_kvm, args.cpu_map)
                differ = False
                for t in TABLES:
                    old_p, new_p = os.path.join(HERE, t), os.path.join(tmp, t)
                    old = open(old_p).read().splitlines(True) if os.path.exists(old_p) else []
                    new = open(new_p).read().splitlines(True) if os.path.exists(new_p) else []
                    diff = list(difflib.unified_diff(old, new, "committed/" + t,
                                                     "regenerated/" + t))
                    if diff:
                        differ = True
                        sys.stdout.writelines(diff)
            finally:
                shutil.rmtree(tmp)
    except (QmpError, OSError, ValueError, KeyError) as e:
        log("gen_models: %s" % e)
        return 2
    for k in kept:
        log("not regenerated, committed value kept: %s" % k)
    if args.verbose:
        log(json.dumps(summary, indent=1))
    if args.check:
        if differ:
            log("gen_models: the committed tables differ from a regeneration (QEMU %s)"
                % summary["qemu"])
            return 1
        log("gen_models: committed tables match a regeneration (QEMU %s, %.1f s)"
            % (summary["qemu"], summary["seconds"]))
    else:
        log("gen_models: wrote %s to %s in %.1f s" % (", ".join(TABLES), args.out,
                                                      summary["seconds"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
