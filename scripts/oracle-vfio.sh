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
#   scripts/oracle-vfio.sh --debian-kernel           # see below
#
# Each program runs ORACLE_VFIO_RUNS times (default 2); the transcript is written only when every
# run exits 0, ends with END and prints exactly the same lines. Needs the oracle set up once
# (../shared/oracle/setup.sh, as root); the 6.12 uapi headers are installed from its kernel
# source into $ORACLE_CACHE/uapi when missing (Debian 12's linux-libc-dev is 6.1).
#
# --debian-kernel boots Debian's stock kernel of the same 6.12 release instead of the oracle's own
# (for when that one is not built yet: it needs only the kernel source, not the ~1 h build). That
# kernel has no IOMMUFD, so iommufd.ko, vfio.ko, vfio-pci-core.ko and vfio-pci.ko are built out of
# tree from the oracle's kernel source with the oracle's VFIO configuration (device cdev,
# iommufd's /dev/vfio/vfio) and loaded at boot: the VFIO and iommufd code is the oracle's, the
# rest of the kernel (intel-iommu, with IRQ remapping) is Debian's. Cached in
# $ORACLE_CACHE/vfio-debian/<release>.
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
DEBIAN=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --debian-kernel) DEBIAN=1; shift ;;
    *) break ;;
  esac
done
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

# Debian's 6.12 kernel of the source's release plus the oracle's VFIO and iommufd as modules.
prepare_debian_kernel() {
  local src="$CACHE/linux-source-6.12" release dir root headers mods
  release="6.12.$(sed -n 's/^SUBLEVEL = //p' "$src/Makefile")+deb12"
  dir="$CACHE/vfio-debian/$release"
  VM_CACHE="$dir/cache"
  [ -f "$VM_CACHE/initramfs-debian.cpio" ] && return
  echo "oracle-vfio: preparing Debian's $release kernel with the oracle's VFIO modules in $dir" >&2
  mkdir -p "$dir/pkgs" "$VM_CACHE/debkernel" "$VM_CACHE/debian-extra"
  (cd "$dir/pkgs" && apt-get download -q "linux-image-$release-amd64" "linux-headers-$release-amd64" \
    "linux-headers-$release-common" "linux-kbuild-$release") >&2
  dpkg-deb -x "$dir"/pkgs/linux-image-*.deb "$VM_CACHE/debkernel"
  root="$dir/root"
  for deb in "$dir"/pkgs/linux-headers-*.deb "$dir"/pkgs/linux-kbuild-*.deb; do dpkg-deb -x "$deb" "$root"; done
  headers="$root/usr/src/linux-headers-$release-amd64"
  sed -i "s|^include /usr/src/|include $root/usr/src/|" "$headers/Makefile"

  mods="$dir/mods"
  rm -rf "$mods"
  mkdir -p "$mods/iommu/iommufd" "$mods/vfio/pci"
  cp "$src/drivers/iommu/iommu-priv.h" "$mods/iommu/"
  cp "$src"/drivers/iommu/iommufd/*.[ch] "$mods/iommu/iommufd/"
  cp "$src"/drivers/vfio/{vfio_main.c,group.c,iommufd.c,device_cdev.c,virqfd.c,vfio.h} "$mods/vfio/"
  cp "$src"/drivers/vfio/pci/{vfio_pci_core.c,vfio_pci_intrs.c,vfio_pci_rdwr.c,vfio_pci_config.c} \
    "$src"/drivers/vfio/pci/{vfio_pci.c,vfio_pci_igd.c,vfio_pci_priv.h,trace.h} "$mods/vfio/pci/"
  # iommufd needs the interval tree's span iterator, which Debian's kernel does not build.
  { sed -n '1,/^#ifdef CONFIG_INTERVAL_TREE_SPAN_ITER/p' "$src/lib/interval_tree.c" | grep '^#include'
    sed -n '/^#ifdef CONFIG_INTERVAL_TREE_SPAN_ITER/,/^#endif/p' "$src/lib/interval_tree.c" | sed '1d;$d'
  } > "$mods/iommu/iommufd/span_iter.c"
  cat > "$mods/config.h" <<'EOF_CONFIG'
/* The oracle's VFIO configuration, over Debian's (VFIO_CONTAINER=y, no IOMMUFD). */
#undef CONFIG_VFIO_CONTAINER
#define CONFIG_IOMMUFD_MODULE 1
#define CONFIG_IOMMUFD_VFIO_CONTAINER 1
#define CONFIG_VFIO_DEVICE_CDEV 1
#define CONFIG_INTERVAL_TREE_SPAN_ITER 1
EOF_CONFIG
  printf 'subdir-ccflags-y := -include %s/config.h\nobj-m += iommu/iommufd/ vfio/ vfio/pci/\n' "$mods" > "$mods/Kbuild"
  printf 'iommufd-y := span_iter.o device.o fault.o hw_pagetable.o io_pagetable.o ioas.o main.o pages.o vfio_compat.o\nobj-m += iommufd.o\n' \
    > "$mods/iommu/iommufd/Kbuild"
  printf 'vfio-y := vfio_main.o device_cdev.o group.o iommufd.o virqfd.o\nobj-m += vfio.o\n' > "$mods/vfio/Kbuild"
  printf 'vfio-pci-core-y := vfio_pci_core.o vfio_pci_intrs.o vfio_pci_rdwr.o vfio_pci_config.o\nobj-m += vfio-pci-core.o\nvfio-pci-y := vfio_pci.o vfio_pci_igd.o\nobj-m += vfio-pci.o\n' \
    > "$mods/vfio/pci/Kbuild"
  make -s -C "$headers" M="$mods" -j"$(nproc)" CONFIG_DEBUG_INFO_BTF_MODULES= modules >&2
  # Loaded in this order (the initramfs loads debian-extra/*.ko by name).
  cp "$mods/iommu/iommufd/iommufd.ko" "$VM_CACHE/debian-extra/1-iommufd.ko"
  cp "$mods/vfio/vfio.ko" "$VM_CACHE/debian-extra/2-vfio.ko"
  cp "$mods/vfio/pci/vfio-pci-core.ko" "$VM_CACHE/debian-extra/3-vfio-pci-core.ko"
  cp "$mods/vfio/pci/vfio-pci.ko" "$VM_CACHE/debian-extra/4-vfio-pci.ko"
  ORACLE_CACHE="$VM_CACHE" DEBIAN_EXTRA_MODULES="virtio_pci irqbypass" "$ORACLE/mkinitramfs.sh" debian
}
VM_CACHE="$CACHE"
VM_KERNEL=custom
KERNEL_NOTE="the oracle's kernel"
if [ $DEBIAN = 1 ]; then
  prepare_debian_kernel
  VM_KERNEL=debian
  KERNEL_NOTE="Debian's kernel with the oracle's VFIO and iommufd built as modules: --debian-kernel"
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

