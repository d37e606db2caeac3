#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Generate isafallback.def, the fallback attribution table, from Intel XED's datafiles.

Reads the instruction patterns (*-isa.xed.txt) of the ISA extensions that Debian 12's
Zydis 4.0 cannot decode, and XED's ISA-set -> CPUID-bit tables (cpuid*.xed.txt), and writes
one X-macro row per encoding class: where the instruction lives (legacy/VEX/EVEX, map,
opcode, mandatory prefix, W, L, ModRM and VEX.vvvv constraints, immediate size), its
mnemonic, XED's extension and ISA-set names, and the cpudrift features it needs (the
features.def rows at the CPUID bits XED names).

  gen_isafallback.py            write the table next to this script
  gen_isafallback.py --check    compare with the committed table; exit 1 when they differ

Only the Python standard library; the output depends on nothing but the inputs.
"""

import argparse
import difflib
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
DATA = os.path.normpath(os.path.join(TOP, "..", "shared", "data"))
# features.def moves to detector/core/ with the layer folders; accept either place.
FEATURES_DEFS = [os.path.join(TOP, "detector", "core", "features.def"),
                 os.path.join(TOP, "detector", "features.def")]

# Field domains.  A row value is a frozenset of allowed values; rows that differ in one
# field only and together allow the whole domain of that field become one row.
MODS = frozenset({"MEM", "REG"})
WS = frozenset({"W0", "W1"})
VEX_LS = frozenset({"L128", "L256"})
PPS = frozenset({"NP", "66", "F3", "F2"})

# Concrete ModRM.mod values each mod token allows (for the overlap check).
MOD_VALUES = {"MEM": {0, 1, 2}, "REG": {3}, "0": {0}}

MAPS = {"V0F": 1, "V0F38": 2, "V0F3A": 3, "MAP5": 5, "MAP6": 6, "MAP7": 7}
VEX_PP = {"VNP": "NP", "V66": "66", "VF3": "F3", "VF2": "F2"}
LEGACY_PP = {"no_refining_prefix": "NP", "osz_refining_prefix": "66",
             "f3_refining_prefix": "F3", "f2_refining_prefix": "F2"}
# Tokens that constrain nothing a 64-bit fallback needs to check: mode64 (cpudrift only
# decodes 64-bit code), MODRM() (a memory operand follows the ModRM byte; its length is
# computed from ModRM and SIB anyway), DF64() (default 64-bit operand size).
IGNORED = {"mode64", "MODRM()", "DF64()"}
IMMEDIATES = {"UIMM8()": 1, "UIMM32()": 4}
FIELD_RE = re.compile(r"^(MOD|REG|RM)\[(0b[01]+|[a-z]+)\]$")


class GenError(Exception):
    pass


def parse_blocks(path):
    """Yield the {KEY: value} dicts of one XED *-isa.xed.txt file."""
    block = None
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if line == "{":
                block = {"_where": "%s:%d" % (os.path.basename(path), lineno)}
            elif line == "}":
                if block is not None:
                    yield block
                block = None
            elif block is not None and ":" in line:
                key, value = line.split(":", 1)
                if key.strip() in block:
                    raise GenError("%s: %s given twice" % (block["_where"], key.strip()))
                block[key.strip()] = " ".join(value.split())


def parse_pattern(block):
    """One XED pattern -> a row dict of frozensets (see MODS, WS, ...) and plain values."""
    where = block["_where"]
    toks = block["PATTERN"].split()
    row = {"enc": "LEGACY", "map": None, "op": None, "pp": PPS, "w": WS, "l": None,
           "mod": None, "reg": None, "rm": None, "vvvv": "ANY", "imm": 0}
    hexes = []
    for t in toks:
        m = FIELD_RE.match(t)
        if t == "VV1":
            row["enc"] = "VEX"
        elif t == "EVV":
            row["enc"] = "EVEX"
        elif re.fullmatch(r"0x[0-9A-Fa-f]{2}", t):
            hexes.append(int(t, 16))
        elif t in MAPS:
            row["map"] = MAPS[t]
        elif t in VEX_PP:
            row["pp"] = frozenset({VEX_PP[t]})
        elif t in LEGACY_PP:
            row["pp"] = frozenset({LEGACY_PP[t]})
        elif t in ("W0", "W1"):
            row["w"] = frozenset({t})
        elif t == "rexw_prefix":
            row["w"] = frozenset({"W1"})
        elif t == "norexw_prefix":
            row["w"] = frozenset({"W0"})
        elif re.fullmatch(r"VL(128|256|512)", t):
            row["l"] = frozenset({"L" + t[2:]})
        elif t == "MOD=3":
            row["mod"] = frozenset({"REG"})
        elif t == "MOD!=3":
            row["mod"] = frozenset({"MEM"})
        elif t == "NOVSR":
            row["vvvv"] = "NONE"
        elif t == "PREFETCHIT=1":
            # PREFETCHIT0/1 exist only with a RIP-relative memory operand (ModRM.mod 00,
            # rm 101 in 64-bit mode); every other form of 0F 18 /6 and /7 stays a NOP hint
            # (Intel SDM vol. 2, PREFETCHITx).  XED keeps this in a derived operand.
            row["mod"] = frozenset({"0"})
            row["rm"] = 5
        elif t in IMMEDIATES:
            row["imm"] = IMMEDIATES[t]
        elif m:
            field, val = m.group(1).lower(), m.group(2)
            if val.startswith("0b"):
                if field == "mod":
                    if int(val, 2) != 3:
                        raise GenError("%s: unexpected %s" % (where, t))
                else:
                    row[field] = int(val, 2)
        elif t in IGNORED:
            pass
        else:
            raise GenError("%s: pattern token %s is not understood" % (where, t))
    if row["mod"] is None:
        raise GenError("%s: no ModRM in the pattern" % where)
    if row["enc"] == "LEGACY":
        # 0x0F [0x38|0x3A] opcode: the escape bytes pick the map.
        if len(hexes) == 2 and hexes[0] == 0x0F:
            row["map"], row["op"] = 1, hexes[1]
        elif len(hexes) == 3 and hexes[0] == 0x0F and hexes[1] in (0x38, 0x3A):
            row["map"], row["op"] = (2 if hexes[1] == 0x38 else 3), hexes[2]
        else:
            raise GenError("%s: legacy opcode bytes %s not understood" % (where, hexes))
        if row["l"] is not None:
            raise GenError("%s: a vector length on a legacy encoding" % where)
        row["l"] = "LIG"
        if row["vvvv"] != "ANY":
            raise GenError("%s: NOVSR on a legacy encoding" % where)
        # The table can only say "any prefix" for legacy rows; XED's absent refining
        # prefix means the same.
        if row["pp"] != PPS and len(row["pp"]) != 1:
            raise GenError("%s: prefix constraint not understood" % where)
    else:
        if len(hexes) != 1 or row["map"] is None:
            raise GenError("%s: VEX/EVEX opcode or map missing" % where)
        row["op"] = hexes[0]
        if row["l"] is None:
            raise GenError("%s: no vector length" % where)
        if row["pp"] == PPS:
            raise GenError("%s: VEX/EVEX without its pp field" % where)
    if "LOCKABLE" in block.get("ATTRIBUTES", "").split():
        raise GenError("%s: LOCK-able instructions are not supported by the fallback" % where)
    row["mnemonic"] = block["ICLASS"].lower()
    row["ext"] = block["EXTENSION"]
    row["set"] = block["ISA_SET"]
    return row


KEY_FIELDS = ("enc", "map", "op", "pp", "w", "l", "mod", "reg", "rm", "vvvv", "imm",
              "mnemonic", "ext", "set")


def freeze(row):
    return tuple(row[k] for k in KEY_FIELDS)


def merge(rows):
    """Fold rows that differ in one field and together allow its whole domain.

    Each fold is an exact union, so the rows match the same encodings as XED's patterns.
    Rows are visited in input order (files sorted by name, patterns in file order), so the
    result is the same on every run.
    """
    domains = {"mod": MODS, "w": WS, "l": VEX_LS}
    rows = {freeze(r): r for r in rows}
    changed = True
    while changed:
        changed = False
        for field, domain in domains.items():
            i = KEY_FIELDS.index(field)
            groups = {}
            for key in rows:
                groups.setdefault(key[:i] + key[i + 1:], []).append(key)
            for keys in groups.values():
                vals = [k[i] for k in keys]
                if len(keys) < 2 or not all(isinstance(v, frozenset) for v in vals):
                    continue
                if frozenset().union(*vals) == domain:
                    merged = dict(rows[keys[0]], **{field: domain})
                    for k in keys:
                        del rows[k]
                    rows[freeze(merged)] = merged
                    changed = True
    return list(rows.values())


def show(field, value):
    """The .def token for one field value."""
    if field == "pp":
        return "ANY" if value == PPS else next(iter(value))
    if field == "w":
        return "WIG" if value == WS else next(iter(value))
    if field == "l":
        if value == "LIG" or value == VEX_LS:
            return "LIG"
        return next(iter(value))
    if field == "mod":
        return "ANY" if value == MODS else next(iter(value))
    if field in ("reg", "rm"):
        return "ANY" if value is None else str(value)
    if field == "vvvv":
        return value
    raise GenError("no token for %s" % field)


def row_sort_key(r):
    enc_order = {"LEGACY": 0, "VEX": 1, "EVEX": 2}
    return (enc_order[r["enc"]], r["map"], r["op"], show("pp", r["pp"]), show("w", r["w"]),
            show("l", r["l"]), show("mod", r["mod"]), show("reg", r["reg"]),
            show("rm", r["rm"]), r["vvvv"], r["mnemonic"])


def concrete(field, value):
    """The set of raw encodings a field value allows, for the overlap check."""
    if field == "mod":
        if value == MODS:
            return {0, 1, 2, 3}
        return set().union(*(MOD_VALUES[v] for v in value))
    if field in ("reg", "rm"):
        return set(range(8)) if value is None else {value}
    if field in ("pp", "w"):
        return set(value)
    if field == "l":
        return {"L128", "L256", "L512"} if value == "LIG" else set(value)
    if field == "vvvv":
        return set(range(16)) if value == "ANY" else {15}
    raise GenError(field)


def check_overlaps(rows):
    """Every encoding must match at most one row: the lookup takes the first."""
    for i, a in enumerate(rows):
        for b in rows[i + 1:]:
            if (a["enc"], a["map"], a["op"]) != (b["enc"], b["map"], b["op"]):
                continue
            if all(concrete(f, a[f]) & concrete(f, b[f])
                   for f in ("pp", "w", "l", "mod", "reg", "rm", "vvvv")):
                raise GenError("rows overlap: %s and %s" % (a["mnemonic"], b["mnemonic"]))


def read_features(path):
    """features.def -> {(leaf, subleaf, reg, bit): name}."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    table = {}
    for m in re.finditer(r'^FEAT\(\s*\w+,\s*"([^"]+)",\s*(0x[0-9a-fA-F]+|\d+),\s*'
                         r'(0x[0-9a-fA-F]+|\d+),\s*REG_(E[A-D]X),\s*(\d+),', text, re.M):
        key = (int(m.group(2), 0), int(m.group(3), 0), m.group(4).lower(), int(m.group(5)))
        table[key] = m.group(1)
    if len(table) < 100:
        raise GenError("%s: only %d feature rows found" % (path, len(table)))
    return table


