#!/usr/bin/env bash
# Builds the Linux 6.12 iommufd selftests (tools/testing/selftests/iommu: iommufd and
# iommufd_fail_nth), dynamically linked so the shim reaches them, from Debian's
# linux-source-6.12 package (unpacked by kernel-source.sh into a cache outside the repository);
# the binaries go to OUT (default bridge/target/selftests).
#
# Exit status: 0 built, 77 the kernel source is not available here (and cannot be installed:
# installing needs root and apt-get), anything else a build failure.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="${1:-$HERE/../target/selftests}"
CACHE=$("$HERE/kernel-source.sh") # exits 77 itself when the source is not available
SRC="$CACHE/linux-source-6.12"
mkdir -p "$OUT"
for t in iommufd iommufd_fail_nth; do
  if [ ! -x "$OUT/$t" ] || [ "$HERE/compat.h" -nt "$OUT/$t" ]; then
    # the selftest Makefile's flags (lib.mk adds -D_GNU_SOURCE=), dynamically linked
    ${CC:-cc} -O2 -Wall -Wno-unused-function -D_GNU_SOURCE= -isystem "$CACHE/include" \
      -include "$HERE/compat.h" -o "$OUT/$t" "$SRC/tools/testing/selftests/iommu/$t.c" -lpthread
  fi
done
echo "$OUT"
