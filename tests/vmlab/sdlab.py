# SPDX-License-Identifier: GPL-2.0-or-later
"""The systemd lab: cpudrift installed from its .deb in a Debian 12 guest with systemd as
PID 1 (QEMU TCG, Debian's kernel and initrd), checked the way a user meets it.

Scenarios `systemd` (install, unit, journal, store, restart, stop, upgrade, purge) and
`systemd-migrate` (a live migration Haswell -> Haswell,-avx2 under the unit).  Each returns
rows (label, ok, observed); ok None is SKIP, with the reason as observed.
"""
import glob
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import time

from qmp import Guest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
# glibc 2.36 names, as in the initramfs guest's init: PID 1 gets it on the kernel command
# line (the initrd passes it on), every service through DefaultEnvironment.
MASK = ("glibc.cpu.hwcaps=-AVX,-AVX2,-FMA,-FMA4,-F16C,-BMI1,-BMI2,-LZCNT,-MOVBE,-XSAVEC,"
        "-AVX512F,-AVX512CD,-AVX512BW,-AVX512DQ,-AVX512VL,-AVX_VNNI")
# What the guest has beyond debootstrap's minbase, besides cpudrift's runtime libraries.
BASE_PKGS = ["systemd-sysv", "udev", "dbus", "man-db", "sqlite3", "procps"]
# journald MESSAGE_IDs (detector/sink_journal.c, packaging/catalog/cpudrift.catalog).
MSGID_FAULT = "c64b49fa45ff44b798b0c78908b51837"
# CapEff the unit grants: CAP_SYS_PTRACE 19, CAP_SYSLOG 34, CAP_PERFMON 38, CAP_BPF 39.
UNIT_CAPS = (1 << 19) | (1 << 34) | (1 << 38) | (1 << 39)
UNITS = "/lib/systemd/system/cpudrift.service /lib/systemd/system/cpudrift-hooks.service " \
        "/lib/systemd/system/cpudrift-hooks.path"
EXPOSURE_MAX = 2.0


def kernel_pair():
    """Debian's newest kernel and its initrd (virtio_blk and ext4 are modules in it)."""
    for k in sorted(glob.glob("/boot/vmlinuz-*"), reverse=True):
        initrd = "/boot/initrd.img-" + k.split("vmlinuz-", 1)[1]
        if os.path.exists(initrd):
            return k, initrd
    raise RuntimeError("no /boot/vmlinuz-* with its initrd.img (apt-get install linux-image-amd64)")


def deb_depends(deb):
    """Package names of a .deb's Depends (first alternative, no versions)."""
    dep = subprocess.run(["dpkg-deb", "-f", deb, "Depends"], capture_output=True, text=True,
                         check=True).stdout
    return sorted({d.split("|")[0].split("(")[0].strip() for d in dep.split(",") if d.strip()})


def rootfs(work, deb):
    """The cached root file system image; rebuilt when its package list or builder changes."""
    pkgs = sorted(set(BASE_PKGS) | set(deb_depends(deb)))
    with open(os.path.join(HERE, "build-rootfs.sh"), "rb") as f:
        key = hashlib.sha256(f.read() + " ".join(pkgs).encode()).hexdigest()[:12]
    image = os.path.join(work, f"rootfs-{key}.ext4")
    if not os.path.exists(image):
        for old in glob.glob(os.path.join(work, "rootfs-*.ext4")):
            os.unlink(old)
        t = time.monotonic()
        subprocess.run([os.path.join(HERE, "build-rootfs.sh"), image] + pkgs, check=True)
        print(f"lab: root file system built in {time.monotonic() - t:.0f} s", flush=True)
    return image


