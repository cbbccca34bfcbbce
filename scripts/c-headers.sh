#!/usr/bin/env bash
# For C programs built against iommufd4j: Linux 6.12's uapi headers (<linux/iommufd.h>,
# <linux/vfio.h>; Debian 12's own linux-libc-dev is 6.1 and has no iommufd.h), unpacked from
# Debian's linux-source-6.12 by bridge/selftests/kernel-source.sh (never committed).
#   c-headers.sh cflags      the compiler flags:  cc $(./run.sh cflags) prog.c
#   c-headers.sh pkgconfig   a directory holding iommufd4j.pc, for PKG_CONFIG_PATH
# Exit status: 0, or 1 with one line saying why (the kernel source cannot be had here).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
status=0
CACHE=$("$ROOT/bridge/selftests/kernel-source.sh" 2>/tmp/iommufd4j-headers.$$) || status=$?
if [ "$status" != 0 ]; then
  echo "iommufd4j: no Linux 6.12 uapi headers: $(tail -1 /tmp/iommufd4j-headers.$$)" >&2
  rm -f /tmp/iommufd4j-headers.$$
  exit 1
fi
rm -f /tmp/iommufd4j-headers.$$
case "${1:-cflags}" in
  cflags) echo "-isystem $CACHE/include" ;;
  pkgconfig)
    mkdir -p "$CACHE/pkgconfig"
    cat >"$CACHE/pkgconfig/iommufd4j.pc" <<PC
includedir=$CACHE/include

Name: iommufd4j
Description: Linux 6.12 uapi headers of iommufd and VFIO, for programs run under iommufd4j
Version: 6.12
Cflags: -isystem \${includedir}
PC
    echo "$CACHE/pkgconfig" ;;
  *) echo "usage: c-headers.sh cflags|pkgconfig" >&2; exit 2 ;;
esac
