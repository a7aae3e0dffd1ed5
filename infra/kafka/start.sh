#!/usr/bin/env bash
# Starts a single-node Apache Kafka (KRaft, combined broker + controller) on loopback, in the
# background, and waits until it serves metadata requests.
#
#   broker     127.0.0.1:${GATEHOUSE_KAFKA_PORT:-19092}   (what clients use)
#   controller 127.0.0.1:${GATEHOUSE_KAFKA_CONTROLLER_PORT:-19093}
#   state      ${GATEHOUSE_INFRA_STATE:-<repo>/target/infra}/kafka/
#                data/               log.dirs (topic data and the KRaft metadata log)
#                server.properties   written on every start from the settings below
#                cluster.id          chosen when the data dir is first formatted
#                kafka.log           broker output, appended across starts
#                kafka.pid           pid of the broker JVM while it runs
#
# Idempotent: if our broker is already running it says so and exits 0. The data dir is formatted
# only when it has never been; data survives stop/start. Reset: stop.sh, then delete the state dir.
#
# Env: GATEHOUSE_KAFKA_PORT, GATEHOUSE_KAFKA_CONTROLLER_PORT, GATEHOUSE_INFRA_STATE,
#      GATEHOUSE_INFRA_CACHE (see fetch.sh), GATEHOUSE_KAFKA_HEAP (default 512m),
#      GATEHOUSE_KAFKA_START_TIMEOUT (seconds, default 120).
set -euo pipefail
_infra_tag=kafka
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

port="${GATEHOUSE_KAFKA_PORT:-19092}"
controller_port="${GATEHOUSE_KAFKA_CONTROLLER_PORT:-19093}"
heap="${GATEHOUSE_KAFKA_HEAP:-512m}"
start_timeout="${GATEHOUSE_KAFKA_START_TIMEOUT:-120}"
state="$GATEHOUSE_INFRA_STATE/kafka"
data="$state/data"
config="$state/server.properties"
pid_file="$state/kafka.pid"
log_file="$state/kafka.log"
bootstrap="$GATEHOUSE_LOOPBACK:$port"

[[ "$port" != "$controller_port" ]] || die "GATEHOUSE_KAFKA_PORT and GATEHOUSE_KAFKA_CONTROLLER_PORT must differ"
t0="$(now_ms)"

# The pid file names our broker only if that process still runs kafka.Kafka on our config.
running_pid() {
    local pid
    [[ -f "$pid_file" ]] || return 1
    pid="$(cat "$pid_file" 2>/dev/null)" || return 1
    pid_cmdline_has "$pid" "kafka.Kafka $config" || return 1
    printf '%s\n' "$pid"
}

if pid="$(running_pid)"; then
    info "already running (pid $pid) on $bootstrap, state in $state"
    exit 0
fi
rm -f "$pid_file"
for p in "$port" "$controller_port"; do
    if port_open "$p"; then
        die "127.0.0.1:$p is already taken by another process (not our broker: no live pid in $pid_file); stop it or set GATEHOUSE_KAFKA_PORT / GATEHOUSE_KAFKA_CONTROLLER_PORT"
    fi
done

libs="$("$here/fetch.sh")"
mkdir -p "$data"

# Settings for one node used by tests. Rewritten on every start so that changed ports apply.
cat >"$config" <<EOF
# Written by infra/kafka/start.sh on every start; edit that script, not this file.
process.roles=broker,controller
node.id=1
# Static single-voter quorum: no voter set is recorded at format time, so the ports can change.
controller.quorum.voters=1@$GATEHOUSE_LOOPBACK:$controller_port
listeners=PLAINTEXT://$GATEHOUSE_LOOPBACK:$port,CONTROLLER://$GATEHOUSE_LOOPBACK:$controller_port
advertised.listeners=PLAINTEXT://$GATEHOUSE_LOOPBACK:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data