def upgrade_deb(deb, out):
    """The same package rebuilt with a higher version (+lab1), as an upgrade to install."""
    tmp = out + ".tree"
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run(["dpkg-deb", "-R", deb, tmp], check=True)
    ctl = os.path.join(tmp, "DEBIAN", "control")
    with open(ctl) as f:
        text = f.read()
    version = re.search(r"^Version: (\S+)", text, re.M).group(1)
    with open(ctl, "w") as f:
        f.write(text.replace(f"Version: {version}", f"Version: {version}+lab1"))
    path = os.path.join(out, f"cpudrift_{version}+lab1_amd64.deb")
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-b", tmp, path], check=True,
                   capture_output=True)
    shutil.rmtree(tmp)
    return f"{version}+lab1"


def data_disk(work, deb):
    """The lab disk (/dev/vdb, mounted on /lab): the agent, the victims, the packages."""
    d = os.path.join(work, "labdisk")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "debs", "upgrade"))
    shutil.copy(os.path.join(HERE, "agent"), d)
    cc = os.environ.get("CC", "cc")
    subprocess.run([cc, "-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-march=x86-64",
                    os.path.join(HERE, "victim.c"), "-o", os.path.join(d, "victim")], check=True)
    subprocess.run([cc, "-std=gnu11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE",
                    os.path.join(SRC, "tests", "helpers", "sigill_child.c"), "-o",
                    os.path.join(d, "sigill_child")], check=True)
    shutil.copy(deb, os.path.join(d, "debs"))
    newver = upgrade_deb(deb, os.path.join(d, "debs", "upgrade"))
    # A hook that logs who ran it and what its sandbox lets it see: it runs as cpudrift-hook,
    # reads nothing of the state dir but the spool, cannot write the spool, sees no /var/log.
    with open(os.path.join(d, "90-lab-hook"), "w") as f:
        f.write("#!/bin/sh\n"
                "seen=$(ls -A /var/lib/cpudrift | tr '\\n' ' ')\n"
                "ls /var/log >/dev/null 2>&1 && log=var-log-visible || log=no-var-log\n"
                "touch /var/lib/cpudrift/spool/x 2>/dev/null && sp=spool-writable || sp=spool-read-only\n"
                "logger -t lab-hook \"hook ran: $CPUDRIFT_KIND pid=$CPUDRIFT_PID user=$(id -un) "
                "state=[$seen] $log $sp\"\n")
    os.chmod(os.path.join(d, "90-lab-hook"), 0o755)
    image = os.path.join(work, "labdisk.ext4")
    if os.path.exists(image):
        os.unlink(image)
    subprocess.run(["mke2fs", "-q", "-t", "ext4", "-d", d, "-L", "lab", image, "64M"], check=True,
                   stderr=subprocess.DEVNULL)
    shutil.rmtree(d)
    return image, newver


class Lab:
    """One scenario's guest(s) and its rows."""

    def __init__(self, work, name, root_image, data_image, newver):
        self.work, self.name, self.rows = work, name, []
        self.kernel, self.initrd = kernel_pair()
        self.data, self.newver = data_image, newver
        self.overlay = os.path.join(work, f"{name}.qcow2")
        if os.path.exists(self.overlay):
            os.unlink(self.overlay)
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
                        os.path.abspath(root_image), self.overlay], check=True)
        self.guests = []

    def boot(self, role, cpu, incoming=None):
        transcript = os.path.join(self.work, f"{self.name}-{role}.transcript")
        if os.path.exists(transcript):
            os.unlink(transcript)
        g = Guest(self.work, f"{self.name}-{role}", cpu, self.kernel, self.initrd, incoming,
                  append=f"root=/dev/vda rw console=ttyS0 quiet panic=-1 GLIBC_TUNABLES={MASK}",
                  drives=[(self.overlay, "qcow2", False), (self.data, "raw", True)], mem="512M")
        self.guests.append(g)
        return g

    def close(self):
        for g in self.guests:
            if g.proc.poll() is None:  # what the daemon logged and stored, for people
                try:
                    sh(g, "cpudrift events --json", 60)
                    sh(g, "journalctl --no-pager -o short-monotonic -u cpudrift "
                          "-u cpudrift-hooks -t cpudrift -n 300", 60)
                except Exception:
                    pass
            g.quit()
        if os.path.exists(self.overlay):
            os.unlink(self.overlay)

    def row(self, label, ok, seen):
        self.rows.append((label, ok, seen))
        return ok


