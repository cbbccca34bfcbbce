#!/usr/bin/env bash
# The differential runner (`./run.sh diff`, from the CLI jar) in a JVM inside the kernel oracle's
# VM, emulator against the real /dev/iommu of Linux 6.12 there (see scripts/oracle-java.sh):
#
#   scripts/oracle-diff.sh [diff arguments]           # default: --sample --trace
#   scripts/oracle-diff.sh --random-mock 42:500       # a seeded random sequence
#   scripts/oracle-diff.sh --trace my.ops             # your own sequence file
#
# Without --left, the left side is emulated:capIpcLock=true: the guest runs the command as root,
# which holds CAP_IPC_LOCK (nothing is charged against RLIMIT_MEMLOCK). The right side defaults
# to kernel. Exit status as diff's: 0 no difference, 1 a difference, 2 an error.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
"$HERE/../run.sh" --version >/dev/null # builds the CLI if it is missing or stale
JAR=$(ls "$HERE"/../cli/target/iommufd4j-cli-*-all.jar | head -1)
[ $# -eq 0 ] && set -- --sample --trace
case " $* " in *" --left "*) ;; *) set -- --left emulated:capIpcLock=true "$@" ;; esac
COPY=()
ARGS=()
for a in "$@"; do
  if [ -f "$a" ]; then COPY+=(--copy "$a"); ARGS+=("$(basename "$a")"); else ARGS+=("$a"); fi
done
exec "$HERE/oracle-java.sh" --copy "$JAR" "${COPY[@]}" -- \
  --sun-misc-unsafe-memory-access=allow -jar "$(basename "$JAR")" diff "${ARGS[@]}"
