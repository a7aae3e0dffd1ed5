#!/usr/bin/env bash
# Stops what infra/dev-up.sh started (Kafka first, then PostgreSQL). Data is kept for the next
# dev-up.sh unless --reset is given, which then deletes the Kafka and PostgreSQL state dirs (topics,
# messages, databases) under $GATEHOUSE_INFRA_STATE. The jar cache ($GATEHOUSE_INFRA_CACHE) is
# never deleted here.
#
#   infra/dev-down.sh [--reset]
set -euo pipefail
_infra_tag=dev-down
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

reset=false
case "${1:-}" in
    "") ;;
    --reset) reset=true ;;
    *) die "usage: $0 [--reset]" ;;
esac

t0="$(now_ms)"
status=0
"$here/kafka/stop.sh" || status=$?
"$here/postgres/stop.sh" || status=$?
[[ "$status" -eq 0 ]] || die "a stop script failed; not going further"

if "$reset"; then
    for dir in "$GATEHOUSE_INFRA_STATE/kafka" "$GATEHOUSE_INFRA_STATE/postgres"; do
        if [[ -e "$dir" ]]; then
            info "deleting $dir"
            rm -rf -- "$dir"
        fi
    done
fi
# The env file describes running services; they no longer are.
rm -f -- "$GATEHOUSE_INFRA_STATE/env.sh"
info "all down in $(($(now_ms) - t0)) ms"
