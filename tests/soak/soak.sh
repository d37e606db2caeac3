#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# usage: soak.sh [DURATION]   (seconds per phase, default 600)
#
# False-alarm soak: record every timing observation live for DURATION seconds on the idle
# machine, then for DURATION seconds under `stress-ng --cpu 2`, replay each recording
# through the same analysis the daemon runs, and print how many events of each kind came
# out.  Exits 1 when a migration.suspected verdict of medium or high confidence appears
# (the target is none), 2 on errors.  Needs root for the BPF stall source.
set -eu

DURATION=${1:-600}
CPUDRIFT=${CPUDRIFT:-build/cpudrift}
TMP=$(mktemp -d /tmp/cpudrift-soak.XXXXXX)
LOADPID=
trap 'if [ -n "$LOADPID" ]; then kill "$LOADPID" 2>/dev/null || true; fi; rm -rf "$TMP"' EXIT INT TERM

if ! command -v stress-ng >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "soak: installing stress-ng"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stress-ng >/dev/null
	else
		echo "soak: stress-ng is missing (apt install stress-ng)" >&2
		exit 2
	fi
fi

alarm=0
for phase in idle load; do
	if [ "$phase" = load ]; then
		stress-ng --cpu 2 --timeout "$((DURATION + 10))s" --quiet &
		LOADPID=$!
		sleep 2
	fi
	"$CPUDRIFT" record -o "$TMP/$phase.jsonl" --duration "$DURATION"
	if [ -n "$LOADPID" ]; then
		kill "$LOADPID" 2>/dev/null || true
		wait "$LOADPID" 2>/dev/null || true
		LOADPID=
	fi
	rc=0
	"$CPUDRIFT" replay --json "$TMP/$phase.jsonl" > "$TMP/$phase.events" || rc=$?
	if [ "$rc" -ge 2 ]; then
		echo "soak: replay of the $phase recording failed" >&2
		exit 2
	fi
	echo "soak $phase: ${DURATION}s, $(wc -l < "$TMP/$phase.jsonl") observations"
	for kind in timing.stall timing.tsc_rate timing.clock_step timing.clocksource \
		timing.steal timing.cpuid_latency cpuid.drift fault.sigill migration.suspected; do
		n=$(grep -c "\"kind\":\"$kind\"" "$TMP/$phase.events" || true)
		echo "  $kind: $n"
	done
	for conf in low medium high; do
		n=$(grep '"kind":"migration.suspected"' "$TMP/$phase.events" |
			grep -c "\"confidence\":\"$conf\"" || true)
		echo "  migration.suspected/$conf: $n"
		if [ "$conf" != low ] && [ "$n" -gt 0 ]; then
			alarm=1
		fi
	done
	grep '"kind":"timing.stall"' "$TMP/$phase.events" | sed 's/.*"summary":"\([^"]*\)".*/    stall: \1/' | head -5
done
if [ "$alarm" = 1 ]; then
	echo "soak: FAILED: medium or high migration verdicts without a migration" >&2
	exit 1
fi
echo "soak: no medium or high verdict"
