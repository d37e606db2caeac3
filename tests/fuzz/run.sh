#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run the libFuzzer targets (`make fuzz`, `make bench`).
#
# usage: run.sh fuzz|bench SECONDS BINDIR CPUDRIFT TARGET...
#   fuzz   each target for SECONDS; its corpus grows in BINDIR/corpus/TARGET across runs,
#          what crashes lands in BINDIR/crashes/TARGET/; exit 1 when a target crashed
#   bench  each target for SECONDS from its seeds alone; prints `fuzz_exec_per_s_TARGET:`
#
# Seed corpora are made now, in BINDIR/seeds/TARGET, from tests/fixtures (and ../shared/data
# when present): the project commits none.  CPUDRIFT (the plain build) turns dumps into
# snapshot JSON; GNU as assembles the attribution corpus into instruction bytes.
set -eu

mode=$1 seconds=$2 bindir=$3 prog=$4
shift 4
src=$(cd "$(dirname "$0")/../.." && pwd)
shared=$src/../shared/data
seeds=$bindir/seeds
fixtures=$src/tests/fixtures

# --- seeds -----------------------------------------------------------------------------------

# put TARGET NAME: stdin becomes seed NAME of TARGET (when TARGET runs now).
put() {
	if [ -d "$seeds/$1" ]; then
		cat > "$seeds/$1/$2"
	else
		cat > /dev/null
	fi
}

# Largest seed and input: big inputs (dumps of many vCPUs) would slow every execution down
# for paths that small ones reach as well.
DUMP_MAX=16384
JSON_MAX=49152

# small FILE MAX: whether FILE has at most MAX bytes.
small() {
	[ "$(wc -c < "$1")" -le "$2" ]
}