def read_cpuid(folder):
    """XED cpuid*.xed.txt files -> {ISA set: [(qualifier, [tokens]), ...]} in file order."""
    out = {}
    for sub in sorted(os.listdir(folder)):
        d = os.path.join(folder, sub)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if not (name.startswith("cpuid") and name.endswith(".xed.txt")):
                continue
            with open(os.path.join(d, name), encoding="utf-8") as f:
                for raw in f:
                    line = raw.split("#", 1)[0].strip()
                    m = re.match(r"XED_ISA_SET_(\w+)\s*(,\s*(\w+))?\s*:\s*(.*)$", line)
                    if m:
                        out.setdefault(m.group(1), []).append(
                            (m.group(3) or "", m.group(4).split(), "%s/%s" % (sub, name)))
    return out


def features_for(isa_set, cpuid, features, notes):
    """The feature names of the one unqualified XED line of @isa_set."""
    lines = cpuid.get(isa_set, [])
    plain = [l for l in lines if not l[0]]
    if len(plain) != 1:
        raise GenError("XED ISA set %s: %d unqualified CPUID lines, want 1"
                       % (isa_set, len(plain)))
    names = []
    for tok in plain[0][1]:
        parts = tok.split(".")
        if len(parts) != 5:
            raise GenError("XED ISA set %s: CPUID token %s not understood" % (isa_set, tok))
        key = (int(parts[1], 16), int(parts[2], 16), parts[3], int(parts[4]))
        if key not in features:
            raise GenError("XED ISA set %s: no features.def row for %s" % (isa_set, tok))
        names.append(features[key])
    for qual, toks, where in lines:
        if qual:
            notes.append("%s: XED also lists %s under %s (%s); not used: the table names "
                         "the unqualified bits." % (isa_set, " ".join(toks), qual, where))
    return " ".join(names), plain[0][1]


