#!/usr/bin/env bash
# The Organizations single-decision figure of docs/benchmarks.md: the same `loadtest decisions`
# command (single decisions, `--audit-sync process`, 32 connections, the headline figure's) against
# an iamd whose seeded accounts are members five OUs deep of a 10,000-account organization, and
# against an iamd without any organization, alternating, each run on a freshly started iamd.
#
# Build first, one package per command (see loadtest/README.md):
#   cargo build --release -p iamd
#   cargo build --release -p loadtest
#   cargo build --release -p iam-app --example org_scale
# Usage: loadtest/scripts/org-figures.sh [duration, default 15s] [rounds, default 3] [work dir]
# A work dir given again is reused (the organization takes about 20 minutes to build).
# IAMD, LOADTEST, ORG_SCALE override the binaries; ORG_ARGS the organization's size flags.
#
# Every decision request carries `aws:RequestedRegion=us-east-1` (`--context`) on both sides: the
# organization's region SCP (AWS's documented example) denies requests without an approved region.
set -euo pipefail
cd "$(dirname "$0")/../.."

duration="${1:-15s}"
rounds="${2:-3}"
work="${3:-$(mktemp -d)}"
mkdir -p "$work"
IAMD="${IAMD:-target/release/iamd}"
L="${LOADTEST:-target/release/loadtest}"
O="${ORG_SCALE:-target/release/examples/org_scale}"
read -r -a org_args <<<"${ORG_ARGS:---accounts 10000 --ous 1000}"
U=http://127.0.0.1:18080
iamd_pid=""
trap '[[ -n "$iamd_pid" ]] && kill "$iamd_pid" 2>/dev/null' EXIT
echo "work directory: $work"

stop() {
    if [[ -n "$iamd_pid" ]]; then
        kill "$iamd_pid"
        wait "$iamd_pid" 2>/dev/null || true
        iamd_pid=""
    fi
}

# Starts iamd on a data directory and waits until it answers and its embedded read model has
# projected the whole log (after the organization is built, about 100,000 events).
start() {
    stop
    "$IAMD" --data-dir "$1" --listen 127.0.0.1:18080 --audit-sync process >>"$work/iamd.log" 2>&1 &
    iamd_pid=$!
    for _ in $(seq 600); do curl -fs "$U/health" >/dev/null 2>&1 && break; sleep 0.1; done
    local lag=""
    for _ in $(seq 1200); do
        lag="$(curl -fs "$U/metrics" | awk '$1 == "gatehouse_read_model_lag_events" {print $2}')"
        [[ "$lag" == "0" ]] && break
        sleep 0.5
    done
    [[ "$lag" == "0" ]] || { echo "the read model still lags by $lag events" >&2; exit 1; }
}

seed() {
    "$L" seed --url $U --data-dir "$1" --accounts 5 --principals 20 --concurrency 8 \
        --out "$2" >"$work/seed.log" 2>&1 || { cat "$work/seed.log" >&2; exit 1; }
}

# Without an organization: a fresh iamd (its first start makes the first account) and the seed.
if [[ ! -f "$work/plain.seed.json" ]]; then
    start "$work/plain"
    seed "$work/plain" "$work/plain.seed.json"
    stop
fi
# With one: the organization built in process on the data directory (under its first account,
# whose root key org_scale writes to root-credentials as iamd would), the same seed made through
# iamd, then the seeded accounts invited, accepted and moved five OUs deep with four SCPs each.
if [[ ! -f "$work/org.seed.json" ]]; then
    "$O" --data-dir "$work/org" "${org_args[@]}" --build-only >"$work/org-build.log"
    start "$work/org"
    seed "$work/org" "$work/org.seed.json.tmp"
    stop
    "$O" --data-dir "$work/org" --invite "$work/org.seed.json.tmp" --build-only >>"$work/org-build.log"
    mv "$work/org.seed.json.tmp" "$work/org.seed.json"
fi

show() {
    python3 - "$1" "$2" <<'PY'
import json, sys
label, path = sys.argv[1], sys.argv[2]
d = json.load(open(path))
l = d.get("latencyMs") or {}
cpu = d.get("cpu", {})
print(f"{label:<22} {d['decisionsPerSecond']:>9.0f} decisions/s  p50/p99 ms {l.get('p50')}/{l.get('p99')}"
      f"  iamd {cpu.get('iamdCoresUsed')} cores, {d.get('iamdCpuMicrosPerRequest')} µs/decision;"
      f" generator {cpu.get('loadtestCoresUsed')}; unexpected {d.get('unexpectedDecisions', 0)},"
      f" errors {d.get('errorCount', 0)}")
PY
}

for round in $(seq "$rounds"); do
    # Alternate which side goes first.
    if (( round % 2 )); then sides="plain org"; else sides="org plain"; fi
    for side in $sides; do
        start "$work/$side"
        "$L" decisions --url $U --seed "$work/$side.seed.json" --duration "$duration" --concurrency 32 \
            --context aws:RequestedRegion=us-east-1 --rng-seed "$round" --iamd-pid "$iamd_pid" \
            --json "$work/$side-r$round.json" >"$work/loadtest.log" 2>&1 \
            || { tail -20 "$work/loadtest.log" >&2; exit 1; }
        show "round $round, $side" "$work/$side-r$round.json"
        stop
    done
done
