#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build the migration lab's guest: usage build-guest.sh PROG OUTDIR
#   PROG    the cpudrift binary to put in the guest (e.g. build/cpudrift)
#   OUTDIR  where vmlinuz and initrd.gz are written (a staging folder is made next to them)
# The kernel is Debian's linux-image-amd64 used as a plain file from /boot; nothing on
# this machine is changed.  Everything it needs here is built in (8250 serial, CMOS RTC,
# tmpfs, BPF with BTF), so the initramfs carries no modules.
set -eu

prog=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
stage=$out/root

kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
[ -n "$kernel" ] || { echo "build-guest: no /boot/vmlinuz-* (apt-get install linux-image-amd64)" >&2; exit 2; }
[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 ||
	{ echo "build-guest: need a static /bin/busybox (apt-get install busybox-static)" >&2; exit 2; }

rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/sbin" "$stage/proc" "$stage/sys" "$stage/dev" "$stage/run" \
	"$stage/tmp" "$stage/etc"
cp /bin/busybox "$stage/bin/busybox"
cp "$here/init" "$stage/init"
chmod 0755 "$stage/init"

# The victim must pick AVX2 itself; it is built for the baseline and uses a target attribute.
${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -Werror -march=x86-64 "$here/victim.c" -o "$stage/bin/victim"
# clock-back stores a SIGILL that is no feature's (tests/helpers' fault generator).
${CC:-cc} -std=gnu11 -O1 -Wall -Wextra -Werror -D_GNU_SOURCE -march=x86-64 "$here/../helpers/sigill_child.c" -o "$stage/bin/sigill_child"
cp "$prog" "$stage/bin/cpudrift"
# Debian's cpuid tool: the fleet scenario takes `cpuid -r` dumps inside each guest.
command -v cpuid >/dev/null || { echo "build-guest: need cpuid (apt-get install cpuid)" >&2; exit 2; }
cp "$(command -v cpuid)" "$stage/bin/cpuid"

# Every shared library (and the loader) at the path ldd resolved, so no ld.so.cache is needed.
for bin in "$stage/bin/cpudrift" "$stage/bin/victim" "$stage/bin/cpuid" "$stage/bin/sigill_child"; do
	ldd "$bin" | awk '/=> \// { print $3 } /^\t\// { print $1 }'
done | sort -u | while read -r lib; do
	mkdir -p "$stage$(dirname "$lib")"
	cp -L "$lib" "$stage$lib"
done

cp "$kernel" "$out/vmlinuz"
(cd "$stage" && find . -print | cpio -o -H newc --quiet) | gzip -1 >"$out/initrd.gz"
echo "build-guest: $(basename "$kernel") + initrd.gz ($(du -k "$out/initrd.gz" | cut -f1) KiB) in $out"
