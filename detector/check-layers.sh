#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The include rule of detector/ (README, "Layers"): a file includes only its own layer and
# the layers below it; core/ includes nothing of ours but core/.  The top-level bpf/ and
# probes/ folders and the generated BPF skeletons belong to capture/.  Prints every include
# that crosses the rule as FILE:LINE: ... and exits 1 when there is one.
#
# usage: check-layers.sh [DETECTOR_DIR]
dir=${1:-detector}

rank() {
	case $1 in
	core) echo 0 ;;
	analysis) echo 1 ;;
	capture | formats) echo 2 ;;
	sinks) echo 3 ;;
	daemon) echo 4 ;;
	cli) echo 5 ;;
	*) echo -1 ;;
	esac
}

status=0
tmp=$(mktemp) || exit 2
trap 'rm -f "$tmp"' EXIT
for f in $(find "$dir" -mindepth 2 -name '*.[ch]' -o -mindepth 2 -name '*.def' | sort); do
	layer=$(basename "$(dirname "$f")")
	mine=$(rank "$layer")
	if [ "$mine" -lt 0 ]; then
		echo "$f: not in a layer folder (core analysis capture formats sinks daemon cli)"
		status=1
		continue
	fi
	# Every quoted include, with its line number.
	grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
		sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1 \2/' > "$tmp"
	while read -r line inc; do
		case $inc in
		bpf/* | probes/* | *.skel.h) them=capture ;;
		*/*) them=${inc%%/*} ;;
		*)
			echo "$f:$line: includes \"$inc\" without its layer folder"
			status=1
			continue
			;;
		esac
		theirs=$(rank "$them")
		if [ "$theirs" -lt 0 ]; then
			echo "$f:$line: includes \"$inc\" from no layer"
			status=1
		elif [ "$them" != "$layer" ] && [ "$theirs" -ge "$mine" ]; then
			echo "$f:$line: $layer includes $inc: $them is not below $layer"
			status=1
		fi
	done <"$tmp"
done
[ $status = 0 ] && echo "check-layers: every include goes down (core < analysis < capture, formats < sinks < daemon < cli)"
exit $status