def sh(g, cmd, timeout=120):
    """(status, text) of a shell command in the guest; each call is logged, with its time,
    in OUT/vmlab/<guest>.transcript."""
    t = time.monotonic()
    with open(os.path.join(g.dir, f"{g.name}.transcript"), "a") as log:
        log.write(f"$ {cmd}\n")
        log.flush()
        try:
            st, out = g.call(cmd, timeout)
            if out and out[-1] == "":  # the agent's separator before @@END
                out.pop()
        except Exception as e:
            log.write(f"!! {type(e).__name__}: {e} after {time.monotonic() - t:.1f} s\n")
            raise
        log.write("".join(line + "\n" for line in out))
        log.write(f"-> {st} in {time.monotonic() - t:.1f} s\n")
    return st, "\n".join(out)


def wait_active(g, since_pid=None, timeout=240):
    """Wait for cpudrift.service to be active (Type=notify: after READY=1), with a new
    main PID when since_pid is given.  Returns the unit's properties."""
    deadline = time.monotonic() + timeout
    while True:
        _, out = sh(g, "systemctl show -p ActiveState,SubState,MainPID,NRestarts,Result cpudrift")
        props = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        if props.get("ActiveState") == "active" and props.get("MainPID") not in ("0", since_pid):
            return props
        if time.monotonic() > deadline:
            return props
        time.sleep(1)


def as_user(user, cmd):
    return f"setpriv --reuid={user} --regid={user} --init-groups -- {cmd}"


def events(g, kind=None, user="ops"):
    """Events in the store, read as an adm member (not root), and the command's status."""
    cmd = "cpudrift events --json" + (f" --kind {kind}" if kind else "")
    st, out = sh(g, as_user(user, cmd))
    evs = []
    for line in out.splitlines():
        try:
            evs.append(json.loads(line))
        except ValueError:
            pass
    return st, evs, out


def journal(g, match):
    """Journal entries (JSON) matching a field=value."""
    _, out = sh(g, f"journalctl -o json --no-pager {match}")
    ents = []
    for line in out.splitlines():
        try:
            ents.append(json.loads(line))
        except ValueError:
            pass
    return ents


def install(lab, g):
    st, out = sh(g, "dpkg -i /lab/debs/cpudrift_*.deb", 300)
    lab.row("dpkg -i installs the package", st == 0,
            "installed" if st == 0 else out.strip().splitlines()[-1:])
    props = wait_active(g)
    return props


def unit_checks(lab, g, props):
    ok = props.get("ActiveState") == "active"
    lab.row("unit active (Type=notify, READY=1)", ok,
            f"{props.get('ActiveState')}/{props.get('SubState')} pid {props.get('MainPID')}")
    pid = props.get("MainPID", "0")
    _, st = sh(g, "cpudrift status --json")
    try:
        status = json.loads(st)
    except ValueError:
        status = {}
    lab.row("full mode (fault watcher attached)", status.get("mode") == "full",
            f"mode {status.get('mode')} {status.get('mode_reason', '')}".strip())
    _, caps = sh(g, f"grep -E '^(CapEff|CapBnd|CapAmb)' /proc/{pid}/status; "
                    f"ps -o user=,group= -p {pid}")
    eff = re.search(r"CapEff:\s*([0-9a-f]+)", caps)
    who = caps.splitlines()[-1].split() if caps.strip() else []
    lab.row("runs as cpudrift:adm with the unit's 4 capabilities",
            bool(eff) and int(eff.group(1), 16) == UNIT_CAPS and who[:2] == ["cpudrift", "adm"],
            f"user {' '.join(who)} CapEff {eff.group(1) if eff else '?'}")
    _, out = sh(g, "systemctl is-enabled cpudrift-hooks.path; systemctl is-active cpudrift-hooks.path")
    lab.row("cpudrift-hooks.path enabled and watching", out.split() == ["enabled", "active"],
            " ".join(out.split()))
    return pid


