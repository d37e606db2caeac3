#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The migration lab: live-migrate a guest running cpudrift between QEMU CPU models and check
what cpudrift inside the guest reports.  usage: lab.py PROG [SCENARIO...]

Prints one row per check (scenario, expected, observed, pass) and exits 1 if any check fails.
The guest runs `cpudrift run`; the driver reads its events and status back.  The fleet
scenario boots guests only to take `cpuid -r` dumps, runs `cpudrift fleet` on them here,
and boots its -cpu string with enforce.  clock-back and many-vcpus boot one guest each and do
not move it: a clock stepped inside the guest, and a 16-vCPU guest stopped for a few seconds.
"""
import concurrent.futures
import json
import os
import signal
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


# --- guests that do not move: clock-back, many-vcpus ------------------------------------------

def boot(work, name, append="", smp=1):
    """A guest running cpudrift (and the victim), settled: cpudrift has its first samples."""
    append = " ".join(["console=ttyS0 panic=-1 quiet", append, os.environ.get("LAB_APPEND", "")])
    g = Guest(work, name, "Haswell", os.path.join(work, "vmlinuz"),
              os.path.join(work, "initrd.gz"), append=append, smp=smp)
    try:
        g.wait_for("@@READY", 300)
        settle(g)
    except BaseException:
        g.quit()
        raise
    return g


def save(work, name, obs):
    with open(os.path.join(work, f"{name}.events.json"), "w") as f:
        json.dump(obs, f, indent=1)


def run_clock_back(work, prog, figures):
    """CLOCK_REALTIME stepped back an hour in the guest (date -s; the RTC keeps the host's
    time), with retention_days = 1: a SIGILL stored before the step, one after it, a
    retention pass (the daemon's tick, 10 s), then a step two days forward and another pass."""
    g = boot(work, "clock-back", "lab.retention=1")
    try:
        g.call("ud2")
        time.sleep(2)
        before = collect(g)
        before["step_mono_s"] = float(g.call("uptime")[1][0].split()[0])
        g.call("settime -3600")
        time.sleep(1)
        g.call("ud2")
        time.sleep(12)
        back = collect(g)
        g.call("settime 172800")
        time.sleep(12)
        obs = collect(g)
    finally:
        g.quit()
    # The checks of kinds see every event any listing showed; "final" is the last listing.
    obs["before"], obs["back"], obs["final"] = before["events"], back["events"], obs["events"]
    seen = {e.get("id"): e for e in before["events"] + back["events"] + obs["events"]}
    obs["events"] = [seen[i] for i in sorted(seen)]
    obs["step_mono_s"] = before["step_mono_s"]
    save(work, "clock-back", obs)
    return [(label, *fn(obs)) for label, fn in CLOCK_BACK_CHECKS]


# Longer than the soft-lockup watchdog's 4 s hrtimer, so every vCPU has a hard timer that
# falls due while the VM stands still, however idle it is.
STALL_S = 5
SWEEP_RUNS = 10


def run_many_vcpus(work, prog, figures):
    """16 vCPUs: the stored snapshot holds all of them; the time of a capture sweep; the
    whole QEMU process stopped (SIGSTOP) for STALL_S seconds, as a host that deschedules the
    VM would.  QMP `stop` would not do: TCG stops the guest's clocks with the VM, so the
    guest would see nothing."""
    g = boot(work, "many-vcpus", smp=16)
    try:
        status, out = g.call("sweep %d" % SWEEP_RUNS, timeout=300)
        sweep = out[-1].split() if status == 0 and out else []
        base = jsonl(g.call("baseline")[1])
        mono0 = float(g.call("uptime")[1][0].split()[0])
        g.proc.send_signal(signal.SIGSTOP)
        time.sleep(STALL_S)
        g.proc.send_signal(signal.SIGCONT)
        time.sleep(6)
        obs = collect(g)
    finally:
        g.quit()
    obs["pause_mono_s"] = mono0
    obs["baseline"] = base[0] if base else {}
    if len(sweep) == 8:  # runs N uptime T0 T1 T2 vcpus V
        n, t0, t1, t2 = int(sweep[1]), float(sweep[3]), float(sweep[4]), float(sweep[5])
        obs["sweep_ms"] = (t1 - t0) * 1000 / n
        obs["one_vcpu_ms"] = (t2 - t1) * 1000 / n
        obs["sweep_vcpus"] = int(sweep[7])
        extra = obs["sweep_ms"] - obs["one_vcpu_ms"]
        figures.append(f"lab: capture per sweep (many-vcpus, {obs['sweep_vcpus']} vCPUs, TCG): "
                       f"{obs['sweep_ms']:.0f} ms a `cpudrift snapshot` of every vCPU, "
                       f"{obs['one_vcpu_ms']:.0f} ms of vCPU 0 alone, so the other "
                       f"{obs['sweep_vcpus'] - 1} add {extra:.0f} ms "
                       f"({extra / max(1, obs['sweep_vcpus'] - 1):.1f} ms each; mean of {n})")
    save(work, "many-vcpus", obs)
    return [(label, *fn(obs)) for label, fn in MANY_VCPUS_CHECKS]


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


# --- clock-back -----------------------------------------------------------------------------

def sigills(events):
    return [e for e in events if e.get("kind") == "fault.sigill" and
            (e.get("body", {}).get("comm") or e.get("subject")) == "sigill_child"]


def kept_after(stage):
    def check(obs):
        want = {e.get("id") for e in obs["before"]}
        have = {e.get("id") for e in obs[stage]}
        lost = want - have
        return bool(want) and not lost, f"{len(want)} stored before the step, " + \
            (f"{len(lost)} deleted" if lost else "all kept") + f", {len(have)} now"
    return check


def monotonic_order(obs):
    """Listed by id, which is the order they were stored: monotonic time does not go back
    down the list (by more than the second a timing.stall waits for its episode to close),
    and the fault after the step comes after the one before it although its wall-clock
    time is an hour earlier."""
    ev = obs["final"]
    mono = [e.get("monotonic_ns", 0) for e in ev]
    ordered = all(a - b <= 2e9 for a, b in zip(mono, mono[1:]))
    f = sigills(ev)
    if len(f) < 2:
        return False, f"{len(f)} sigill_child fault(s) stored"
    back = (f[1]["realtime_ns"] - f[0]["realtime_ns"]) / 1e9
    return ordered and back < 0, (f"{len(ev)} events, monotonic order" if ordered else
                                  "monotonic time goes back down the list") + \
        f"; fault 2 after fault 1, realtime {back:+.0f} s"


def realtime_steps(obs):
    st = [e for e in of(obs, "timing.clock_step") if e.get("subject") == "realtime"]
    seen = ", ".join(f"{e.get('severity')} {e.get('body', {}).get('step_ns', 0) / 1e9:+.0f} s"
                     for e in st) or "none"
    ok = any(e.get("severity") != "critical" and
             abs(e.get("body", {}).get("step_ns", 0) + 3600e9) < 5e9 for e in st)
    return ok, "realtime steps: " + seen


def no_host_step(obs):
    ev = [e for e in of(obs, "timing.clock_step") if e.get("subject") != "realtime"]
    return not ev, "; ".join(e.get("summary", "") for e in ev) or "none"


CLOCK_BACK_CHECKS = [
    ("events before the step kept (1 h back)", kept_after("back")),
    ("and after 2 days forward (retention 1 d)", kept_after("final")),
    ("listed in monotonic order", monotonic_order),
    ("timing.clock_step -3600 s, not critical", realtime_steps),
    ("no host-clock step", no_host_step),
    ("nothing critical", nothing_critical),
    ("verdict <= low", verdict_at_most("low")),
    ("cpudrift running", alive("cpudrift", True)),
]


# --- many-vcpus -----------------------------------------------------------------------------

def all_vcpus(obs):
    v = obs["baseline"].get("vcpus", [])
    full = [x for x in v if x.get("leaves")]
    return len(v) == 16 and len(full) == 16, f"stored snapshot: {len(v)} vCPUs, " \
        f"{len(full)} with leaves"


def pause_stalls(obs, scope):
    """Stall events whose late interval covers the middle of the pause."""
    mid = (obs["pause_mono_s"] + STALL_S / 2) * 1e9
    return [e for e in of(obs, "timing.stall") if e.get("body", {}).get("scope") == scope and
            e.get("body", {}).get("due_mono_ns", 0) <= mid <= e.get("monotonic_ns", 0)]


def one_vm_stall(obs):
    vm = pause_stalls(obs, "vm")
    seen = "; ".join(e.get("summary", "") for e in vm) or "no VM-wide stall over the pause"
    return len(vm) == 1 and len(vm[0].get("body", {}).get("cpus", [])) == 16, seen


def no_vcpu_stalls(obs):
    cpu = pause_stalls(obs, "vcpu")
    return not cpu, f"{len(cpu)} per-vCPU stall(s) over the pause"


def at_most_one_incident(obs):
    ids = sorted({e.get("body", {}).get("incident_id", "?") for e in issues(obs)})
    return len(ids) <= 1, f"{len(ids)} incident(s)" + (f": {', '.join(ids)}" if ids else "")


MANY_VCPUS_CHECKS = [
    ("every vCPU captured (16)", all_vcpus),
    ("one VM-wide timing.stall (16 vCPUs)", one_vm_stall),
    ("no per-vCPU stall for it", no_vcpu_stalls),
    ("at most one incident", at_most_one_incident),
    ("nothing critical", nothing_critical),
    ("cpudrift running", alive("cpudrift", True)),
]

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
    # Not migrations either: a guest-local clock step, and a 16-vCPU guest stopped 5 s.
    "clock-back": ("Haswell", "no move: date -s 1 h back, then 2 d forward", 0, None),
    "many-vcpus": ("Haswell -smp 16", "no move: SIGSTOP of QEMU for %d s" % STALL_S, 0, None),
}
RUNNERS = {"fleet": lambda work, prog, figures: run_fleet(work, prog),
           "clock-back": run_clock_back, "many-vcpus": run_many_vcpus}


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
    figures = []

    def run_one(name):
        """(results, detection latency or None, migrations, false RTC steps) of one."""
        t = time.monotonic()
        lat, moved, false_steps = None, 0, 0
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
                    results = RUNNERS[name](work, prog, figures)
                else:
                    obs = run_scenario(work, name, src, dst, pause, opts)
                    lat = detection_latency(obs)
                    moved = 1
                    false_steps = len(false_rtc_steps(obs))
                    with open(os.path.join(work, f"{name}.events.json"), "w") as f:
                        json.dump(obs, f, indent=1)
                    results = [(label, *fn(obs)) for label, fn in checks]
            except Exception as e:  # a scenario that cannot run is a failed scenario
                results = [("scenario runs", False, f"{type(e).__name__}: {e}")]
        print(f"{name}: {how}: {time.monotonic() - t:.0f} s", file=sys.stderr)
        return results, lat, moved, false_steps

    # The systemd guest's scenarios (one root file system, booted in turn) run beside the
    # initramfs ones: each group in order, the two at once.  The host's two vCPUs then
    # each carry a TCG guest, and CI's lab takes the longer group's time, not the sum.
    groups = [[n for n in names if n in sdlab.SCENARIOS],
              [n for n in names if n not in sdlab.SCENARIOS]]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(lambda g: [(n, run_one(n)) for n in g], [g for g in groups if g]))
    outcome = {}  # a scenario named twice ran twice: its runs in order
    for name, out in (pair for group in done for pair in group):
        outcome.setdefault(name, []).append(out)
    rows, failed, latencies, moves, false_steps = [], 0, [], 0, 0
    for name in names:
        results, lat, moved, steps = outcome[name].pop(0)
        if lat is not None:
            latencies.append(f"{name} {lat:.1f} s")
        moves += moved
        false_steps += steps
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
    for line in figures:
        print(line)
    passed = sum(1 for r in rows if r[3] == "pass")
    skipped = sum(1 for r in rows if r[3] == "SKIP")
    print(f"lab: {len(names)} scenario(s) in {time.monotonic() - t0:.0f} s")
    print(f"lab: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
