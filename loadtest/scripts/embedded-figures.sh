#!/usr/bin/env bash
# The embedded-mode figures of docs/benchmarks.md ("iamd over HTTP"): each scenario on a freshly
# started release iamd (loopback only), seeded with 5 accounts x 20 users, then the generator's
# JSON summary condensed to one line. Build first:
#   cargo build --release -p iamd && cargo build --release -p loadtest
# Usage: loadtest/scripts/embedded-figures.sh [duration, default 15s] [rounds, default 1]
# With several rounds the whole set runs again, so each scenario is measured at several moments
# (this shared disk's sync latency drifts over minutes).
set -euo pipefail
cd "$(dirname "$0")/../.."

duration="${1:-15s}"
rounds="${2:-1}"
work="$(mktemp -d)"
L=target/release/loadtest
U=http://127.0.0.1:18080
iamd_pid=""
trap '[[ -n "$iamd_pid" ]] && kill "$iamd_pid" 2>/dev/null; rm -rf "$work"' EXIT

# The generator's progress display goes to a log; it is shown when a run fails.
gen() {
    if ! $L "$@" --iamd-pid "$iamd_pid" --json "$work/r.json" >"$work/loadtest.log" 2>&1; then
        tail -20 "$work/loadtest.log" >&2
        exit 1
    fi
}

start() {
    if [[ -n "$iamd_pid" ]]; then kill "$iamd_pid"; wait "$iamd_pid" 2>/dev/null || true; fi
    rm -rf "$work/data"
    target/release/iamd --data-dir "$work/data" --listen 127.0.0.1:18080 "$@" >"$work/iamd.log" 2>&1 &
    iamd_pid=$!
    for _ in $(seq 100); do curl -fs "$U/health" >/dev/null 2>&1 && break; sleep 0.1; done
    $L seed --url $U --data-dir "$work/data" --accounts 5 --principals 20 --concurrency 8 \
        --out "$work/seed.json" >"$work/seed.log" 2>&1 || { cat "$work/seed.log" >&2; exit 1; }
}

show() {
    python3 - "$1" "$work/r.json" <<'PY'
import json, sys
label, path = sys.argv[1], sys.argv[2]
d = json.load(open(path))
latency = d.get("latencyMs") or d.get("lagMs") or {}
rates = {k: round(v) for k, v in d.items() if k.endswith("PerSecond")}
cpu = d.get("cpu", {})
print(f"{label:<16} {rates} p50/p99/p999 ms {latency.get('p50')}/{latency.get('p99')}/{latency.get('p999')}"
      f" iamd {cpu.get('iamdCoresUsed')} cores, generator {cpu.get('loadtestCoresUsed')};"
      f" unexpected {d.get('unexpectedDecisions', 0)}, errors {d.get('errorCount', 0)}")
PY
}

for round in $(seq "$rounds"); do
    if [[ "$rounds" -gt 1 ]]; then echo "round $round"; fi
    for c in 16 32 48 64; do
        start
        gen decisions --url $U --seed "$work/seed.json" --duration "$duration" --concurrency "$c"
        show "full, $c conns"
    done
    for c in 32 48; do
        start --audit-sync process
        gen decisions --url $U --seed "$work/seed.json" --duration "$duration" --concurrency "$c"
        show "process, $c"
    done
    start
    gen decisions --url $U --seed "$work/seed.json" --duration "$duration" --concurrency 16 --batch 100
    show "batch of 100"
    start
    gen mutations --url $U --seed "$work/seed.json" --duration "$duration" --concurrency 16
    show "mutations"
    start
    gen audit-lag --url $U --seed "$work/seed.json" --samples 200 --background-concurrency 16
    show "audit lag"
done