# nowatchdog: under TCG on a busy host the soft-lockup detector fires during boot, and its
# messages reach the console before probe.sh can silence it.
APPEND="iommufd.allow_unsafe_interrupts=1 nowatchdog"
QEMU_EXTRA="-device intel-iommu,intremap=on -device edu"
QEMU_VERSION=$(qemu-system-x86_64 --version | head -1 | sed 's/^QEMU emulator version //')
mkdir -p "$OUT"
status=0
for p in "${PROGRAMS[@]}"; do
  for run in $(seq 1 "$RUNS"); do
    rc=0
    ORACLE_CACHE="$VM_CACHE" ORACLE_KERNEL="$VM_KERNEL" ORACLE_APPEND="$APPEND" ORACLE_QEMU_EXTRA="$QEMU_EXTRA" \
      "$ORACLE/run-in-vm.sh" "$WORK" sh probe.sh "./$p" > "$WORK/$p.$run.txt" || rc=$?
    sed -i 's/\r$//' "$WORK/$p.$run.txt"
    if grep -qE '^\[ *[0-9]+\.[0-9]+\] ' "$WORK/$p.$run.txt"; then
      echo "oracle-vfio: $p run $run: kernel messages on the console, left out of the transcript:" >&2
      grep -E '^\[ *[0-9]+\.[0-9]+\] ' "$WORK/$p.$run.txt" >&2
      sed -i -E '/^\[ *[0-9]+\.[0-9]+\] /d' "$WORK/$p.$run.txt"
    fi
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
    echo "# Linux $(cat "$WORK/kernel-release") ($KERNEL_NOTE), QEMU $QEMU_VERSION (TCG):" \
      "ORACLE_APPEND=\"$APPEND\" ORACLE_QEMU_EXTRA=\"$QEMU_EXTRA\" run-in-vm.sh DIR sh vfio-bind.sh ./$p" \
      "(scripts/oracle-vfio.sh; identical in $RUNS runs)"
    cat "$WORK/$p.1.txt"
  } > "$OUT/$p.txt"
  echo "oracle-vfio: $p: $(wc -l < "$WORK/$p.1.txt") lines, identical in $RUNS runs -> $OUT/$p.txt" >&2
done
exit $status
