#!/usr/bin/env bash
# Assembles the Kafka runtime classpath (broker, storage tool, Kafka's CLI classes, log4j2 binding)
# from Maven Central into a cache dir, once. Prints the directory holding the jars on stdout, so
# callers do `libs="$(infra/kafka/fetch.sh)"` and run `java -cp "$libs/*" ...`.
#
# The cache entry is keyed by the hash of pom.xml: editing the pom (say, a new Kafka version) makes
# a new entry; an unchanged pom means no Maven run at all.
#
# Env: GATEHOUSE_INFRA_CACHE (default $HOME/.cache/gatehouse/kafka).
set -euo pipefail
_infra_tag=kafka
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pom="$here/pom.xml"
cache="${GATEHOUSE_INFRA_CACHE:-$HOME/.cache/gatehouse/kafka}"
# The dependency plugin is pinned: Maven 3.8's built-in default for it is old.
dependency_plugin="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

kafka_version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")"
[[ -n "$kafka_version" ]] || die "no <kafka.version> in $pom"
key="$(sha256sum "$pom" | cut -c1-12)"
entry="$cache/kafka-$kafka_version-$key"

if [[ -f "$entry/.complete" ]]; then
    printf '%s\n' "$entry/libs"
    exit 0
fi

# Java 17+ is what Kafka 4.x servers need; Maven fetches the jars.
java_major() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1; }
if ! command -v java >/dev/null 2>&1; then
    apt_install openjdk-17-jre-headless
fi
major="$(java_major)"
[[ "${major:-0}" -ge 17 ]] || die "Kafka $kafka_version needs Java 17 or newer; \`java -version\` says ${major:-nothing}"
command -v mvn >/dev/null 2>&1 || apt_install maven

mkdir -p "$cache"
# One fetch at a time per cache dir (two dev-up.sh started together share the result).
exec 9>"$cache/.lock"
flock -w 900 9 || die "timed out waiting for another fetch holding $cache/.lock"
if [[ -f "$entry/.complete" ]]; then
    printf '%s\n' "$entry/libs"
    exit 0
fi

# Leftovers of a fetch that was killed half-way (we hold the lock, so none is in progress).
rm -rf "$cache"/.partial.*

info "fetching Kafka $kafka_version jars from Maven Central into $entry (first run only)"
t0="$(now_ms)"
tmp="$(mktemp -d "$cache/.partial.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
mvn_log="$tmp/mvn.log"
if ! mvn -B -q -f "$pom" "$dependency_plugin:copy-dependencies" \
    -DincludeScope=runtime -DoutputDirectory="$tmp/libs" >"$mvn_log" 2>&1; then
    log_tail "$mvn_log" 60
    die "mvn copy-dependencies failed (see above)"
fi
# A pom-packaged module builds nothing, but make sure Maven left nothing in the source tree.
rm -rf "$here/target"

for needed in "kafka_2.13-$kafka_version.jar" "kafka-tools-$kafka_version.jar" log4j-slf4j-impl-; do
    compgen -G "$tmp/libs/$needed*" >/dev/null || die "fetched classpath lacks $needed"
done
cp "$pom" "$tmp/pom.xml"
rm -f "$mvn_log"
rm -rf "$entry"
mv "$tmp" "$entry"
trap - EXIT
chmod 755 "$entry"
touch "$entry/.complete"
info "fetched $(find "$entry/libs" -name '*.jar' | wc -l) jars ($(du -sh "$entry/libs" | cut -f1)) in $(($(now_ms) - t0)) ms"
printf '%s\n' "$entry/libs"
