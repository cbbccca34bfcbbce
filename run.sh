#!/usr/bin/env bash
# Builds the CLI if it is missing or older than the sources, then runs it (no arguments: demo).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")" && pwd)"
# C users' flags need no JVM: ./run.sh cflags, ./run.sh pkgconfig (a PKG_CONFIG_PATH directory)
case "${1:-}" in cflags | pkgconfig) exec "$ROOT/scripts/c-headers.sh" "$1" ;; esac
. "$ROOT/scripts/java-env.sh"
JAR=$(ls "$ROOT"/cli/target/iommufd4j-cli-*-all.jar 2>/dev/null | head -1 || true)
if [ -z "$JAR" ] || [ -n "$(find "$ROOT"/pom.xml "$ROOT"/*/pom.xml "$ROOT"/*/src "$ROOT"/bridge/native -newer "$JAR" -print -quit 2>/dev/null)" ]; then
  echo "building iommufd4j..." >&2
  . "$ROOT/scripts/native-env.sh"
  # Debian's Maven writes colour resets even with -B -q: strip them
  (cd "$ROOT" && mvn -B -q -ntp package -DskipTests -pl cli -am) 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2
  JAR=$(ls "$ROOT"/cli/target/iommufd4j-cli-*-all.jar | head -1)
  touch "$JAR" # Maven leaves an up-to-date jar alone: mark it as built from these sources
fi
# An AOT cache (JDK 25) of the classes a run loads and links halves the JVM's start-up, which is
# most of what `exec` costs. It is made once per build by a training run of `exec`.
AOT="${JAR%.jar}.aot"
if [ ! -f "$AOT" ] || [ "$JAR" -nt "$AOT" ]; then
  TRAIN="$ROOT/bridge/target/native/tests/t_basic"; [ -x "$TRAIN" ] || TRAIN=true
  "$JAVA_HOME/bin/java" -XX:AOTCacheOutput="$AOT.$$" --enable-native-access=ALL-UNNAMED \
    --sun-misc-unsafe-memory-access=allow -jar "$JAR" exec -- "$TRAIN" >/dev/null 2>&1 \
    && mv -f "$AOT.$$" "$AOT" || rm -f "$AOT.$$"
fi
AOT_OPTS=()
[ -f "$AOT" ] && AOT_OPTS=(-XX:AOTCache="$AOT")
[ $# -eq 0 ] && set -- demo
# JVM warnings go to stderr: with `exec`, stdout is the program's.
exec "$JAVA_HOME/bin/java" "${AOT_OPTS[@]}" -Xlog:disable -Xlog:all=warning:stderr \
  --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -jar "$JAR" "$@"