def generate(isa_dir, cpuid_dir, features_def):
    features = read_features(features_def)
    cpuid = read_cpuid(cpuid_dir)
    rows, sources, notes = [], {}, []
    for name in sorted(os.listdir(isa_dir)):
        if not name.endswith("-isa.xed.txt"):
            continue
        for block in parse_blocks(os.path.join(isa_dir, name)):
            row = parse_pattern(block)
            rows.append(row)
            sources.setdefault(row["set"], set()).add(name)
    if not rows:
        raise GenError("no patterns in %s" % isa_dir)
    feats = {s: features_for(s, cpuid, features, notes) for s in sorted(sources)}
    rows = sorted(merge(rows), key=row_sort_key)
    check_overlaps(rows)
    return render(rows, feats, sources, notes)


HEADER = """\
/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * GENERATED by detector/analysis/gen_isafallback.py; do not edit.
 * Origin: Intel XED datafiles (https://github.com/intelxed/xed), Apache-2.0: facts about
 * encodings from the instruction patterns (datafiles/EXT/EXT-isa.xed.txt) and the ISA set
 * to CPUID bit tables (datafiles/EXT/cpuid.xed.txt).  Feature names are the features.def
 * rows at the CPUID bits XED names.
 * Regenerate: python3 detector/analysis/gen_isafallback.py (reads ../shared/data/xed-isa
 * and ../shared/data/xed-cpuid); with --check it compares instead of writing.
 *
 * The fallback attribution (isafallback.c) for encodings Zydis 4.0 does not know.
 * ISAFB(enc, map, opcode, pp, w, l, mod, reg, rm, vvvv, imm, "mnemonic", "XED extension",
 *       "XED ISA set", "features")
 *   enc     LEGACY, VEX or EVEX
 *   map     1 = 0F, 2 = 0F38, 3 = 0F3A, 5-7 = MAP5-MAP7 (VEX.mmmmm / EVEX.mmm numbering;
 *           legacy rows: the escape bytes)
 *   pp      mandatory prefix NP, 66, F3, F2 (VEX/EVEX pp; legacy: the last of F2/F3,
 *           else 66), or ANY
 *   w       W0, W1 (VEX/EVEX W; legacy REX.W) or WIG
 *   l       L128, L256, L512 or LIG
 *   mod     ModRM.mod: REG (3), MEM (0-2), 0, or ANY
 *   reg/rm  ModRM.reg / ModRM.rm (without REX/VEX extension bits), or ANY
 *   vvvv    NONE: VEX/EVEX.vvvv must be 1111b (no register there), or ANY
 *   imm     immediate bytes after ModRM, SIB and displacement
 *   features: features.def names, all of which must be advertised and enabled.
 *
 * ISA set          XED patterns                XED CPUID bits -> features
"""


