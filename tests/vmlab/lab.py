#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The migration lab: live-migrate a guest running cpudrift between QEMU CPU models and check
what cpudrift inside the guest reports.  usage: lab.py PROG [SCENARIO...]

Prints one row per check (scenario, expected, observed, pass) and exits 1 if any check fails.
The guest runs `cpudrift run`; the driver reads its events and status back.  The fleet
scenario boots guests only to take `cpuid -r` dumps, runs `cpudrift fleet` on them here,
and boots its -cpu string with enforce.
"""
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmp import Guest  # noqa: E402
import sdlab  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CONF = ["none", "low", "medium", "high"]
LOSE = ("Haswell", "Haswell,-avx2")


def jsonl(lines):
    """JSON values in a command's output: one document (pretty or not) or one per line."""
    text = "\n".join(lines)
    try:
        doc = json.loads(text)
        return doc if isinstance(doc, list) else [doc]
    except ValueError:
        pass
    out = []
    for line in lines:
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        out.extend(doc if isinstance(doc, list) else [doc])
    return out


def collect(g):
    """What cpudrift in guest @g says, as events, plus who is still alive."""
    _, ping = g.call("ping")
    mode = ping[0].split()[0].split("=")[1]
    _, alive = g.call("alive")
    pids = dict(w.split("=") for w in ping[0].split()[1:])
    state = {w[0]: w[1] for w in (x.split() for x in alive)}
    obs = {"mode": mode, "cpudrift_alive": state.get(pids["cpudrift"]) == "alive",
           "victim_alive": state.get(pids["victim"]) == "alive", "victim_pid": int(pids["victim"])}
    clocks = g.call("clocks")[1][0].split()  # "realtime S rtc S", whole seconds
    obs["rtc_offset_s"] = int(clocks[3]) - int(clocks[1])
    obs["events"] = jsonl(g.call("events")[1])
    obs["status"] = jsonl(g.call("status")[1])
    return obs


