#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The systemd lab guest's root file system: usage build-rootfs.sh IMAGE PACKAGE...
#   IMAGE     the ext4 image to write (its folder also holds the debootstrap tree while
#             building)
#   PACKAGE   Debian packages to preinstall beyond minbase: cpudrift's runtime libraries
#             (from the .deb's Depends), systemd, man-db, ...
# Debian 12 from the mirror this machine's apt uses, no network inside the guest, and a
# boot hook (lab-boot.service) that hands the guest to /lab/agent on the second disk.
# The image is made with mke2fs -d: nothing is mounted on this machine.
set -eu

image=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
tree=$image.tree

# The mirror apt uses here (deb822 or one-line sources).
mirror=$(grep -hs '^URIs:' /etc/apt/sources.list.d/debian.sources | awk '{ print $2; exit }')
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' \
	/etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian

rm -rf "$tree"
include=$(echo "$@" | tr ' ' ',')
debootstrap --variant=minbase --include="$include" bookworm "$tree" "$mirror" \
	>"$image.debootstrap.log" 2>&1 ||
	{ tail -n 20 "$image.debootstrap.log" >&2; echo "build-rootfs: debootstrap failed" >&2; exit 1; }

# --- what every lab boot needs --------------------------------------------------------------
echo lab >"$tree/etc/hostname"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' >"$tree/etc/fstab"
# Root logs in nowhere (no getty): the agent on ttyS1 is the only way in.
chroot "$tree" passwd -d root >/dev/null
# An unprivileged user for the victims, and an operator in group adm who reads the store.
chroot "$tree" useradd -m -s /bin/sh lab
chroot "$tree" useradd -m -s /bin/sh -G adm ops
# As if node_exporter were installed (Debian ships its textfile folder root:root 0755):
# the package's tmpfiles ACL must let user cpudrift write there.
mkdir -p "$tree/var/lib/prometheus/node-exporter"
# dpkg -i must not rebuild the man-db index under TCG (tens of seconds).
echo 'man-db man-db/auto-update boolean false' | chroot "$tree" debconf-set-selections
rm -f "$tree/var/lib/man-db/auto-update"

# Everything the manager starts keeps glibc off AVX2/AVX-512 routines, so that the guest
# survives the loss of AVX2 (PID 1 gets the same mask from the kernel command line); the
# victims start without it on purpose.
mkdir -p "$tree/etc/systemd/system.conf.d"
cat >"$tree/etc/systemd/system.conf.d/lab.conf" <<'EOF'
[Manager]
DefaultEnvironment=GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX,-AVX2,-FMA,-FMA4,-F16C,-BMI1,-BMI2,-LZCNT,-MOVBE,-XSAVEC,-AVX512F,-AVX512CD,-AVX512BW,-AVX512DQ,-AVX512VL,-AVX_VNNI
EOF

# No getty, no timers, nothing that would only slow a TCG boot.
for unit in getty@tty1.service serial-getty@ttyS0.service apt-daily.timer \
	apt-daily-upgrade.timer man-db.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer \
	systemd-timesyncd.service dpkg-db-backup.timer; do
	ln -sf /dev/null "$tree/etc/systemd/system/$unit"
done

# The boot hook: mount the lab disk and run its agent (a root shell server on ttyS1).
cat >"$tree/etc/systemd/system/lab-boot.service" <<'EOF'
[Unit]
Description=Lab agent on ttyS1 (from the lab disk)
After=local-fs.target

[Service]
ExecStartPre=/bin/mkdir -p /lab
ExecStartPre=/bin/mount -o ro /dev/vdb /lab
ExecStart=/bin/bash /lab/agent
Restart=always
RestartSec=1

[Install]
WantedBy=multi-user.target
EOF
ln -sf /etc/systemd/system/lab-boot.service \
	"$tree/etc/systemd/system/multi-user.target.wants/lab-boot.service"

# --- the image ------------------------------------------------------------------------------
chroot "$tree" apt-get clean
rm -rf "$tree/var/lib/apt/lists/"* "$tree/var/cache/apt/"*.bin "$tree/usr/share/doc/"* \
	"$tree/usr/share/locale/"*
size=$(du -sm "$tree" | cut -f1)
rm -f "$image"
mke2fs -q -t ext4 -d "$tree" -L lab-root "$image" $((size + 384))M
rm -rf "$tree"
echo "build-rootfs: $image (${size} MiB of files)"
