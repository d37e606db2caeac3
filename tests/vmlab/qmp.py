# SPDX-License-Identifier: GPL-2.0-or-later
"""One lab guest under QEMU (TCG): start it, talk QMP to it, talk to init on ttyS1.

The guest's console (ttyS0) goes to a file for people; ttyS1 is a socket chardev on which
the guest's /init answers commands between "@@BEGIN name" and "@@END name status" lines.
"""
import json
import os
import socket
import subprocess
import time

QEMU = os.environ.get("QEMU", "qemu-system-x86_64")


class QemuExited(RuntimeError):
    """QEMU stopped before its sockets came up (a refused -cpu, for example)."""


def _connect(path, deadline, proc):
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if proc.poll() is not None:
                raise QemuExited(f"QEMU exited with status {proc.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no socket at {path}")
            time.sleep(0.05)


class Lines:
    """Line reader over a socket, with a deadline on every read."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def readline(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no line from the guest")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("guest channel closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace").rstrip("\r")


class Guest:
    """One QEMU process.  The initramfs guest passes kernel and initrd only; the systemd
    guest also passes its disks (file, format, read-only), its kernel command line and
    more memory; many-vcpus passes -smp."""

    def __init__(self, workdir, name, cpu, kernel, initrd, incoming=None, append=None,
                 drives=(), mem="256M", smp=1):
        self.name, self.cpu, self.dir = name, cpu, workdir
        self.qmp_path = os.path.join(workdir, f"{name}.qmp")
        self.ctl_path = os.path.join(workdir, f"{name}.ctl")
        self.console = os.path.join(workdir, f"{name}.console")
        for p in (self.qmp_path, self.ctl_path):
            if os.path.exists(p):
                os.unlink(p)
        # Source and destination must describe the same machine; only -cpu and the
        # chardev backends differ (QEMU migrates device state, not the CPU model check).
        if append is None:
            append = "console=ttyS0 panic=-1 quiet " + os.environ.get("LAB_APPEND", "")
        args = [QEMU, "-accel", "tcg", "-cpu", cpu, "-m", mem, "-smp", str(smp),
                "-display", "none", "-monitor", "none", "-no-reboot", "-nodefaults",
                "-kernel", kernel, "-initrd", initrd,
                "-append", append,
                "-serial", f"file:{self.console}",
                "-chardev", f"socket,id=ctl,path={self.ctl_path},server=on,wait=off",
                "-serial", "chardev:ctl",
                "-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        for path, fmt, ro in drives:
            args += ["-drive", f"file={path},format={fmt},if=virtio,cache=none,aio=threads"
                     + (",readonly=on" if ro else "")]
        if incoming:
            args += ["-incoming", incoming]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(workdir, f"{name}.stderr"), "w"))
        deadline = time.monotonic() + 10
        self.qmp = Lines(_connect(self.qmp_path, deadline, self.proc))
        self.qmp.readline(10)  # greeting
        self.execute("qmp_capabilities")
        self.ctl = Lines(_connect(self.ctl_path, deadline, self.proc))

    def execute(self, cmd, **args):
        msg = {"execute": cmd}
        if args:
            msg["arguments"] = args
        self.qmp.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = json.loads(self.qmp.readline(30))
            if "return" in r:
                return r["return"]
            if "error" in r:
                raise RuntimeError(f"{self.name}: {cmd}: {r['error'].get('desc')}")
            # asynchronous events (STOP, RESUME, MIGRATION...) are not answers

    def migrate(self, uri, timeout=120):
        self.execute("migrate", uri=uri)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.execute("query-migrate").get("status")
            if st == "completed":
                return
            if st in ("failed", "cancelled"):
                raise RuntimeError(f"{self.name}: migration {st}")
            time.sleep(0.05)
        raise TimeoutError(f"{self.name}: migration did not complete")

    def wait_for(self, prefix, timeout):
        deadline = time.monotonic() + timeout
        while True:
            line = self.ctl.readline(max(0.1, deadline - time.monotonic()))
            if line.startswith(prefix):
                return line

    def call(self, cmd, timeout=60):
        """Run one init command; returns (status, output lines)."""
        self.ctl.sock.sendall(cmd.encode() + b"\n")
        name = cmd.split()[0]
        self.wait_for(f"@@BEGIN {name}", timeout)
        out = []
        while True:
            line = self.ctl.readline(timeout)
            if line.startswith(f"@@END {name} "):
                return int(line.split()[-1]), out
            out.append(line)

    def quit(self):
        if self.proc.poll() is None:
            try:
                self.execute("quit")
            except (OSError, RuntimeError, TimeoutError, EOFError):
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
