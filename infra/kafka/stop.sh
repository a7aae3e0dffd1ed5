#!/usr/bin/env bash
# Stops the broker started by start.sh: SIGTERM (Kafka's shutdown hook does a controlled shutdown
# and closes its logs cleanly), then SIGKILL if it is still alive after the timeout. Data is kept.
# Exits 0 if the broker was not running.
#
# Env: GATEHOUSE_INFRA_STATE, GATEHOUSE_KAFKA_STOP_TIMEOUT (seconds, default 30).
set -euo pipefail
_infra_tag=kafka
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

state="$GATEHOUSE_INFRA_STATE/kafka"
config="$state/server.properties"
pid_file="$state/kafka.pid"
log_file="$state/kafka.log"
stop_timeout="${GATEHOUSE_KAFKA_STOP_TIMEOUT:-30}"

pid=""
[[ -f "$pid_file" ]] && pid="$(cat "$pid_file" 2>/dev/null || true)"
if [[ -z "$pid" ]] || ! pid_cmdline_has "$pid" "kafka.Kafka $config"; then
    rm -f "$pid_file"
    info "not running (state in $state)"
    exit 0
fi

t0="$(now_ms)"
info "stopping broker (pid $pid)"
kill -TERM "$pid" 2>/dev/null || true
deadline=$(($(date +%s) + stop_timeout))
while pid_alive "$pid"; do
    if [[ "$(date +%s)" -ge "$deadline" ]]; then
        warn "still alive after ${stop_timeout}s; sending SIGKILL (the next start recovers its logs)"
        log_tail "$log_file" 20
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
        break
    fi
    sleep 0.2
done
rm -f "$pid_file"
info "stopped in $(($(now_ms) - t0)) ms"
