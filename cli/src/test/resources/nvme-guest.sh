#!/bin/sh
# Boots Debian's own kernel under QEMU (TCG) with `-device vfio-pci,host=BDF` and an initramfs
# of Debian's busybox-static and the kernel's nvme modules; the guest's /init writes a pattern to
# /dev/nvme0n1, reads it back, compares, prints `NVME-GUEST: ok` (or `NVME-GUEST: FAIL ...`),
# its nvme kernel messages, and powers off.
# Usage: nvme-guest.sh prepare CACHE          unpack the packages into CACHE (apt-get download)
#        nvme-guest.sh run CACHE BDF OUTPUT [SECONDS]
# The pattern is 4 KiB of the text `IOMMUFD4J-NVME-GUEST-PATTERN ` repeated, written at LBA 8
# (byte 4096) of the namespace.
set -u
cmd=$1 cache=$2

prepare() {
  mkdir -p "$cache/debs" || return 1
  (cd "$cache/debs" && apt-get download linux-image-amd64 busybox-static >/dev/null 2>&1) || return 1
  # linux-image-amd64 is a metapackage: its one dependency is the versioned image
  image=$(dpkg-deb -f "$cache"/debs/linux-image-amd64_*.deb Depends | sed 's/[ ,(].*//')
  (cd "$cache/debs" && apt-get download "$image" >/dev/null 2>&1) || return 1
  rm -rf "$cache/root"
  for deb in "$cache"/debs/"$image"_*.deb "$cache"/debs/busybox-static_*.deb; do
    dpkg-deb -x "$deb" "$cache/root" || return 1
  done
}

# The modules a module needs, deepest first, then itself (from its `depends=` field)
module_closure() {
  for dep in $(/sbin/modinfo -F depends "$1" | tr , ' '); do
    module_closure "$(find "$moddir" -name "$dep.ko" -o -name "$(echo "$dep" | tr - _).ko" | head -1)"
  done
  echo "$1"
}

initramfs() {
  kver=$(ls "$cache/root/lib/modules" | head -1)
  moddir="$cache/root/lib/modules/$kver"
  tree=$(mktemp -d) || return 1
  mkdir -p "$tree/bin" "$tree/proc" "$tree/sys" "$tree/dev" "$tree/mod"
  cp "$cache/root/bin/busybox" "$tree/bin/busybox"
  # the crc algorithms t10-pi's libraries look up by name are soft dependencies: load them first
  soft=$(find "$moddir" -name crct10dif_generic.ko -o -name crc64_rocksoft_generic.ko)
  order=""
  for m in $(for top in $soft "$(find "$moddir" -name nvme.ko)"; do module_closure "$top"; done); do
    name=$(basename "$m")
    case " $order " in *" $name "*) continue ;; esac
    cp "$m" "$tree/mod/$name"
    order="$order $name"
  done
  cat >"$tree/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $order; do insmod /mod/\$m || echo "insmod \$m failed"; done
i=0
while [ ! -b /dev/nvme0n1 ] && [ \$i -lt 60 ]; do sleep 1; i=\$((i + 1)); done
if [ ! -b /dev/nvme0n1 ]; then
  echo "NVME-GUEST: FAIL no /dev/nvme0n1"
else
  yes 'IOMMUFD4J-NVME-GUEST-PATTERN' | tr '\n' ' ' | head -c 4096 >/pattern
  if ! dd if=/pattern of=/dev/nvme0n1 bs=4096 seek=1 count=1 conv=fsync 2>/dd.err; then
    echo "NVME-GUEST: FAIL write: \$(cat /dd.err)"
  elif ! echo 3 >/proc/sys/vm/drop_caches || ! dd if=/dev/nvme0n1 of=/readback bs=4096 skip=1 count=1 2>/dd.err; then
    echo "NVME-GUEST: FAIL read: \$(cat /dd.err)"
  elif cmp /pattern /readback; then
    echo "NVME-GUEST: ok"
  else
    echo "NVME-GUEST: FAIL readback differs"
  fi
fi
dmesg | grep -i nvme
grep nvme /proc/interrupts
sync
poweroff -f
EOF
  chmod +x "$tree/init"
  (cd "$tree" && find . | cpio -o -H newc --quiet | gzip -1) >"$cache/initramfs.gz"
  rc=$?
  rm -rf "$tree"
  return $rc
}

run() {
  bdf=$1 out=$2 limit=${3:-300}
  initramfs || { echo "cannot build the initramfs" >&2; return 1; }
  kernel=$(ls "$cache"/root/boot/vmlinuz-* | head -1)
  timeout "$limit" qemu-system-x86_64 -machine q35 -accel tcg -nodefaults -display none -m 256 \
    -no-reboot -serial stdio -kernel "$kernel" -initrd "$cache/initramfs.gz" \
    -append 'console=ttyS0 panic=-1 loglevel=4' -device "vfio-pci,host=$bdf" \
    </dev/null >"$out" 2>&1
}

case "$cmd" in
prepare) prepare ;;
run) shift 2 && run "$@" ;;
*) echo "usage: nvme-guest.sh prepare|run CACHE ..." >&2 && exit 2 ;;
esac
