#!/usr/bin/env bash
# The distributed suite: the tests that need PostgreSQL. They are #[ignore]d, so the README's
# test command (scripts/test.sh) runs without a server; this script provides one and runs them.
#
#   1. starts the private cluster of infra/postgres/start.sh on 127.0.0.1:15432 (it installs
#      Debian's PostgreSQL when missing) and exports the URL it prints as GATEHOUSE_DATABASE_URL;
#   2. runs `cargo test --locked -p iam-store-postgres -- --ignored` (each test makes a schema
#      of its own, so they run in parallel and leave nothing behind);
#   3. stops the cluster on exit, pass or fail, unless it was already running before step 1
#      (a developer's infra/dev-up.sh), which it leaves running.
#
# With GATEHOUSE_DATABASE_URL already set, it uses that database and starts and stops nothing.
# Extra arguments go to the test binaries, e.g. `scripts/distributed-test.sh replicas`.
set -euo pipefail
cd "$(dirname "$0")/.."

now_ms() { date +%s%3N; }
t0="$(now_ms)"
stop_postgres=false

finish() {
    local status=$?
    if "$stop_postgres"; then
        local t_stop
        t_stop="$(now_ms)"
        infra/postgres/stop.sh || status=$?
        echo "== distributed tests: stopped PostgreSQL in $(($(now_ms) - t_stop)) ms" >&2
    fi
    echo "== distributed tests: $([[ "$status" -eq 0 ]] && echo passed || echo FAILED) in $(($(now_ms) - t0)) ms" >&2
    exit "$status"
}
trap finish EXIT

if [[ -n "${GATEHOUSE_DATABASE_URL:-}" ]]; then
    echo "== distributed tests: using the database in GATEHOUSE_DATABASE_URL; starting none" >&2
else
    # Our cluster already serving (someone's dev-up.sh) stays up afterwards; start.sh refuses a
    # port held by anything else.
    if ! timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/${GATEHOUSE_PG_PORT:-15432}" 2>/dev/null; then
        stop_postgres=true
    fi
    t_start="$(now_ms)"
    # start.sh prints the URL as its last stdout line (progress goes to stderr), as dev-up.sh uses it.
    GATEHOUSE_DATABASE_URL="$(infra/postgres/start.sh | tail -n1)"
    export GATEHOUSE_DATABASE_URL
    echo "== distributed tests: PostgreSQL ready in $(($(now_ms) - t_start)) ms" >&2
fi

t_test="$(now_ms)"
cargo test --locked -p iam-store-postgres -- --ignored "$@"
echo "== distributed tests: cargo test took $(($(now_ms) - t_test)) ms" >&2
