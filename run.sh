#!/usr/bin/env bash
# Builds the CLI if it is missing or older than the sources, then runs it (no arguments: demo).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")" && pwd)"
. "$ROOT/scripts/java-env.sh"
JAR=$(ls "$ROOT"/cli/target/cli-*-all.jar 2>/dev/null | head -1 || true)
if [ -z "$JAR" ] || [ -n "$(find "$ROOT"/pom.xml "$ROOT"/*/pom.xml "$ROOT"/*/src -newer "$JAR" -print -quit 2>/dev/null)" ]; then
  echo "building iommufd4j..." >&2
  (cd "$ROOT" && mvn -B -q -ntp package -DskipTests -pl cli -am) >&2
  JAR=$(ls "$ROOT"/cli/target/cli-*-all.jar | head -1)
fi
[ $# -eq 0 ] && set -- demo
exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow \
  -jar "$JAR" "$@"