def settle(g, timeout=90):
    """Wait until cpudrift has a baseline to compare with: starting BPF under TCG takes
    seconds, and a move before the first samples would be invisible."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(s.get("running") and s.get("last_snapshot") for s in jsonl(g.call("status")[1])):
            break
        time.sleep(1)
    else:
        raise TimeoutError("cpudrift never settled in the guest")
    time.sleep(1)


def run_scenario(work, name, src_cpu, dst_cpu, pause, opts=None):
    """opts: "append" (kernel command line: lab.interval=, lab.victim= for init), "settle"
    (seconds more to wait before the migration), "wait" (seconds to wait after it, 12 by
    default)."""
    opts = opts or {}
    append = " ".join(["console=ttyS0 panic=-1 quiet", opts.get("append", ""),
                       os.environ.get("LAB_APPEND", "")])
    kernel, initrd = os.path.join(work, "vmlinuz"), os.path.join(work, "initrd.gz")
    with socket.socket() as s:  # a free port for the destination to listen on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = Guest(work, f"{name}-src", src_cpu, kernel, initrd, append=append)
    dst = None
    try:
        src.wait_for("@@READY", 120)
        settle(src)
        time.sleep(opts.get("settle", 0))
        if pause:
            image = os.path.join(work, f"{name}.mig")
            src.migrate(f"exec:cat > {image}")
            src.quit()
            time.sleep(pause)
            dst = Guest(work, f"{name}-dst", dst_cpu, kernel, initrd, incoming=f"exec:cat {image}",
                        append=append)
        else:
            dst = Guest(work, f"{name}-dst", dst_cpu, kernel, initrd,
                        incoming=f"tcp:127.0.0.1:{port}", append=append)
            src.migrate(f"tcp:127.0.0.1:{port}")
        t = time.monotonic()
        while dst.execute("query-status")["status"] != "running":
            if time.monotonic() - t > 60:
                raise TimeoutError("destination never ran")
            time.sleep(0.1)
        # The guest's CLOCK_MONOTONIC (boot time) as it resumed on the destination: TCG's
        # guest clocks stand still while the VM is stopped, so this is the migration's time.
        resumed = float(dst.call("uptime")[1][0].split()[0])
        # The victim faults within 0.1 s; the daemon captures on that trigger, on a quick
        # check's finding or at its interval (10 s in the guest's configuration).
        time.sleep(opts.get("wait", 12))
        obs = collect(dst)
        obs["resumed_mono_s"] = resumed
        return obs
    finally:
        src.quit()
        if dst:
            dst.quit()
        image = os.path.join(work, f"{name}.mig")
        if os.path.exists(image):  # 100 MB of guest memory
            os.unlink(image)


# --- fleet: cpuid -r dumps of TCG guests, and the -cpu string cpudrift derives from them ------

# Several -cpu models, two vendors: the common set is smaller than any one of them.
FLEET_CPUS = ("Haswell-noTSX-IBRS", "Skylake-Client-noTSX-IBRS", "EPYC-Rome")


def guest_dump(work, name, cpu):
    """Boot a fleet-mode guest with -cpu @cpu and return its `cpuid -r` output (a list of
    lines), or raise; the guest is stopped either way."""
    g = Guest(work, name, cpu, os.path.join(work, "vmlinuz"), os.path.join(work, "initrd.gz"),
              append="console=ttyS0 panic=-1 quiet cpudrift.lab=fleet")
    try:
        g.wait_for("@@READY", 120)
        status, out = g.call("cpuid")
        if status or not any(line.startswith("CPU 0:") for line in out):
            raise RuntimeError(f"cpuid -r in the guest: status {status}")
        return out
    finally:
        g.quit()


def cpudrift_json(prog, *args):
    out = subprocess.run([prog, *args, "--json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def run_fleet(work, prog):
    """Returns check rows (label, ok, observed)."""
    rows, paths = [], []
    for i, cpu in enumerate(FLEET_CPUS):
        path = os.path.join(work, f"fleet-{cpu}.cpuid-r.txt")
        with open(path, "w") as f:
            f.write("\n".join(guest_dump(work, f"fleet-{i}", cpu)) + "\n")
        paths.append(path)
    rows.append(("cpuid -r in %d TCG guests" % len(paths), True, ", ".join(FLEET_CPUS)))

    scope = {f["name"]: f["scope"] for f in cpudrift_json(prog, "features")}
    each = [set(cpudrift_json(prog, "import", p)["features"]) for p in paths]
    # --qemu 7.2: the lab's QEMU must know the base model.
    report = cpudrift_json(prog, "fleet", "--qemu", "7.2", *paths)
    common = set(report["common"])
    inter = set.intersection(*each)
    rows.append(("common set is the intersection", common == inter,
                 f"{len(common)} features" + ("" if common == inter else
                                              f"; differ: {sorted(common ^ inter)}")))
    bad = []
    for m in report["models"]:
        feats = set(cpudrift_json(prog, "models", m["name"])["features"])
        usable = {f for f in feats if scope[f] in ("user", "hint")}
        if not usable <= common:
            bad.append(f"{m['name']} has {sorted(usable - common)}")
    rows.append(("named models fit inside it", bool(report["models"]) and not bad,
                 "; ".join(bad) or ", ".join(m["name"] for m in report["models"])))

    cpu = report["qemu"]["cpu"]
    if not cpu:
        rows.append(("-cpu string emitted", False, "no base model"))
        return rows
    try:
        out = guest_dump(work, "fleet-check", cpu + ",enforce")
    except Exception as e:  # enforce refusing the string is the failure this looks for
        err = open(os.path.join(work, "fleet-check.stderr")).read().strip()
        rows.append(("-cpu STRING,enforce boots", False, f"{e}: {err[-200:]}"))
        return rows
    rows.append(("-cpu STRING,enforce boots", True, cpu))
    path = os.path.join(work, "fleet-check.cpuid-r.txt")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    guest = set(cpudrift_json(prog, "import", path)["features"])
    rows.append(("its guest holds the common set", common <= guest,
                 f"{len(guest)} features" + ("" if common <= guest else
                                             f"; missing {sorted(common - guest)}")))
    return rows


# --- checks: each returns (ok, observed); ok None means "cannot tell" -----------------------

def of(obs, kind):
    return [e for e in obs["events"] if e.get("kind") == kind]


def no_kind(kind):
    def check(obs):
        ev = of(obs, kind)
        return not ev, f"{len(ev)} {kind}" + (f" ({ev[0].get('summary', '')})" if ev else "")
    return check


def verdict_at_most(level):
    def check(obs):
        conf = max((CONF.index(e.get("body", {}).get("confidence", "none")) for e in
                    of(obs, "migration.suspected")), default=0)
        return conf <= CONF.index(level), f"confidence {CONF[conf]}"
    return check


def verdict_at_least(level):
    def check(obs):
        ok, seen = verdict_at_most(level)(obs)
        top = seen.split()[-1]
        return CONF.index(top) >= CONF.index(level), seen
    return check


def drift(change, feature, severity):
    def check(obs):
        seen = [f"{e.get('severity')} {','.join(e.get('body', {}).get(change, []))}"
                for e in of(obs, "cpuid.drift")]
        ok = any(e.get("severity") == severity and
                 (e.get("body", {}).get(change) if feature is None else
                  feature in e.get("body", {}).get(change, [])) for e in of(obs, "cpuid.drift"))
        return ok, "; ".join(seen) or "no cpuid.drift"
    return check


def nothing_critical(obs):
    crit = [e["kind"] for e in obs["events"] if e.get("severity") == "critical"]
    return not crit, f"critical: {', '.join(crit) or 'none'}"


def victim_fault(obs):
    ev = [{**e.get("body", {}), "comm": e.get("body", {}).get("comm", e.get("subject"))}
          for e in of(obs, "fault.sigill")
          if obs["victim_pid"] in (e.get("pid"), e.get("body", {}).get("pid"))]
    seen = "; ".join(f"{f.get('comm')} {f.get('class')} [{','.join(f.get('features', []))}]"
                     for f in ev) or "no fault of the victim"
    return any(f.get("class") == "feature-lost" and "avx2" in f.get("features", [])
               for f in ev), seen


def victim_at_risk(obs):
    seen = set()
    for e in of(obs, "migration.suspected"):
        procs = e.get("body", {}).get("at_risk", {}).get("processes", [])
        seen |= {f"{p.get('comm')}[{p.get('pid')}]" for p in procs}
        if any(p.get("pid") == obs["victim_pid"] for p in procs):
            return True, "listed: " + ", ".join(sorted(seen))
    return False, "listed: " + (", ".join(sorted(seen)) or "nothing")


def rtc_step(obs):
    ev = [e for e in of(obs, "timing.clock_step") if e.get("subject") != "realtime"]
    return bool(ev), "; ".join(e.get("summary", "") for e in ev) or \
        f"no host-clock step (RTC - realtime now {obs['rtc_offset_s']:+d} s)"


def detection_latency(obs):
    """Seconds from the guest's resume on the destination to the first cpuid.drift, or None."""
    t = [e["monotonic_ns"] / 1e9 for e in of(obs, "cpuid.drift")
         if e.get("monotonic_ns", 0) / 1e9 >= obs.get("resumed_mono_s", 0) - 1]
    return min(t) - obs["resumed_mono_s"] if t and "resumed_mono_s" in obs else None


