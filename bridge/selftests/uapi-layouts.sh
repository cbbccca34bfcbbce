#!/usr/bin/env bash
# Builds uapi_layouts (what the Linux 6.12 uapi headers say of every struct, member and number
# org.iommufd4j.uapi describes) against the kernel's own headers, unpacked by kernel-source.sh,
# into OUT (default bridge/target/uapi). Prints the binary's path.
#
# Exit status: 0 built, 77 the kernel source is not available here, anything else a failure.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="${1:-$HERE/../target/uapi}"
CACHE=$("$HERE/kernel-source.sh") # exits 77 itself when the source is not available
mkdir -p "$OUT"
if [ ! -x "$OUT/uapi_layouts" ] || [ "$HERE/uapi_layouts.c" -nt "$OUT/uapi_layouts" ]; then
  ${CC:-cc} -O0 -Wall -Werror -isystem "$CACHE/include" \
    -I "$CACHE/linux-source-6.12/drivers/iommu/iommufd" \
    -o "$OUT/uapi_layouts" "$HERE/uapi_layouts.c"
fi
echo "$OUT/uapi_layouts"
