#!/usr/bin/env bash
# Unpacks the few Linux 6.12 files iommufd4j compiles against (the iommufd selftests, their
# headers, and the uapi headers iommufd.h, vfio.h and iommufd_test.h) from Debian's
# linux-source-6.12 package into a cache outside the repository ($IOMMUFD4J_CACHE, default
# ~/.cache/iommufd4j), once, and prints that directory: DIR/linux-source-6.12 holds the files
# as in the tree, DIR/include the uapi headers stripped of kernel-only annotations as
# `make headers_install` would. Kernel files are never committed.
#
# Exit status: 0 ready, 77 the kernel source is not available here (and cannot be installed:
# installing needs root and apt-get), anything else a failure.
set -euo pipefail
TARBALL=/usr/src/linux-source-6.12.tar.xz
if [ ! -f "$TARBALL" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing linux-source-6.12 for the kernel's own files..." >&2
    (apt-get update -qq && apt-get install -y -qq linux-source-6.12) >&2 || true
  fi
  [ -f "$TARBALL" ] || { echo "skip: $TARBALL missing (apt-get install linux-source-6.12)" >&2; exit 77; }
fi
if ! command -v xz >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && apt-get install -y -qq xz-utils) >&2 || true
  fi
  command -v xz >/dev/null 2>&1 || { echo "skip: no xz to unpack $TARBALL (apt-get install xz-utils)" >&2; exit 77; }
fi
VERSION=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || stat -c %Y "$TARBALL")
CACHE="${IOMMUFD4J_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/iommufd4j}/selftests-$VERSION"
SRC="$CACHE/linux-source-6.12"
FILES=(tools/testing/selftests/iommu/iommufd.c tools/testing/selftests/iommu/iommufd_fail_nth.c
  tools/testing/selftests/iommu/iommufd_utils.h tools/testing/selftests/kselftest_harness.h
  tools/testing/selftests/kselftest.h drivers/iommu/iommufd/iommufd_test.h
  include/uapi/linux/iommufd.h include/uapi/linux/vfio.h)
if [ ! -f "$CACHE/.complete" ]; then
  echo "unpacking the iommufd files from $TARBALL (once)..." >&2
  rm -rf "$CACHE"; mkdir -p "$CACHE"
  tar -C "$CACHE" -xJf "$TARBALL" "${FILES[@]/#/linux-source-6.12/}"
  # The tree's uapi headers for iommufd and vfio, the system's for everything else.
  mkdir -p "$CACHE/include/linux"
  for h in iommufd vfio; do
    sed -E 's/(__user|__force|__iomem) //g' "$SRC/include/uapi/linux/$h.h" >"$CACHE/include/linux/$h.h"
  done
  touch "$CACHE/.complete"
fi
echo "$CACHE"