def detected_within(seconds):
    def check(obs):
        lat = detection_latency(obs)
        return (lat is not None and lat <= seconds,
                "no cpuid.drift" if lat is None else f"cpuid.drift {lat:.1f} s after the move")
    return check


def issues(obs):
    return of(obs, "migration.suspected")


def one_incident(obs):
    ids = sorted({e.get("body", {}).get("incident_id", "?") for e in issues(obs)})
    return len(ids) == 1, f"{len(ids)} incident(s): {', '.join(ids) or 'none'}"


# Timing events the verdict weighs: those of an incident must be among its reasons.
def timing_reasons(obs):
    keys = set()
    for e in obs["events"]:
        if e.get("kind") == "timing.clock_step":
            keys.add("timing.clock_step/" + ("realtime" if e.get("subject") == "realtime" else "host"))
        elif e.get("kind") == "timing.stall" and e.get("body", {}).get("scope") == "vm":
            keys.add("timing.stall/vm")
        elif e.get("kind") in ("timing.tsc_rate", "timing.clocksource", "timing.steal",
                               "timing.cpuid_latency"):
            keys.add(e["kind"])
    return keys


def incident_reasons(obs):
    last = issues(obs)[-1] if issues(obs) else {}
    have = {r.get("reason") for r in last.get("body", {}).get("reasons", [])}
    want = {"fault.sigill/migration", "cpuid.drift"} | timing_reasons(obs)
    return want <= have, "reasons: " + ", ".join(sorted(have)) + \
        (f"; missing {', '.join(sorted(want - have))}" if want - have else "")