make_seeds() {
	rm -rf "$seeds"
	for t in "$@"; do mkdir -p "$seeds/$t"; done
	tmp=$seeds/.work
	mkdir -p "$tmp"

	# Dumps: the fixtures, and libcpuid's corpus (the raw dump before its line of dashes).
	for f in "$fixtures"/dumps/*.txt; do
		b=$(basename "$f" .txt)
		put dump_detect "$b" < "$f"
		case $b in
		libcpuid-*) put dump_libcpuid "$b" < "$f" ;;
		aida64-*) put dump_aida64 "$b" < "$f" ;;
		cpuid-r*) put dump_cpuid_r "$b" < "$f" ;;
		esac
		"$prog" import --json "$f" > "$tmp/$b.json" 2>/dev/null && {
			put dump_json "$b" < "$tmp/$b.json"
			put snapjson "$b" < "$tmp/$b.json"
		}
		"$prog" export "$f" -o "$tmp/$b.lc" 2>/dev/null && put dump_libcpuid "$b-export" < "$tmp/$b.lc"
	done
	if [ -d "$shared/libcpuid-tests" ]; then
		n=0
		for f in $(find "$shared/libcpuid-tests" -name '*.test' | sort); do
			sed '/^-\{80\}$/,$d' "$f" > "$tmp/raw"
			small "$tmp/raw" $DUMP_MAX || continue
			n=$((n + 1))
			put dump_detect "lc$n" < "$tmp/raw"
			if grep -q '^basic_cpuid\[' "$tmp/raw"; then
				put dump_libcpuid "lc$n" < "$tmp/raw"
			else
				put dump_aida64 "lc$n" < "$tmp/raw"
			fi
			# Every fifth as JSON too: enough shapes without a slow start.
			[ $((n % 5)) -eq 0 ] && "$prog" import --json "$tmp/raw" > "$tmp/lc.json" 2>/dev/null &&
				small "$tmp/lc.json" $JSON_MAX &&
				put snapjson "lc$n" < "$tmp/lc.json" && put dump_json "lc$n" < "$tmp/lc.json"
		done
		echo "fuzz: seeds include the $n dumps of $shared/libcpuid-tests up to $DUMP_MAX bytes"
	else
		echo "fuzz: $shared is absent: seeds from tests/fixtures only"
	fi
	command -v cpuid > /dev/null && cpuid -r > "$tmp/cpuid-r" 2>/dev/null &&
		put dump_cpuid_r this-machine < "$tmp/cpuid-r"

	# The configuration: the shipped example documents every key.
	put config example < "$src/packaging/cpudrift.conf"
	printf 'interval = 5m\nfault_signals = SIGILL,SIGSEGV\nretention_bytes = 1G # c\n' |
		put config units

	# Recordings: stretches of 50 lines for replay, each line for the line parser.
	for f in "$fixtures"/recordings/*.jsonl; do
		b=$(basename "$f" .jsonl)
		[ ! -d "$seeds/replay" ] || (cd "$seeds/replay" && split -l 50 -a 3 "$f" "$b-")
		n=0
		while IFS= read -r line; do
			n=$((n + 1))
			printf '%s\n' "$line" | put recording "$b-$n"
		done < "$f"
	done

	# Instructions: the attribution corpus assembled by GNU as, one per 16-byte slot.
	if command -v as > /dev/null && command -v objcopy > /dev/null; then
		{
			echo '.intel_syntax noprefix'
			echo '.text'
			grep -v '^#' "$fixtures/attrib_corpus.txt" | sed -n 's/ *|.*//p' |
				sed 's/^/.p2align 4, 0xcc\n/'
			echo '.p2align 4, 0xcc'
		} > "$tmp/corpus.s"
		as --64 -o "$tmp/corpus.o" "$tmp/corpus.s" &&
			objcopy -O binary -j .text "$tmp/corpus.o" "$tmp/corpus.bin"
		(cd "$tmp" && split -b 16 -a 3 corpus.bin insn-)
		for f in "$tmp"/insn-*; do
			b=$(basename "$f")
			put attrib "$b" < "$f"
			put isafallback "$b" < "$f"
			od -An -tx1 -v "$f" | tr -d ' \n' | put explain "$b"
		done
		printf '0x0f,0x0b' | put explain sep-comma
		printf '\\xc4\\xe2\\x7d\\x58\\xc1' | put explain sep-backslash
		printf 'c4 e2 7d\00058 c1' | put explain words
	fi

	# /proc files: this machine's, read by a short-lived process, and hostile shapes.
	cat /proc/self/stat | put proc_stat self
	printf '42 (a) (b) c) S 1 42 42 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 12345 0 0\n' |
		put proc_stat comm
	cat /proc/self/cgroup | put proc_cgroup self
	printf '12:cpu,cpuacct:/user.slice\n1:name=systemd:/user.slice/user-1000.slice\n0::/user.slice/user-1000.slice/session-1.scope\n' |
		put proc_cgroup hybrid
	# maps: 8 bytes of IP inside the first executable mapping, then the file.
	cat /proc/self/maps > "$tmp/maps"
	ip=$(awk '$2 ~ /x/ { split($1, r, "-"); print r[1]; exit }' "$tmp/maps")
	{
		perl -e 'print pack("Q<", hex($ARGV[0]) + 16)' "$ip"
		cat "$tmp/maps"
	} | put proc_maps self
	{
		perl -e 'print pack("Q<", 0x7f0000001000)'
		printf '7f0000000000-7f0000100000 r-xp 00001000 08:01 1234    /usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libz.so.1\n'
	} | put proc_maps hwcaps
	printf 'PATH=/usr/bin\000GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2_Usable,-AVX_Fast_Unaligned_Load\000HOME=/\000' |
		put proc_environ masked
	printf 'LANG=C\000GLIBC_TUNABLES=glibc.malloc.check=3\000' | put proc_environ unmasked

	# Evidence bundles: a real one (the daemon replaying a fixture recording, then
	# `evidence`), as it is and as the plain tar inside, and a small hand-made tar whose
	# manifest holds the members' hashes.
	if [ -d "$seeds/bundle" ]; then
		"$prog" run --replay "$fixtures/recordings/feature_drift.jsonl" \
			--state-dir "$tmp/state" > /dev/null 2>&1 &&
			"$prog" evidence --state-dir "$tmp/state" -o "$tmp/b.tar.gz" > /dev/null 2>&1 && {
			put bundle real-gz < "$tmp/b.tar.gz"
			gzip -dc "$tmp/b.tar.gz" | put bundle real-tar
		}
		mkdir -p "$tmp/small/snapshots"
		printf '{"kind":"fault.sigill"}\n' > "$tmp/small/events.jsonl"
		printf '{"vcpus":[]}\n' > "$tmp/small/snapshots/after.json"
		(
			cd "$tmp/small"
			printf '{"members":{'
			sep=
			for m in events.jsonl snapshots/after.json; do
				printf '%s"%s":{"sha256":"%s"}' "$sep" "$m" "$(sha256sum "$m" | cut -c1-64)"
				sep=,
			done
			printf '}}\n'
		) > "$tmp/small/manifest.json"
		tar -C "$tmp/small" --format=ustar -cf - events.jsonl snapshots/after.json \
			manifest.json | put bundle small-tar
	fi
	rm -rf "$tmp"
}

