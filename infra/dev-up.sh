#!/usr/bin/env bash
# Brings up what Gatehouse's distributed mode needs, on loopback: PostgreSQL (infra/postgres) and a
# single-node Kafka (infra/kafka) with the topics of infra/kafka/topics.conf. Idempotent: running
# services are left alone, data is kept between runs.
#
# stdout carries only the environment a test uses, as shell `export` lines, so either of these works:
#   eval "$(infra/dev-up.sh)"
#   infra/dev-up.sh && source target/infra/env.sh
# Progress and errors go to stderr. See infra/README.md for ports, state and reset.
set -euo pipefail
_infra_tag=dev-up
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

t0="$(now_ms)"
database_url="$("$here/postgres/start.sh" | tail -n1)"
"$here/kafka/start.sh"
"$here/kafka/topics.sh"

env_file="$GATEHOUSE_INFRA_STATE/env.sh"
mkdir -p "$GATEHOUSE_INFRA_STATE"
{
    printf '# Written by infra/dev-up.sh: the services on loopback that infra/dev-down.sh stops.\n'
    printf 'export GATEHOUSE_KAFKA_BROKERS=%q\n' "$GATEHOUSE_LOOPBACK:${GATEHOUSE_KAFKA_PORT:-19092}"
    printf 'export GATEHOUSE_DATABASE_URL=%q\n' "$database_url"
} >"$env_file"
info "all up in $(($(now_ms) - t0)) ms; the same variables are in $env_file"
grep '^export ' "$env_file"
