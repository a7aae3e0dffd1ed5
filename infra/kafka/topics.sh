#!/usr/bin/env bash
# Creates / updates Gatehouse's topics from topics.conf (the topic settings as code) on the broker
# at 127.0.0.1:${GATEHOUSE_KAFKA_PORT:-19092}. Idempotent: a second run changes nothing and says
# "up to date". The broker must be running (start.sh).
#
# The work is done by TopicsAsCode.java through Kafka's Admin API in one JVM; it is compiled once
# against the cached Kafka jars and the classes are kept next to them in the cache.
#
#   infra/kafka/topics.sh [topics.conf]
#
# Env: GATEHOUSE_KAFKA_PORT, GATEHOUSE_INFRA_CACHE, GATEHOUSE_KAFKA_PARTITIONS_<NAME> (topics.conf).
set -euo pipefail
_infra_tag=kafka
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

topics_conf="${1:-$here/topics.conf}"
[[ -f "$topics_conf" ]] || die "no topics file at $topics_conf"
bootstrap="$GATEHOUSE_LOOPBACK:${GATEHOUSE_KAFKA_PORT:-19092}"
port_open "${GATEHOUSE_KAFKA_PORT:-19092}" || die "no broker on $bootstrap; run $here/start.sh first"

libs="$("$here/fetch.sh")"
src="$here/TopicsAsCode.java"
classes="$(dirname "$libs")/topics-as-code-$(sha256sum "$src" | cut -c1-12)"
if [[ ! -f "$classes/TopicsAsCode.class" ]]; then
    command -v javac >/dev/null 2>&1 || apt_install openjdk-17-jdk-headless
    tmp="$(mktemp -d "$(dirname "$libs")/.javac.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    javac -nowarn -d "$tmp" -cp "$libs/*" "$src"
    rm -rf "$(dirname "$libs")"/topics-as-code-*
    mv "$tmp" "$classes"
    chmod 755 "$classes"
    trap - EXIT
fi

t0="$(now_ms)"
java -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$here/tools-log4j2.properties" \
    -cp "$classes:$libs/*" TopicsAsCode "$bootstrap" "$topics_conf" |
    while IFS= read -r line; do info "topic $line"; done
info "topics match $(basename "$topics_conf") ($(($(now_ms) - t0)) ms)"