def victim_casualty(obs):
    last = issues(obs)[-1] if issues(obs) else {}
    cas = last.get("body", {}).get("casualties", [])
    seen = ", ".join(f"{p.get('comm')}[{p.get('pid')}] {p.get('feature')}" for p in cas)
    return any(p.get("pid") == obs["victim_pid"] for p in cas), "casualties: " + (seen or "none")


def no_casualty(obs):
    cas = [p for e in issues(obs) for p in e.get("body", {}).get("casualties", [])]
    return not cas, f"{len(cas)} casualties"


def verdict_severity_at_most(sev):
    order = ["info", "notice", "warning", "critical"]

    def check(obs):
        top = max((order.index(e.get("severity", "info")) for e in issues(obs)), default=0)
        return top <= order.index(sev), f"verdict severity {order[top]}" + \
            ("" if issues(obs) else " (no verdict)")
    return check


def false_rtc_steps(obs):
    """Host-clock steps that are not the migration's own.  Under TCG the guest's clocks stand
    still through the stop-and-copy (measured here: 0.2-0.3 s over loopback), so the RTC
    really moves ahead once, at the move.  Any other step is false: one before the move or
    long after it, one backwards ("fell behind"), a second one."""
    real_seen, false = False, []
    for e in of(obs, "timing.clock_step"):
        if e.get("subject") == "realtime":
            continue
        t = e.get("monotonic_ns", 0) / 1e9 - obs.get("resumed_mono_s", 0)
        if not real_seen and -3 <= t <= 10 and e.get("body", {}).get("jump_ns", 0) > 0:
            real_seen = True
        else:
            false.append(e)
    return false


def alive(who, want):
    def check(obs):
        up = obs[f"{who}_alive"]
        return up == want, "running" if up else "gone"
    return check


CONTROL = [("no cpuid.drift", no_kind("cpuid.drift")), ("no fault.sigill", no_kind("fault.sigill")),
           ("verdict <= low", verdict_at_most("low")), ("cpudrift running", alive("cpudrift", True)),
           ("victim running", alive("victim", True))]
LOSE_CHECKS = [("cpuid.drift avx2 removed, critical", drift("removed", "avx2", "critical")),
               ("victim SIGILL feature-lost [avx2]", victim_fault),
               ("migration.suspected high", verdict_at_least("high")),
               ("one incident", one_incident),
               ("its reasons: fault, drift, timing", incident_reasons),
               ("victim under casualties", victim_casualty),
               ("cpudrift running", alive("cpudrift", True)), ("victim gone", alive("victim", False))]
# The quick check must see a loss no program shows, at default settings (interval 300 s).
DEFAULTS = {"append": "lab.interval=300", "wait": 20}
SCENARIOS = {
    "control": ("Haswell", "Haswell", 0, CONTROL),
    "lose-avx2": (*LOSE, 0, LOSE_CHECKS),
    "gain": ("Westmere", "Haswell", 0,
             [("cpuid.drift added, notice", drift("added", None, "notice")),
              ("nothing critical", nothing_critical), ("cpudrift running", alive("cpudrift", True))]),
    # The RTC offset is the median of five readings, one a second, sent once three are
    # there: the daemon needs a few seconds before the move.  After the jump its update
    # interrupts stop (it passed their alarm): re-armed after 3 s on the timing tick, then
    # three readings for the median and one that confirms the step.
    "paused": (*LOSE, 3, LOSE_CHECKS + [("timing.clock_step from the RTC", rtc_step)],
               {"settle": 5, "wait": 20}),
    "lose-aes": ("Haswell", "Haswell,-aes,-pclmulqdq", 0,
                 [("cpuid.drift aes removed, critical", drift("removed", "aes", "critical")),
                  ("seen within 10 s of the move", detected_within(10)),
                  ("no fault.sigill", no_kind("fault.sigill")),
                  ("victim listed at risk", victim_at_risk),
                  ("cpudrift running", alive("cpudrift", True)),
                  ("victim running", alive("victim", True))], DEFAULTS),
    "gain-quiet": ("Westmere", "Haswell", 0,
                   [("cpuid.drift added, notice", drift("added", None, "notice")),
                    ("no fault.sigill", no_kind("fault.sigill")), ("no casualty", no_casualty),
                    ("verdict severity <= warning", verdict_severity_at_most("warning")),
                    ("cpudrift running", alive("cpudrift", True)),
                    ("victim running", alive("victim", True))],
                   {"append": "lab.victim=portable"}),
    # Not a migration: dumps of TCG guests and the -cpu string `cpudrift fleet` makes of them.
    "fleet": ("+".join(FLEET_CPUS), "-cpu from cpudrift fleet, enforce", 0, None),
}


