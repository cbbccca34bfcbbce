#!/usr/bin/env bash
# Runs core test classes in a JVM inside the kernel oracle's VM, where /dev/iommu is real, so
# the tests that skip here ("no usable real /dev/iommu") run on Linux 6.12:
#
#   scripts/oracle-kernel-tests.sh                       # org.iommufd4j.KernelIommufdTest
#   scripts/oracle-kernel-tests.sh org.iommufd4j.SomeTest ...
#
# Compiles the core tests, copies the JUnit console launcher (Maven's dependency:copy) and the
# test class path into the shared directory, and runs the launcher there (scripts/oracle-java.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$ROOT/scripts/java-env.sh"
CLASSES=("$@")
[ ${#CLASSES[@]} -eq 0 ] && CLASSES=(org.iommufd4j.KernelIommufdTest)
OUT="$ROOT/core/target/oracle-tests"
DEP=org.apache.maven.plugins:maven-dependency-plugin:3.9.0
rm -rf "$OUT" && mkdir -p "$OUT/cp"
(cd "$ROOT" && mvn -B -q -ntp test-compile -pl core \
  && mvn -B -q -ntp "$DEP":copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.14.4 \
       -DoutputDirectory="$OUT" \
  && mvn -B -q -ntp "$DEP":copy-dependencies -pl core -DincludeScope=test \
       -DexcludeGroupIds=org.junit.jupiter,org.junit.platform -DoutputDirectory="$OUT/cp") >&2
cp -r "$ROOT/core/target/classes" "$OUT/cp/main"
cp -r "$ROOT/core/target/test-classes" "$OUT/cp/test"
CP=cp/main:cp/test
for j in "$OUT"/cp/*.jar; do CP="$CP:cp/$(basename "$j")"; done
SELECT=()
for c in "${CLASSES[@]}"; do SELECT+=(--select-class "$c"); done
exec "$ROOT/scripts/oracle-java.sh" --copy "$OUT/cp" --copy "$OUT"/junit-platform-console-standalone-*.jar -- \
  -jar junit-platform-console-standalone-1.14.4.jar execute --disable-banner --disable-ansi-colors \
  --details=tree -cp "$CP" "${SELECT[@]}"
