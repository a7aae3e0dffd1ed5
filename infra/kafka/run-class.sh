#!/usr/bin/env bash
# Runs one of Kafka's own command-line classes on the cached classpath, like the release tarball's
# bin/kafka-*.sh scripts (which Maven Central does not have). The first argument is a short name
# or a fully qualified main class; the rest is passed through.
#
#   infra/kafka/run-class.sh topics --bootstrap-server 127.0.0.1:19092 --describe
#   infra/kafka/run-class.sh console-producer --bootstrap-server 127.0.0.1:19092 --topic gatehouse.events
#   infra/kafka/run-class.sh console-consumer --bootstrap-server 127.0.0.1:19092 \
#       --topic gatehouse.events --from-beginning --max-messages 1
#   infra/kafka/run-class.sh org.apache.kafka.tools.LogDirsCommand --help
#
# Short names: topics, configs, console-producer, console-consumer, consumer-groups, cluster,
# metadata-quorum, broker-api-versions, features, storage.
# Env: KAFKA_TOOL_HEAP (default -Xmx256m), KAFKA_TOOL_OPTS (extra JVM options).
set -euo pipefail
_infra_tag=kafka
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

[[ $# -ge 1 ]] || die "usage: $0 <short-name|main.Class> [args...]"
name="$1"
shift
case "$name" in
    topics) class=org.apache.kafka.tools.TopicCommand ;;
    configs) class=org.apache.kafka.tools.ConfigCommand ;;
    console-producer) class=org.apache.kafka.tools.ConsoleProducer ;;
    console-consumer) class=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
    consumer-groups) class=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
    cluster) class=org.apache.kafka.tools.ClusterTool ;;
    metadata-quorum) class=org.apache.kafka.tools.MetadataQuorumCommand ;;
    broker-api-versions) class=org.apache.kafka.tools.BrokerApiVersionsCommand ;;
    features) class=org.apache.kafka.tools.FeatureCommand ;;
    storage) class=kafka.tools.StorageTool ;;
    *.*) class="$name" ;;
    *) die "unknown tool '$name' (see the header of $0)" ;;
esac

libs="$("$here/fetch.sh")"
# KAFKA_TOOL_OPTS is a list of JVM options, split on spaces on purpose.
# shellcheck disable=SC2086
exec java ${KAFKA_TOOL_HEAP:--Xmx256m} -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$here/tools-log4j2.properties" \
    ${KAFKA_TOOL_OPTS:-} -cp "$libs/*" "$class" "$@"