def main():
    prog = os.path.abspath(sys.argv[1])
    names = sys.argv[2:] or list(SCENARIOS) + list(sdlab.SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS and n not in sdlab.SCENARIOS]
    if unknown:
        print(f"lab: unknown scenario(s): {' '.join(unknown)}", file=sys.stderr)
        return 2
    work = os.path.join(os.path.dirname(prog), "vmlab")
    os.makedirs(work, exist_ok=True)
    t0 = time.monotonic()
    if any(n in SCENARIOS for n in names):
        subprocess.run([os.path.join(HERE, "build-guest.sh"), prog, work], check=True)
    # The systemd guest installs the .deb (`make deb`; the Makefile passes LAB_DEB).
    deb = os.environ.get("LAB_DEB", "")
    prepared = {}
    rows, failed, latencies, moves, false_steps = [], 0, [], 0, 0
    for name in names:
        t = time.monotonic()
        if name in sdlab.SCENARIOS:
            how = f"{sdlab.SCENARIOS[name][0]}, {sdlab.SCENARIOS[name][1]}"
            if not os.path.exists(deb):
                results = [("scenario runs", False, f"no package at LAB_DEB={deb!r} (make deb)")]
            else:
                results = sdlab.run(work, name, deb, prepared)
        else:
            src, dst, pause, checks, *rest = SCENARIOS[name]
            opts = rest[0] if rest else {}
            how = f"{src} -> {dst}" + (f", paused {pause} s" if pause else "")
            try:
                if checks is None:
                    results = run_fleet(work, prog)
                else:
                    obs = run_scenario(work, name, src, dst, pause, opts)
                    lat = detection_latency(obs)
                    if lat is not None:
                        latencies.append(f"{name} {lat:.1f} s")
                    moves += 1
                    false_steps += len(false_rtc_steps(obs))
                    with open(os.path.join(work, f"{name}.events.json"), "w") as f:
                        json.dump(obs, f, indent=1)
                    results = [(label, *fn(obs)) for label, fn in checks]
            except Exception as e:  # a scenario that cannot run is a failed scenario
                results = [("scenario runs", False, f"{type(e).__name__}: {e}")]
        print(f"{name}: {how}: {time.monotonic() - t:.0f} s", file=sys.stderr)
        for label, ok, seen in results:
            failed += ok is False
            rows.append((name, label, str(seen), "SKIP" if ok is None else "pass" if ok else "FAIL"))
    w = [max(len(r[i]) for r in rows + [("scenario", "expected", "observed", "pass")]) for i in range(3)]
    for r in [("scenario", "expected", "observed", "pass")] + rows:
        print(f"{r[0]:<{w[0]}}  {r[1]:<{w[1]}}  {r[2][:70]:<{min(w[2], 70)}}  {r[3]}")
    if moves:
        print(f"lab: detection latency (resume to cpuid.drift): {', '.join(latencies) or 'none'}")
    if moves:
        print(f"lab: false RTC steps: {false_steps} over {moves} migration(s)")
    passed = sum(1 for r in rows if r[3] == "pass")
    skipped = sum(1 for r in rows if r[3] == "SKIP")
    print(f"lab: {len(names)} scenario(s) in {time.monotonic() - t0:.0f} s")
    print(f"lab: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