# Topics are created by infra/kafka/topics.sh from topics.conf, never by a client's first use.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
min.insync.replicas=1

# Internal topics on a single node: replication factor 1, and few partitions so they are created
# quickly on the first consumer group / transaction.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# A consumer group's first rebalance happens at once instead of after 3 s.
group.initial.rebalance.delay.ms=0
EOF

# Format the data dir the first time only (format is a separate JVM run; skip it when we can).
if [[ ! -f "$data/meta.properties" ]]; then
    if [[ ! -s "$state/cluster.id" ]]; then
        KAFKA_TOOL_HEAP=-Xmx128m "$here/run-class.sh" storage random-uuid | tail -n1 >"$state/cluster.id.tmp"
        mv "$state/cluster.id.tmp" "$state/cluster.id"
    fi
    cluster_id="$(cat "$state/cluster.id")"
    info "formatting $data (cluster id $cluster_id)"
    if ! format_out="$("$here/run-class.sh" storage format --ignore-formatted \
        --cluster-id "$cluster_id" --config "$config" 2>&1)"; then
        printf '%s\n' "$format_out" >&2
        die "formatting $data failed"
    fi
    info "$(printf '%s\n' "$format_out" | tail -n1)"
fi
[[ -s "$state/cluster.id" ]] || sed -n 's/^cluster.id=//p' "$data/meta.properties" >"$state/cluster.id"
cluster_id="$(cat "$state/cluster.id")"

# Start in its own session (so it outlives this shell and a Ctrl-C here), appending to the log.
# The wrapper writes its own pid and then execs java, so the pid file holds the JVM's pid.
log_offset=0
[[ -f "$log_file" ]] && log_offset="$(stat -c %s "$log_file")"
printf '\n===== %s start.sh: starting broker on %s =====\n' "$(date -Is)" "$bootstrap" >>"$log_file"
# shellcheck disable=SC2016 # $$ and $1 are the inner shell's
setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pid_file" \
    java "-Xms$heap" "-Xmx$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$here/log4j2.properties" -Dkafka.logs.dir="$state" \
    -cp "$libs/*" kafka.Kafka "$config" \
    >>"$log_file" 2>&1 </dev/null &

new_log() { tail -c "+$((log_offset + 1))" "$log_file" 2>/dev/null; }

# Ready = the JVM is alive, the broker port accepts connections (Kafka opens it only after the
# broker is unfenced), the broker logged "Kafka Server started", and a metadata request through
# the admin client answers with our cluster id.
deadline=$(($(date +%s) + start_timeout))
pid=""
while :; do
    [[ -z "$pid" && -s "$pid_file" ]] && pid="$(cat "$pid_file")"
    if [[ -n "$pid" ]] && ! pid_alive "$pid"; then
        log_tail "$log_file" 60 "$log_offset"
        rm -f "$pid_file"
        die "broker exited during start-up (log: $log_file)"
    fi
    if [[ -n "$pid" ]] && port_open "$port" && new_log | grep -q 'Kafka Server started'; then
        break
    fi
    if [[ "$(date +%s)" -ge "$deadline" ]]; then
        log_tail "$log_file" 60 "$log_offset"
        "$here/stop.sh" || true
        die "broker not ready after ${start_timeout}s (log: $log_file); stopped it again"
    fi
    sleep 0.25
done

if ! answered_id="$("$here/run-class.sh" cluster cluster-id --bootstrap-server "$bootstrap" 2>&1 | sed -n 's/^Cluster ID: //p')"; then
    answered_id=""
fi
if [[ "$answered_id" != "$cluster_id" ]]; then
    log_tail "$log_file" 40 "$log_offset"
    "$here/stop.sh" || true
    die "metadata check failed: $bootstrap answered cluster id '${answered_id}', expected '$cluster_id'"
fi
info "ready on $bootstrap (pid $pid, cluster $cluster_id) in $(($(now_ms) - t0)) ms; log: $log_file"
