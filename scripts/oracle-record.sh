#!/usr/bin/env bash
# Records PROGRAM's calls on the real Linux 6.12 /dev/iommu of the kernel oracle's VM
# (`exec --record --kernel`), for `./run.sh replay TRACE` here:
#
#   scripts/oracle-record.sh TRACE PROGRAM [ARGS...]
#   ORACLE_HUGEPAGES=64 scripts/oracle-record.sh /tmp/selftest.jsonl cli/target/selftests/iommufd
#
# PROGRAM is copied into the VM and must be linked dynamically against this machine's libc (the
# shim is preloaded; the libraries the JVM needs, libc among them, are copied in). Exits with
# PROGRAM's status; the trace is written even when PROGRAM fails. Needs the oracle set up once
# (../shared/oracle/setup.sh, as root); see scripts/oracle-java.sh for the VM's JVM.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -ge 2 ] || { echo "usage: $0 TRACE PROGRAM [ARGS...]" >&2; exit 2; }
TRACE="$1"
PROGRAM="$2"
shift 2
[ -x "$PROGRAM" ] || { echo "error: $PROGRAM is not an executable" >&2; exit 2; }
"$ROOT/run.sh" --version >/dev/null # builds the CLI if it is missing or stale
JAR=$(ls "$ROOT"/cli/target/iommufd4j-cli-*-all.jar | head -1)
WORK="${ORACLE_JVM_DIR:-${ORACLE_CACHE:-$HOME/.cache/iommufd-oracle}/jvm}"
NAME=trace.jsonl
case "$TRACE" in *.gz) NAME=trace.jsonl.gz ;; esac # compressed in the VM already
rm -f "$WORK/$NAME"
status=0
"$ROOT/scripts/oracle-java.sh" --copy "$JAR" --copy "$PROGRAM" -- \
  --sun-misc-unsafe-memory-access=allow -jar "$(basename "$JAR")" \
  exec --record "$NAME" --kernel -- "./$(basename "$PROGRAM")" "$@" || status=$?
[ -f "$WORK/$NAME" ] || { echo "error: the VM wrote no trace (status $status)" >&2; exit 2; }
cp "$WORK/$NAME" "$TRACE"
echo "oracle-record: $(zcat -f "$TRACE" | grep -c '"type":"ioctl"') ioctls recorded in $TRACE;" \
  "replay: ./run.sh replay $TRACE" >&2
exit "$status"
