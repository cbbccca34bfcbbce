#!/usr/bin/env bash
# Runs the differential runner (org.iommufd4j.diff.DiffMain) in a JVM inside the kernel oracle's
# VM (../shared/oracle), against the real /dev/iommu of Linux 6.12 there:
#
#   scripts/oracle-diff.sh [DiffMain arguments]       # default: --sample --trace
#   scripts/oracle-diff.sh --random-mock 42:500       # a seeded random sequence
#   scripts/oracle-diff.sh --trace my.ops             # your own sequence file
# Without --left, the left side is emulated:capIpcLock=true (the guest's caller is root).
#
# The guest has only a static busybox, so this prepares a directory it shares with the guest:
# a jlink'ed runtime of this JDK (java.base + jdk.jfr, ~60 MB), the core jar, every shared library
# the runtime links against plus the dynamic loader, and any sequence files named in the
# arguments. In the guest, the loader is linked to /lib64 (its initramfs root is writable) and
# java runs with LD_LIBRARY_PATH pointing at the copied libraries. Needs the oracle set up
# (../shared/oracle/setup.sh, as root). The VM runs under TCG: expect a minute or more.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$ROOT/scripts/java-env.sh"
ORACLE="${ORACLE_DIR:-$ROOT/../shared/oracle}"
WORK="${ORACLE_JVM_DIR:-${ORACLE_CACHE:-$HOME/.cache/iommufd-oracle}/jvm}"
[ -x "$ORACLE/run-in-vm.sh" ] || { echo "error: no oracle at $ORACLE (set ORACLE_DIR)" >&2; exit 2; }

JAR=$(ls "$ROOT"/core/target/iommufd4j-core-*.jar 2>/dev/null | grep -v -- '-tests' | head -1 || true)
if [ -z "$JAR" ] || [ -n "$(find "$ROOT/core/src/main" -newer "$JAR" -print -quit)" ]; then
  (cd "$ROOT" && mvn -B -q -ntp package -DskipTests -pl core) >&2
  JAR=$(ls "$ROOT"/core/target/iommufd4j-core-*.jar | grep -v -- '-tests' | head -1)
fi

mkdir -p "$WORK"
if [ ! -x "$WORK/jdk/bin/java" ] || [ "$JAVA_HOME/release" -nt "$WORK/jdk/bin/java" ]; then
  rm -rf "$WORK/jdk" "$WORK/lib"
  "$JAVA_HOME/bin/jlink" --add-modules java.base,jdk.jfr --strip-debug --no-header-files \
    --no-man-pages --output "$WORK/jdk"
  mkdir -p "$WORK/lib"
  find "$WORK/jdk" -name '*.so' -o -path '*/bin/java' | xargs ldd 2>/dev/null \
    | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}' | sort -u \
    | while read -r lib; do cp -L "$lib" "$WORK/lib/"; done
fi
cp "$JAR" "$WORK/core.jar"

[ $# -eq 0 ] && set -- --sample --trace
# The guest runs the command as root, which holds CAP_IPC_LOCK (nothing is charged against
# RLIMIT_MEMLOCK): the emulated side must be the same caller unless told otherwise.
case " $* " in *" --left "*) ;; *) set -- --left emulated:capIpcLock=true "$@" ;; esac
ARGS=()
for a in "$@"; do
  if [ -f "$a" ]; then cp "$a" "$WORK/$(basename "$a")"; ARGS+=("$(basename "$a")"); else ARGS+=("$a"); fi
done

# shellcheck disable=SC2016
exec env ORACLE_MEM="${ORACLE_MEM:-2048}" "$ORACLE/run-in-vm.sh" "$WORK" sh -c '
  mkdir -p /lib64 && ln -sf "$PWD/lib/ld-linux-x86-64.so.2" /lib64/ld-linux-x86-64.so.2
  LD_LIBRARY_PATH="$PWD/lib" exec ./jdk/bin/java -Xshare:off -XX:-UsePerfData \
    -XX:TieredStopAtLevel=1 --enable-native-access=ALL-UNNAMED \
    -cp core.jar org.iommufd4j.diff.DiffMain "$@"' sh "${ARGS[@]}"