def wrap(text, first, rest, width=92):
    """Comment lines of at most @width characters."""
    lines, cur = [], first
    for word in text.split():
        if len(cur) + len(word) + 1 > width and cur.strip(" *"):
            lines.append(cur.rstrip() + "\n")
            cur = rest
        cur += word + " "
    lines.append(cur.rstrip() + "\n")
    return lines


def render(rows, feats, sources, notes):
    out = [HEADER]
    for s in sorted(feats):
        names, bits = feats[s]
        out.append(" *   %-16s %-27s %s -> %s\n" % (s, ", ".join(sorted(sources[s])),
                                                  " ".join(bits), names))
    for n in notes:
        out.extend(wrap(n, " * ", " *   "))
    out.append(" * %d rows, %d ISA sets.\n */\n" % (len(rows), len(feats)))
    for r in rows:
        out.append('ISAFB(%s, %d, 0x%02x, %s, %s, %s, %s, %s, %s, %s, %d, "%s", "%s", "%s", "%s")\n'
                   % (r["enc"], r["map"], r["op"], show("pp", r["pp"]), show("w", r["w"]),
                      show("l", r["l"]), show("mod", r["mod"]), show("reg", r["reg"]),
                      show("rm", r["rm"]), r["vvvv"], r["imm"], r["mnemonic"], r["ext"],
                      r["set"], feats[r["set"]][0]))
    return "".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--xed-isa", default=os.path.join(DATA, "xed-isa"))
    ap.add_argument("--xed-cpuid", default=os.path.join(DATA, "xed-cpuid"))
    ap.add_argument("--features", default=next((p for p in FEATURES_DEFS
                                                if os.path.exists(p)), FEATURES_DEFS[-1]))
    ap.add_argument("-o", "--output", default=os.path.join(HERE, "isafallback.def"))
    ap.add_argument("--check", action="store_true",
                    help="compare with the committed table instead of writing it")
    args = ap.parse_args()
    for d in (args.xed_isa, args.xed_cpuid):
        if not os.path.isdir(d):
            print("gen_isafallback: no XED data at %s" % d, file=sys.stderr)
            return 2
    try:
        text = generate(args.xed_isa, args.xed_cpuid, args.features)
    except (GenError, OSError, KeyError, ValueError) as e:
        print("gen_isafallback: %s" % e, file=sys.stderr)
        return 2
    if args.check:
        try:
            with open(args.output, encoding="utf-8") as f:
                old = f.read()
        except OSError as e:
            print("gen_isafallback: %s" % e, file=sys.stderr)
            return 1
        if old != text:
            sys.stdout.writelines(difflib.unified_diff(
                old.splitlines(True), text.splitlines(True), args.output, "generated"))
            print("gen_isafallback: %s is not what the generator writes" % args.output,
                  file=sys.stderr)
            return 1
        return 0
    tmp = args.output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