def verify_and_security(lab, g):
    st, out = sh(g, f"systemd-analyze verify {UNITS} 2>&1")
    lab.row("systemd-analyze verify prints nothing (man-db present)", st == 0 and not out.strip(),
            out.strip().replace("\n", " | ")[:200] or "silent")
    for unit in ("cpudrift.service", "cpudrift-hooks.service"):
        _, out = sh(g, f"systemd-analyze security --no-pager {unit}")
        with open(os.path.join(lab.work, f"{lab.name}.security-{unit}.txt"), "w") as f:
            f.write(out + "\n")
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out)
        level = float(m.group(1)) if m else 99.0
        print(f"{lab.name}: systemd-analyze security {unit}: "
              f"{m.group(0) if m else 'no exposure line'}", flush=True)
        if unit == "cpudrift.service":
            for line in out.splitlines():  # what the remaining exposure is made of
                if "✗" in line:
                    print("    " + re.sub(r"\s{2,}", "  ", line.strip()), flush=True)
        lab.row(f"{unit} exposure <= {EXPOSURE_MAX}", level <= EXPOSURE_MAX,
                f"exposure {level}")




def systemd_scenario(lab):
    g = lab.boot("vm", "Haswell")
    g.wait_for("@@READY", 240)
    props = install(lab, g)
    pid = unit_checks(lab, g, props)
    verify_and_security(lab, g)

    # A SIGILL (ud2) from an unprivileged user: journal with catalog text, and the store
    # read by an adm member.
    st, _ = sh(g, as_user("lab", "/lab/sigill_child ud2"))
    time.sleep(3)
    _, xout = sh(g, f"journalctl -x --no-pager MESSAGE_ID={MSGID_FAULT}")
    lab.row("SIGILL of user lab in journalctl MESSAGE_ID= with catalog text",
            "sigill_child" in xout and "died of an illegal instruction" in xout,
            f"child exit {st}; " + ("catalog text shown" if "died of an illegal" in xout
                                     else "no catalog text") +
            ("" if "sigill_child" in xout else ", no sigill_child entry"))
    est, evs, eout = events(g, "fault.sigill")
    seen = [e for e in evs if (e.get("body", {}).get("comm") or e.get("subject")) == "sigill_child"]
    lab.row("... and in `cpudrift events` run by adm member ops", bool(seen),
            f"{len(seen)} event(s), class {seen[0].get('body', {}).get('class') if seen else '-'}"
            if est in (0, 1) else eout.strip()[-120:])
    sh(g, "install -m 0755 /lab/90-lab-hook /etc/cpudrift/hooks.d/90-lab-hook")
    sh(g, as_user("lab", "/lab/sigill_child ud2"))
    time.sleep(5)
    _, hout = sh(g, "journalctl --no-pager -t lab-hook; "
                    "systemctl show -p Result,ExecMainStatus cpudrift-hooks.service")
    lab.row("... and a run of cpudrift-hooks.service", "hook ran: fault.sigill" in hout,
            hout.replace("\n", " | ")[:150])
    ran = [line for line in hout.splitlines() if "hook ran:" in line]
    lab.row("the hook runs as cpudrift-hook, sees only the spool, no /var/log",
            bool(ran) and all("user=cpudrift-hook" in line and "state=[spool ]" in line and
                              "no-var-log" in line and "spool-read-only" in line
                              for line in ran), (ran[-1] if ran else "no hook run")[-150:])

    # Reload: same PID, new configuration applied; a bad one refused and kept out.
    sh(g, "cp /etc/cpudrift/cpudrift.conf /root/conf.orig && "
          "echo 'log_level = info' >> /etc/cpudrift/cpudrift.conf")
    st, out = sh(g, "systemctl reload cpudrift")
    after = wait_active(g)
    _, sout = sh(g, "cpudrift status --json")
    applied = '"reload_result":"applied"' in sout.replace(" ", "")
    lab.row("systemctl reload keeps the PID, applies the new configuration",
            st == 0 and after.get("MainPID") == pid and applied,
            f"reload exit {st}, pid {pid} -> {after.get('MainPID')}, "
            f"{'applied' if applied else 'not applied'}")
    sh(g, "echo 'no_such_key = 1' >> /etc/cpudrift/cpudrift.conf")
    st, out = sh(g, "systemctl reload cpudrift")
    after = wait_active(g)
    _, sout = sh(g, "cpudrift status --json")
    refused = '"reload_result":"refused"' in sout.replace(" ", "")
    lab.row("a bad configuration fails the reload, daemon keeps running",
            st != 0 and after.get("MainPID") == pid and refused,
            f"reload exit {st}, {after.get('ActiveState')} pid {after.get('MainPID')}, "
            f"{'refused' if refused else 'not refused'}")
    sh(g, "cp /root/conf.orig /etc/cpudrift/cpudrift.conf && systemctl reload cpudrift")

    # SIGKILL: restarted by Restart=on-failure, the store intact.
    _, before, _ = events(g)
    sh(g, "systemctl kill -s KILL cpudrift")
    after = wait_active(g, since_pid=pid)
    _, evs, _ = events(g)
    ids = {e.get("id") for e in evs}
    kept = all(e.get("id") in ids for e in before)
    lab.row("systemctl kill -s KILL: restarted, store intact",
            after.get("ActiveState") == "active" and after.get("MainPID") != pid and kept,
            f"pid {pid} -> {after.get('MainPID')}, NRestarts {after.get('NRestarts')}, "
            f"events {len(before)} -> {len(evs)}")
    pid = after.get("MainPID")

    # A clean stop says so in the textfile (written through the tmpfiles ACL).
    prom = "/var/lib/prometheus/node-exporter/cpudrift.prom"
    sh(g, "systemctl stop cpudrift")
    _, out = sh(g, f"grep '^cpudrift_up ' {prom}; stat -c '%U:%G %a' {prom}")
    lab.row("systemctl stop leaves cpudrift_up 0", out.startswith("cpudrift_up 0"),
            out.replace("\n", ", "))
    # node_exporter (user prometheus) reads the textfile only if it is world-readable.
    mode = out.split()[-1] if out.strip() else "?"
    lab.row("textfile mode 0644 for node_exporter", True if mode == "644" else None,
            "0644" if mode == "644" else f"needs the textfile written 0644 (now {mode})")
    # adm members read the store with the daemon stopped too: a read-only WAL reader cannot
    # create the -wal and -shm files, so the daemon must leave them (persistent WAL).
    st, out = sh(g, as_user("ops", "cpudrift status") + " >/dev/null; echo status=$?; "
                    "ls /var/lib/cpudrift")
    readable = "status=1" in out  # 1: not running; 2: the store could not be read
    lab.row("adm member reads the store of a stopped daemon", True if readable else None,
            "read" if readable else "needs the store to keep its -wal/-shm files "
            "(SQLITE_FCNTL_PERSIST_WAL): " + " ".join(out.split()))
    sh(g, "systemctl start cpudrift")
    pid = wait_active(g).get("MainPID")

    # Upgrade to a rebuilt package: the edited configuration and the store stay.
    sh(g, "echo 'interval = 120' >> /etc/cpudrift/cpudrift.conf")
    _, before, _ = events(g)
    st, out = sh(g, "dpkg -i /lab/debs/upgrade/cpudrift_*.deb", 300)
    after = wait_active(g, since_pid=pid)
    _, ver = sh(g, "dpkg-query -W -f='${Version}' cpudrift")
    _, conf = sh(g, "grep -c '^interval = 120$' /etc/cpudrift/cpudrift.conf")
    _, evs, _ = events(g)
    ids = {e.get("id") for e in evs}
    lab.row("upgrade keeps the edited configuration and the store",
            st == 0 and ver.strip() == lab.newver and conf.strip() == "1"
            and all(e.get("id") in ids for e in before),
            f"version {ver.strip()}, edit kept {conf.strip() == '1'}, "
            f"events {len(before)} -> {len(evs)}")
    lab.row("upgrade restarts the service", after.get("ActiveState") == "active" and
            after.get("MainPID") != pid, f"pid {pid} -> {after.get('MainPID')}")

    # Every systemctl call above made PID 1 arm timerfds at absolute 1 ns ("now"): a timer
    # armed in the past is not late, so none may show as a stall.  Those showed the guest's
    # uptime (minutes); a 1-vCPU TCG guest on a busy host also stands still for real while
    # QEMU's thread waits for a CPU (tens to hundreds of ms), which is counted, not failed.
    late = [float(m.group(1)) for e in journal(g, "CPUDRIFT_KIND=timing.stall")
            for m in [re.search(r"stood still for ([0-9.]+) ms", e.get("MESSAGE", ""))] if m]
    armed = [t for t in late if t >= 10000]
    lab.row("no stall from timers armed in the past (none >= 10 s)", not armed,
            f"{len(late)} stall(s) in the journal" +
            (f", {len(armed)} of 10 s or more, longest {max(late) / 1e3:.1f} s" if armed else
             f", longest {max(late):.0f} ms (the host kept TCG off the CPU)" if late else ""))

    # Remove keeps the store and drops the textfile; purge removes the state.
    st, _ = sh(g, "dpkg -r cpudrift", 300)
    _, out = sh(g, f"systemctl is-active cpudrift; ls /var/lib/cpudrift; test -e {prom}; echo prom=$?")
    lab.row("dpkg -r stops it, keeps the store, deletes the textfile",
            st == 0 and "cpudrift.db" in out and "prom=1" in out and
            not out.startswith("active"), out.replace("\n", " ")[:120])
    # The lab's own hook is the admin's file, not the package's: dpkg keeps what it does not
    # own, so take it away as an admin would before purging.
    sh(g, "rm -f /etc/cpudrift/hooks.d/90-lab-hook")
    st, _ = sh(g, "dpkg --purge cpudrift", 300)
    _, out = sh(g, "ls -d /var/lib/cpudrift /var/lib/cpudrift-hooks /etc/cpudrift 2>&1 | wc -l; "
                   "ls -d /var/lib/cpudrift /var/lib/cpudrift-hooks /etc/cpudrift 2>/dev/null")
    lab.row("dpkg --purge removes the state and the configuration",
            st == 0 and out.split()[0] != "0" and len(out.split()) == 1,
            "nothing left" if len(out.split()) == 1 else "left: " + " ".join(out.split()[1:]))


