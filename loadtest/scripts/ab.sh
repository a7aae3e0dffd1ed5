#!/usr/bin/env bash
# An interleaved A/B run of the headline embedded figures (docs/benchmarks.md): single decisions
# (`--audit-sync process` at 32 connections, `full` at 48) and GraphQL mutations (16; the same
# mix through IAM's query protocol with AB_SCENARIOS=... mutations-aws-16), each on a
# freshly started release iamd seeded with 5 accounts x 20 users, alternating the two binaries
# (A B, then B A, ...) so drift in this shared machine's disk and CPU falls on both alike.
# The generator is this checkout's. Build both first, for example:
#   git worktree add ../base <commit> && (cd ../base && cargo build --release -p iamd)
#   cargo build --release -p iamd && cargo build --release -p loadtest   # separately: loadtest/README.md
# Usage: loadtest/scripts/ab.sh <iamd A> <iamd B> [duration, default 15s] [rounds, default 3]
# Prints one line per run and, per scenario, the mean of each side and B/A, p99 latency, and
# iamd's CPU time per request (cores used x 1e6 / rate: what a request costs, whatever the disk
# did meanwhile).
set -euo pipefail
cd "$(dirname "$0")/../.."

a_bin="$1"
b_bin="$2"
duration="${3:-15s}"
rounds="${4:-3}"
work="$(mktemp -d)"
L=target/release/loadtest
U=http://127.0.0.1:18080
iamd_pid=""
trap '[[ -n "$iamd_pid" ]] && kill "$iamd_pid" 2>/dev/null; rm -rf "$work"' EXIT

start() {
    local bin="$1"
    shift
    if [[ -n "$iamd_pid" ]]; then kill "$iamd_pid"; wait "$iamd_pid" 2>/dev/null || true; fi
    rm -rf "$work/data"
    "$bin" --data-dir "$work/data" --listen 127.0.0.1:18080 "$@" >"$work/iamd.log" 2>&1 &
    iamd_pid=$!
    for _ in $(seq 100); do curl -fs "$U/health" >/dev/null 2>&1 && break; sleep 0.1; done
    $L seed --url $U --data-dir "$work/data" --accounts 5 --principals 20 --concurrency 8 \
        --out "$work/seed.json" >"$work/seed.log" 2>&1 || { cat "$work/seed.log" >&2; exit 1; }
}

gen() {
    if ! $L "$@" --iamd-pid "$iamd_pid" --json "$work/r.json" >"$work/loadtest.log" 2>&1; then
        tail -20 "$work/loadtest.log" >&2
        exit 1
    fi
}

# scenario side -> appends "scenario side rate p99 unexpected errors" to results
record() {
    python3 - "$1" "$2" "$work/r.json" >>"$work/results" <<'PY'
import json, sys
scenario, side, path = sys.argv[1], sys.argv[2], sys.argv[3]
d = json.load(open(path))
rate = next(v for k, v in d.items() if k.endswith("PerSecond"))
p99 = (d.get("latencyMs") or {}).get("p99")
cores = (d.get("cpu") or {}).get("iamdCoresUsed") or 0
cpu_us = round(cores * 1e6 / rate, 1) if rate else 0
print(scenario, side, round(rate), p99, cpu_us, d.get("unexpectedDecisions", 0), d.get("errorCount", 0))
PY
    tail -1 "$work/results"
}

# AB_SCENARIOS picks some of: decisions-process-32 decisions-full-48 mutations-16 mutations-aws-16
# (default: the first three).
scenarios="${AB_SCENARIOS:-decisions-process-32 decisions-full-48 mutations-16}"

run() {
    local side="$1" bin="$2"
    if [[ " $scenarios " == *" decisions-process-32 "* ]]; then
        start "$bin" --audit-sync process
        gen decisions --url $U --seed "$work/seed.json" --duration "$duration" --concurrency 32
        record decisions-process-32 "$side"
    fi
    if [[ " $scenarios " == *" decisions-full-48 "* ]]; then
        start "$bin"
        gen decisions --url $U --seed "$work/seed.json" --duration "$duration" --concurrency 48
        record decisions-full-48 "$side"
    fi
    if [[ " $scenarios " == *" mutations-16 "* ]]; then
        start "$bin"
        gen mutations --url $U --seed "$work/seed.json" --duration "$duration" --concurrency 16
        record mutations-16 "$side"
    fi
    if [[ " $scenarios " == *" mutations-aws-16 "* ]]; then
        start "$bin"
        gen mutations --url $U --seed "$work/seed.json" --duration "$duration" --concurrency 16 --protocol aws
        record mutations-aws-16 "$side"
    fi
}

for round in $(seq "$rounds"); do
    echo "round $round"
    if (( round % 2 == 1 )); then
        run A "$a_bin"
        run B "$b_bin"
    else
        run B "$b_bin"
        run A "$a_bin"
    fi
done

python3 - "$work/results" <<'PY'
import sys, collections
rows = [l.split() for l in open(sys.argv[1])]
by = collections.defaultdict(lambda: collections.defaultdict(list))
for scenario, side, rate, p99, cpu_us, unexpected, errors in rows:
    by[scenario][side].append((int(rate), float(p99) if p99 != "None" else 0.0, float(cpu_us), int(unexpected), int(errors)))
print()
print(f"{'scenario':<22} {'A mean/s':>9} {'B mean/s':>9} {'B/A':>6}  {'A p99':>6} {'B p99':>6}  "
      f"{'A cpu us':>8} {'B cpu us':>8}  unexpected+errors")
for scenario, sides in by.items():
    mean = lambda side, i: sum(r[i] for r in sides[side]) / len(sides[side])
    a, b = mean("A", 0), mean("B", 0)
    print(f"{scenario:<22} {a:>9.0f} {b:>9.0f} {b / a:>6.3f}  {mean('A', 1):>6.2f} {mean('B', 1):>6.2f}  "
          f"{mean('A', 2):>8.1f} {mean('B', 2):>8.1f}  {sum(r[3] + r[4] for s in sides.values() for r in s)}")
PY
