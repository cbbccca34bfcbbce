#!/bin/sh
# Runs Debian's QEMU with `-device vfio-pci,host=BDF` (TCG, no disks), waits until the guest's
# firmware has given the device's BAR0 an address, then prints the monitor's `info pci` and
# `info mtree -f` and quits. Usage: qemu-vfio.sh BDF OUTPUT [SECONDS]
set -u
bdf=$1 out=$2 limit=${3:-60}
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
mkfifo "$dir/monitor"
qemu-system-x86_64 -machine q35 -accel tcg -nodefaults -display none -m 128 -serial none \
  -monitor stdio -device "vfio-pci,host=$bdf" <"$dir/monitor" >"$out" 2>&1 &
qemu=$!
exec 3>"$dir/monitor"
i=0
while [ "$i" -lt "$limit" ] && kill -0 "$qemu" 2>/dev/null; do
  echo "info pci" >&3
  sleep 1
  # SeaBIOS has placed BAR0 once `info pci` shows an address other than all ones
  if grep 'BAR0: 32 bit memory at 0x' "$out" | grep -qv 'at 0xffffffffffffffff'; then break; fi
  i=$((i + 1))
done
echo "info mtree -f" >&3
sleep 1
echo quit >&3
exec 3>&-
wait "$qemu"
