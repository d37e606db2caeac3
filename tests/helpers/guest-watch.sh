#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The fault watcher on another kernel: usage guest-watch.sh [BUILD]
# Boots the newest /boot/vmlinuz-* (Debian 12's 6.1 on the project's machines) under QEMU
# TCG with an initramfs holding BUILD/cpudrift and the test helpers, and runs, for each
# variant (tp_btf, raw_tp): `cpudrift watch --json` beside a ud2, two forged SIGILLs
# (rt_sigqueueinfo with ILL_ILLOPN, tgkill), a tracer's injection and a storm of 10,000
# faults.  Exits 0 when, for both, the variant attached, the ud2 and the storm (exact
# count) were reported, the injection was traced and the forgeries were not faults.
# Not part of `make test`: it needs qemu-system-x86, busybox-static and a kernel in /boot
# (`make lab` installs them), and a minute or two.
set -eu

build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
out=$build/guest-watch
stage=$out/root

kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
[ -n "$kernel" ] || { echo "guest-watch: no /boot/vmlinuz-*" >&2; exit 2; }
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/proc" "$stage/sys" "$stage/dev" "$stage/tmp"
cp /bin/busybox "$stage/bin/busybox"
cp "$build/cpudrift" "$build/tests/helpers/forge" "$build/tests/helpers/sigill_child" \
	"$build/tests/helpers/tracer" "$stage/bin/"
for bin in "$stage"/bin/cpudrift "$stage"/bin/forge "$stage"/bin/sigill_child "$stage"/bin/tracer; do
	ldd "$bin" | awk '/=> \// { print $3 } /^\t\// { print $1 }'
done | sort -u | while read -r lib; do
	mkdir -p "$stage$(dirname "$lib")"
	cp -L "$lib" "$stage$lib"
done
cat >"$stage/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
echo "@@KERNEL $(uname -r)"
for v in tp_btf raw_tp; do
	cpudrift -v watch --variant $v --json --no-probe >/tmp/$v.out 2>/tmp/$v.err &
	W=$!
	for i in $(seq 60); do grep -q "watching faults" /tmp/$v.err && break; sleep 1; done
	sigill_child ud2 </dev/null >/dev/null
	echo "@@FORGED $v $(forge sigqueue </dev/null | cut -d' ' -f1) $(forge tgkill </dev/null | cut -d' ' -f1)"
	echo "@@TRACED $v $(tracer inject | cut -d' ' -f1)"
	sigill_child storm 10000 </dev/null >/dev/null &
	echo "@@STORM $v $!"
	wait $!
	sleep 3
	kill -INT $W
	wait $W
	echo "@@BEGIN $v"
	grep -v libbpf /tmp/$v.err | tail -5
	cat /tmp/$v.out
	echo "@@END $v"
done
poweroff -f
EOF
chmod 0755 "$stage/init"
(cd "$stage" && find . -print | cpio -o -H newc --quiet) | gzip -1 >"$out/initrd.gz"
timeout 900 qemu-system-x86_64 -accel tcg -cpu Haswell -m 512M -smp 1 -nographic -no-reboot \
	-kernel "$kernel" -initrd "$out/initrd.gz" -append "console=ttyS0 panic=-1 quiet" \
	>"$out/console.log" 2>&1 || true
python3 - "$out/console.log" <<'EOF'
import json, re, sys

text = open(sys.argv[1], errors="replace").read().replace("\r", "")
kernel = re.search(r"@@KERNEL (\S+)", text)
print("kernel", kernel.group(1) if kernel else "?")
ok = bool(kernel)
for v in ("tp_btf", "raw_tp"):
    try:
        block = text[text.index("@@BEGIN " + v):text.index("@@END " + v)]
        forged = [int(p) for p in re.search(r"@@FORGED %s (\d+) (\d+)" % v, text).groups()]
        traced = int(re.search(r"@@TRACED %s (\d+)" % v, text).group(1))
        storm = int(re.search(r"@@STORM %s (\d+)" % v, text).group(1))
    except (ValueError, AttributeError):
        print(v, "no output"); ok = False; continue
    lines = [json.loads(l) for l in block.split("\n") if l.startswith("{")]
    faults = [d for d in lines if d.get("kind") == "fault.sigill"]
    sites = {d["pid"]: d for d in lines if d.get("kind") == "watch.site"}
    checks = {
        "attached": "watching faults with the %s program" % v in block,
        "ud2 reported with its exe": any(d["comm"] == "sigill_child" and d["exe"].endswith("/sigill_child") and d["mnemonic"] == "ud2" for d in faults),
        "forgeries are no faults": not any(d["pid"] in forged for d in faults),
        "injection traced": bool([d for d in faults if d["pid"] == traced]) and all(d["origin"] == "traced" for d in faults if d["pid"] == traced),
        "storm counted exactly": sites.get(storm, {}).get("count") == 10000,
    }
    for name, good in checks.items():
        print("%-8s %-28s %s" % (v, name, "ok" if good else "FAILED"))
        ok &= good
sys.exit(0 if ok else 1)
EOF
