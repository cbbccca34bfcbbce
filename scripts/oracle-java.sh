#!/usr/bin/env bash
# Runs a JVM inside the kernel oracle's VM (../shared/oracle: Linux 6.12 with the real
# /dev/iommu and the selftest mock), with this project's core jar in the working directory:
#
#   scripts/oracle-java.sh [--copy PATH]... [--] JAVA_ARGUMENTS...
#   scripts/oracle-java.sh --copy cli/target/iommufd4j-cli-0.1.0-SNAPSHOT-all.jar -- \
#       -jar iommufd4j-cli-0.1.0-SNAPSHOT-all.jar diff --sample --trace
#
# The guest has only a static busybox, so this prepares the directory the VM shares
# ($ORACLE_JVM_DIR, default $ORACLE_CACHE/jvm): a jlink'ed runtime of this JDK (java.base, jdk.jfr
# and the few modules JUnit needs, ~60 MB) in jdk/, every shared library it links against plus the
# dynamic loader in lib/, core.jar, and each --copy PATH (by its base name). In the guest the
# loader is linked to /lib64 (its initramfs root is writable) and java runs with LD_LIBRARY_PATH
# pointing at lib/, -Xshare:off, -XX:-UsePerfData and C1 only (the VM runs under TCG).
# Needs the oracle set up once: ../shared/oracle/setup.sh (as root, ~12 min).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$ROOT/scripts/java-env.sh"
ORACLE="${ORACLE_DIR:-$ROOT/../shared/oracle}"
WORK="${ORACLE_JVM_DIR:-${ORACLE_CACHE:-$HOME/.cache/iommufd-oracle}/jvm}"
MODULES=java.base,jdk.jfr,java.logging,java.management,java.xml,jdk.unsupported,java.instrument
[ -x "$ORACLE/run-in-vm.sh" ] || { echo "error: no oracle at $ORACLE (set ORACLE_DIR)" >&2; exit 2; }

JAR=$(ls "$ROOT"/core/target/iommufd4j-core-*.jar 2>/dev/null | grep -v -- '-tests' | head -1 || true)
if [ -z "$JAR" ] || [ -n "$(find "$ROOT/core/src/main" -newer "$JAR" -print -quit)" ]; then
  (cd "$ROOT" && mvn -B -q -ntp package -DskipTests -pl core) >&2
  JAR=$(ls "$ROOT"/core/target/iommufd4j-core-*.jar | grep -v -- '-tests' | head -1)
fi

mkdir -p "$WORK"
if [ ! -x "$WORK/jdk/bin/java" ] || [ "$JAVA_HOME/release" -nt "$WORK/jdk/bin/java" ] \
    || [ "$(cat "$WORK/modules" 2>/dev/null)" != "$MODULES" ]; then
  rm -rf "$WORK/jdk" "$WORK/lib"
  "$JAVA_HOME/bin/jlink" --add-modules "$MODULES" --strip-debug --no-header-files \
    --no-man-pages --output "$WORK/jdk"
  mkdir -p "$WORK/lib"
  find "$WORK/jdk" -name '*.so' -o -path '*/bin/java' | xargs ldd 2>/dev/null \
    | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}' | sort -u \
    | while read -r lib; do cp -L "$lib" "$WORK/lib/"; done
  echo "$MODULES" > "$WORK/modules"
fi
cp "$JAR" "$WORK/core.jar"

while [ $# -gt 0 ]; do
  case "$1" in
    --copy) rm -rf "${WORK:?}/$(basename "$2")"; cp -r "$2" "$WORK/"; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done

# shellcheck disable=SC2016
exec env ORACLE_MEM="${ORACLE_MEM:-2048}" "$ORACLE/run-in-vm.sh" "$WORK" sh -c '
  mkdir -p /lib64 && ln -sf "$PWD/lib/ld-linux-x86-64.so.2" /lib64/ld-linux-x86-64.so.2
  LD_LIBRARY_PATH="$PWD/lib" exec ./jdk/bin/java -Xshare:off -XX:-UsePerfData \
    -XX:TieredStopAtLevel=1 --enable-native-access=ALL-UNNAMED "$@"' sh "$@"