# --- runs ------------------------------------------------------------------------------------

# final_stat LOG KEY: one of libFuzzer's final statistics.
final_stat() {
	sed -n "s/^stat::$2: *//p" "$1" | tail -n 1
}

run_one() {
	t=$1 corpus=$2 log=$3
	art=$bindir/crashes/$t
	extra=
	mkdir -p "$corpus" "$art"
	# /proc readers have line buffers of up to 4 KiB: their inputs must be able to pass them.
	case $t in
	proc_*) extra=-max_len=16384 ;;
	dump_libcpuid | dump_aida64 | dump_cpuid_r | dump_detect) extra=-max_len=$DUMP_MAX ;;
	dump_json | snapjson | recording | replay) extra=-max_len=$JSON_MAX ;;
	bundle) extra=-max_len=65536 ;;
	esac
	touch "$art/.start"
	set +e
	"$bindir/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$art/" $extra "$corpus" "$seeds/$t" \
		> "$log" 2>&1
	status=$?
	set -e
	execs=$(final_stat "$log" number_of_executed_units)
	rate=$(final_stat "$log" average_exec_per_sec)
	size=$(sed -n 's/.*corp: \([0-9]*\)\/.*/\1/p' "$log" | tail -n 1)
	crashes=$(find "$art" -newer "$art/.start" -type f \( -name 'crash-*' -o -name 'leak-*' \
		-o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
	[ "$status" -eq 0 ] || [ "$crashes" -gt 0 ] || crashes=1
}

mkdir -p "$bindir/logs"
make_seeds "$@"
failed=
for t in "$@"; do
	if [ "$mode" = bench ]; then
		rm -rf "$bindir/corpus/$t"
		run_one "$t" "$bindir/corpus/$t" "$bindir/logs/$t.log"
		echo "fuzz_exec_per_s_$t: ${rate:-?} exec/s"
	else
		run_one "$t" "$bindir/corpus/$t" "$bindir/logs/$t.log"
		printf 'fuzz %-14s %10s executions %7s exec/s  corpus %5s  crashes %s\n' "$t" \
			"${execs:-?}" "${rate:-?}" "${size:-?}" "$crashes"
	fi
	if [ "$crashes" -gt 0 ]; then
		failed="$failed $t"
		echo "fuzz: $t crashed: see $bindir/logs/$t.log and $bindir/crashes/$t/" >&2
		grep -m 3 -E '^(==[0-9]+==ERROR|.*runtime error|.*fuzz check failed)' \
			"$bindir/logs/$t.log" >&2 || true
	fi
done
if [ -n "$failed" ]; then
	echo "fuzz: crashed:$failed" >&2
	exit 1
fi
