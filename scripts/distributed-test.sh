#!/usr/bin/env bash
# The distributed suite: the tests that need PostgreSQL and Kafka. They are #[ignore]d, so the
# README's test command (scripts/test.sh) runs without servers; this script provides them and runs
# them.
#
#   1. starts the private cluster of infra/postgres/start.sh on 127.0.0.1:15432 (it installs
#      Debian's PostgreSQL when missing) and exports the URL it prints as GATEHOUSE_DATABASE_URL;
#   2. starts the single-node Kafka of infra/kafka/start.sh on 127.0.0.1:19092 (jars from the
#      Maven cache, fetched on first use), makes the topics of infra/kafka/topics.conf
#      (infra/kafka/topics.sh) and exports GATEHOUSE_KAFKA_BROKERS;
#   3. runs the ignored tests of iam-store-postgres, iam-readmodel (the PostgreSQL read model),
#      iamd (two replicas sharing the PostgreSQL log; audit_kafka adds the audit topic and a real
#      audit-projector, built first), audit-projector (its process killed mid-stream, the topic
#      redelivered),
#      projector (a real projector process killed mid-stream) and relay (each test makes a schema
#      of its own, and each relay test a topic of its own, so they run in parallel and leave
#      nothing behind); iamd's distributed_faults runs the real relay and projector binaries too
#      (built first), kills a replica and a projector with SIGKILL, and stops and restarts a
#      private Kafka broker of its own (free ports, a temporary state directory), never this one;
#      iamd's organizations_replicas runs the relay and projector binaries too: an SCP attached
#      through one replica binds the other for a caller with the organization token, and the
#      organization's events (stream `o-...`) reach the events topic and the read model;
#      then the embedded mode's end-to-end suites (iamd's e2e and decisions) again with every
#      server on the PostgreSQL log (GATEHOUSE_E2E_DATABASE_URL);
#   4. stops both servers on exit, pass or fail, except one that was already running before it
#      started it (a developer's infra/dev-up.sh), which it leaves running.
#
# With GATEHOUSE_DATABASE_URL / GATEHOUSE_KAFKA_BROKERS already set, it uses that database / broker
# and starts and stops none. Extra arguments go to the test binaries, e.g.
# `scripts/distributed-test.sh replicas`.
set -euo pipefail
cd "$(dirname "$0")/.."
# AWS's own clients for the end-to-end suites (sts, signin, web_identity): the venv
# ./scripts/test.sh creates.
pyenv="$(pwd)/target/pyenv"
if [[ -x "$pyenv/bin/python" ]]; then
    export GATEHOUSE_PYTHON="$pyenv/bin/python"
    export GATEHOUSE_AWS_CLI="$pyenv/bin/aws"
    export GATEHOUSE_ANSIBLE_PLAYBOOK="$pyenv/bin/ansible-playbook"
fi

now_ms() { date +%s%3N; }
t0="$(now_ms)"
stop_postgres=false
stop_kafka=false

finish() {
    local status=$?
    if "$stop_kafka"; then
        local t_stop
        t_stop="$(now_ms)"
        infra/kafka/stop.sh || status=$?
        echo "== distributed tests: stopped Kafka in $(($(now_ms) - t_stop)) ms" >&2
    fi
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

if [[ -n "${GATEHOUSE_KAFKA_BROKERS:-}" ]]; then
    echo "== distributed tests: using the broker in GATEHOUSE_KAFKA_BROKERS; starting none" >&2
else
    if ! timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/${GATEHOUSE_KAFKA_PORT:-19092}" 2>/dev/null; then
        stop_kafka=true
    fi
    t_start="$(now_ms)"
    infra/kafka/start.sh
    infra/kafka/topics.sh
    export GATEHOUSE_KAFKA_BROKERS="127.0.0.1:${GATEHOUSE_KAFKA_PORT:-19092}"
    echo "== distributed tests: Kafka ready in $(($(now_ms) - t_start)) ms" >&2
fi

t_test="$(now_ms)"
cargo test --locked -p iam-store-postgres -- --ignored "$@"
echo "== distributed tests: cargo test (iam-store-postgres) took $(($(now_ms) - t_test)) ms" >&2
# iamd's audit_kafka, distributed_faults and organizations_replicas tests start the
# audit-projector, relay and projector binaries from the same target directory.
cargo build --locked -p audit-projector -p relay -p projector
for package in iam-readmodel projector relay audit-projector iamd; do
    t_test="$(now_ms)"
    cargo test --locked -p "$package" -- --ignored "$@"
    echo "== distributed tests: cargo test ($package) took $(($(now_ms) - t_test)) ms" >&2
done
# The embedded mode's end-to-end suites once more, each server on the PostgreSQL log of record
# (tests/support: a schema per data directory).
t_test="$(now_ms)"
GATEHOUSE_E2E_DATABASE_URL="$GATEHOUSE_DATABASE_URL" cargo test --locked -p iamd --test e2e --test decisions --test sts --test signin --test web_identity --test organizations --test organizations_graphql --test compliance --test audit_filters --test credential_report --test audit_integrity --test last_accessed_wire -- "$@"
echo "== distributed tests: the end-to-end suites on PostgreSQL took $(($(now_ms) - t_test)) ms" >&2