def migrate_scenario(lab):
    src_cpu, dst_cpu = "Haswell", "Haswell,-avx2"
    src = lab.boot("src", src_cpu)
    src.wait_for("@@READY", 240)
    # A process of another user that survives the move, started before the daemon (whose
    # start-up is part of the verdict's window): the at-risk list must see it through
    # ProtectProc=invisible (CAP_SYS_PTRACE lets the daemon see every user's processes).
    _, spid = sh(src, as_user("lab", "sleep 100000") + " >/dev/null 2>&1 & echo $!")
    spid = int(spid.strip().splitlines()[-1])
    props = install(lab, src)
    pid = props.get("MainPID")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # a first snapshot to compare with
        _, st = sh(src, "cpudrift status --json")
        try:
            if json.loads(st).get("last_snapshot"):
                break
        except ValueError:
            pass
        time.sleep(1)
    # Let the start-up settle: the daemon captures again on its first timing events, and a
    # capture asked for within 2 s of the previous one is skipped until the next interval
    # (300 s by default), so a move in that window would go unseen (see packaging/README.md).
    time.sleep(8)
    # The victim: user lab, without the glibc mask, AVX2 code every 100 ms.
    _, vpid = sh(src, as_user("lab", "env -u GLIBC_TUNABLES /lab/victim") +
                 " >/tmp/victim.log 2>&1 & echo $!")
    vpid = vpid.strip().splitlines()[-1]
    time.sleep(2)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dst = lab.boot("dst", dst_cpu, incoming=f"tcp:127.0.0.1:{port}")
    src.migrate(f"tcp:127.0.0.1:{port}")
    t = time.monotonic()
    while dst.execute("query-status")["status"] != "running":
        if time.monotonic() - t > 60:
            raise TimeoutError("destination never ran")
        time.sleep(0.1)
    src.quit()
    time.sleep(15)  # the victim faults at once; the daemon snapshots on the trigger
    _, out = sh(dst, "systemctl show -p ActiveState,MainPID,NRestarts cpudrift")
    p = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    lab.row("unit stays active through the migration",
            p.get("ActiveState") == "active" and p.get("MainPID") == pid,
            f"{p.get('ActiveState')}, pid {pid} -> {p.get('MainPID')}, "
            f"NRestarts {p.get('NRestarts')}")
    drift = [e for e in journal(dst, "CPUDRIFT_KIND=cpuid.drift")
             if e.get("CPUDRIFT_SEVERITY") == "critical"]
    lab.row("journal: cpuid.drift critical, avx2 removed",
            any("avx2" in (e.get("MESSAGE", "") + e.get("CPUDRIFT_FEATURE", "")) for e in drift),
            "; ".join(e.get("MESSAGE", "")[:80] for e in drift) or "no critical cpuid.drift")
    faults = [e for e in journal(dst, "CPUDRIFT_KIND=fault.sigill")
              if e.get("CPUDRIFT_PID") == vpid]
    lab.row("journal: the victim's fault.sigill feature-lost [avx2]",
            any(e.get("CPUDRIFT_CLASS") == "feature-lost" and e.get("CPUDRIFT_FEATURE") == "avx2"
                for e in faults),
            "; ".join(f"{e.get('CPUDRIFT_COMM')} {e.get('CPUDRIFT_CLASS')} "
                      f"[{e.get('CPUDRIFT_FEATURE')}]" for e in faults) or
            f"no fault of pid {vpid}")
    verdicts = journal(dst, "CPUDRIFT_KIND=migration.suspected")
    lab.row("journal: migration.suspected high",
            any(e.get("CPUDRIFT_CONFIDENCE") == "high" for e in verdicts),
            ", ".join(f"{e.get('CPUDRIFT_CONFIDENCE')}" for e in verdicts) or "no verdict")
    _, evs, _ = events(dst, "migration.suspected")
    procs = [p for e in evs for p in e.get("body", {}).get("at_risk", {}).get("processes", [])]
    lab.row("at-risk list sees user lab's process (ProtectProc=invisible)",
            any(p.get("pid") == spid for p in procs),
            f"{len(procs)} listed" + ("" if any(p.get("pid") == spid for p in procs)
                                      else f", not sleep[{spid}]") +
            f", {sum(1 for p in procs if p.get('exe'))} with exe")
    _, alive = sh(dst, f"kill -0 {vpid} 2>/dev/null && echo alive || echo gone")
    lab.row("victim gone", alive.strip() == "gone", alive.strip())


SCENARIOS = {
    "systemd": ("Haswell", "package, unit and journal under systemd", systemd_scenario),
    "systemd-migrate": ("Haswell -> Haswell,-avx2", "under systemd", migrate_scenario),
}


def run(work, name, deb, prepared):
    """Run one systemd scenario; `prepared` caches the root and lab disks for the run."""
    if "root" not in prepared:
        prepared["root"] = rootfs(work, deb)
        prepared["data"], prepared["newver"] = data_disk(work, deb)
    lab = Lab(work, name, prepared["root"], prepared["data"], prepared["newver"])
    try:
        SCENARIOS[name][2](lab)
    except Exception as e:  # a scenario that cannot run is a failed scenario
        lab.row("scenario runs", False, f"{type(e).__name__}: {e}")
    finally:
        lab.close()
    return lab.rows
