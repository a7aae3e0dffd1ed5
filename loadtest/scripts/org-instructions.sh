#!/usr/bin/env bash
# Instructions per in-process decision, member of a 5-OU-deep organization against its twin in no
# organization, counted by callgrind inside `decide_app` only (the loading, the setup and the
# service's other threads are not counted): unlike a timed p50 this does not move with the
# machine's load.
#
#   loadtest/scripts/org-instructions.sh [DATA_DIR] [N]
#
# DATA_DIR holds an organization built by `org_scale --build-only` (a small one is enough: the
# decision path does not depend on the number of accounts), built here when absent.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-/var/tmp/orgscale/small}
n=${2:-4000}
command -v valgrind >/dev/null || { echo "needs valgrind" >&2; exit 1; }
cargo build --release -q -p iam-app --example org_scale
bin=target/release/examples/org_scale
[ -f "$dir/events.db" ] || "$bin" --data-dir "$dir" --accounts 20 --ous 5 --build-only >/dev/null
instructions() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null --toggle-collect='org_scale::decide_app' \
        "$bin" --data-dir "$dir" --samples 4000 --cycles 0 --decide-only "$1" "$2" 2>&1 |
        awk '/Collected/ {gsub(",", "", $4); print $4}'
}
for side in twin member; do
    echo "$side: $(($(instructions "$side" "$n") / n)) instructions per decision"
done
