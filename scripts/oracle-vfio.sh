#!/usr/bin/env bash
# Records what the real Linux 6.12 answers to the VFIO probes of bridge/native/tests/vfio: builds
# them statically against the kernel's own uapi headers and runs each in the kernel oracle's VM
# (../shared/oracle) with QEMU's edu device behind a virtual VT-d, bound to vfio-pci, writing the
# transcripts the emulated-device tests compare against:
#
#   scripts/oracle-vfio.sh                     # edu_cdev and edu_group -> bridge/src/test/resources/oracle/
#   scripts/oracle-vfio.sh edu_group           # one program
#   ORACLE_DMESG=1 scripts/oracle-vfio.sh edu_cdev   # also the guest's kernel log, on stderr
#   scripts/oracle-vfio.sh --out /tmp/t edu_cdev     # write the transcript elsewhere
#
# Each program runs ORACLE_VFIO_RUNS times (default 2); the transcript is written only when every
# run exits 0, ends with END and prints exactly the same lines. Needs the oracle set up once
# (../shared/oracle/setup.sh, as root); the 6.12 uapi headers are installed from its kernel
# source into $ORACLE_CACHE/uapi when missing (Debian 12's linux-libc-dev is 6.1).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${ORACLE_CACHE:-$HOME/.cache/iommufd-oracle}"
ORACLE="${ORACLE_DIR:-$ROOT/../shared/oracle}"
if [ ! -x "$ORACLE/run-in-vm.sh" ] && [ -z "${ORACLE_DIR:-}" ]; then
  # In a git worktree the shared directory sits next to the main checkout.
  common=$(git -C "$ROOT" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
  [ -n "$common" ] && ORACLE="$(dirname "$(dirname "$common")")/shared/oracle"
fi
[ -x "$ORACLE/run-in-vm.sh" ] || { echo "error: no oracle at $ORACLE (set ORACLE_DIR)" >&2; exit 2; }
OUT="$ROOT/bridge/src/test/resources/oracle"
if [ "${1:-}" = --out ]; then OUT="$2"; shift 2; fi
PROGRAMS=("$@")
[ ${#PROGRAMS[@]} -gt 0 ] || PROGRAMS=(edu_cdev edu_group)
RUNS="${ORACLE_VFIO_RUNS:-2}"
SRC="$ROOT/bridge/native/tests/vfio"

UAPI="$CACHE/uapi/include"
if [ ! -f "$UAPI/linux/iommufd.h" ]; then
  [ -d "$CACHE/linux-source-6.12" ] || { echo "error: no kernel source in $CACHE (run the oracle's setup.sh)" >&2; exit 2; }
  echo "oracle-vfio: installing the 6.12 uapi headers into $CACHE/uapi" >&2
  make -s -C "$CACHE/linux-source-6.12" O="$CACHE/uapi-build" headers_install INSTALL_HDR_PATH="$CACHE/uapi" >&2
fi

WORK=$(mktemp -d /tmp/oracle-vfio.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cp "$ORACLE/vfio-bind.sh" "$WORK/"
# The guest notes its kernel release for the transcript's header, keeps kernel messages off the
# console (they would interleave with the transcript; ORACLE_DMESG=1 shows them afterwards), then
# binds edu to vfio-pci and runs the probe.
cat > "$WORK/probe.sh" <<'EOF_PROBE'
uname -r > kernel-release
echo 0 > /proc/sys/kernel/printk
exec sh vfio-bind.sh "$@"
EOF_PROBE
for p in "${PROGRAMS[@]}"; do
  [ -f "$SRC/$p.c" ] || { echo "error: no $SRC/$p.c" >&2; exit 2; }
  gcc -static -O2 -std=gnu11 -Wall -Wextra -Wno-unused-parameter -isystem "$UAPI" \
    -o "$WORK/$p" "$SRC/$p.c" "$SRC/edu_common.c"
done

APPEND="iommufd.allow_unsafe_interrupts=1"
QEMU_EXTRA="-device intel-iommu,intremap=on -device edu"
QEMU_VERSION=$(qemu-system-x86_64 --version | head -1 | sed 's/^QEMU emulator version //')
mkdir -p "$OUT"
status=0
for p in "${PROGRAMS[@]}"; do
  for run in $(seq 1 "$RUNS"); do
    rc=0
    ORACLE_APPEND="$APPEND" ORACLE_QEMU_EXTRA="$QEMU_EXTRA" \
      "$ORACLE/run-in-vm.sh" "$WORK" sh probe.sh "./$p" > "$WORK/$p.$run.txt" || rc=$?
    sed -i 's/\r$//' "$WORK/$p.$run.txt"
    if [ $rc -ne 0 ] || [ "$(tail -1 "$WORK/$p.$run.txt")" != END ]; then
      echo "oracle-vfio: $p run $run failed (exit $rc); its output:" >&2
      cat "$WORK/$p.$run.txt" >&2
      status=1
      continue 2
    fi
    if [ "$run" -gt 1 ] && ! diff -u "$WORK/$p.1.txt" "$WORK/$p.$run.txt" >&2; then
      echo "oracle-vfio: $p: run $run differs from run 1 (above); transcript not written" >&2
      status=1
      continue 2
    fi
  done
  {
    echo "# Linux $(cat "$WORK/kernel-release") (the oracle's kernel), QEMU $QEMU_VERSION (TCG):" \
      "ORACLE_APPEND=\"$APPEND\" ORACLE_QEMU_EXTRA=\"$QEMU_EXTRA\" run-in-vm.sh DIR sh vfio-bind.sh ./$p" \
      "(scripts/oracle-vfio.sh; identical in $RUNS runs)"
    cat "$WORK/$p.1.txt"
  } > "$OUT/$p.txt"
  echo "oracle-vfio: $p: $(wc -l < "$WORK/$p.1.txt") lines, identical in $RUNS runs -> $OUT/$p.txt" >&2
done
exit $status
