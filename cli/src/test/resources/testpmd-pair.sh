#!/bin/sh
# Runs Debian's dpdk-testpmd, unmodified, on the two virtio-net ports 0000:00:04.0 and
# 0000:00:05.0 (wired back to back) in io forwarding mode with a first burst sent on each port,
# then interrupts it after SECONDS so that it prints its forward statistics and exits.
# Usage: testpmd-pair.sh OUTPUT [SECONDS]
# EAL options: no hugepages (malloc'd memory, which implies legacy memory mode, so no
# --in-memory; --no-shconf instead), IOVA = VA from 8 GiB (EAL's choices made explicit: the
# legacy queue PFN register, 32 bits of 4 KiB pages, reaches rings below 16 TiB only), and an
# mbuf pool that fits in -m.
set -u
out=$1 seconds=${2:-15}
timeout -s INT "$seconds" dpdk-testpmd -a 0000:00:04.0 -a 0000:00:05.0 \
  --no-huge -m 256 --no-shconf --no-telemetry --iova-mode=va --base-virtaddr=0x200000000 \
  -- --forward-mode=io --tx-first --stats-period 1 --total-num-mbufs=16384 \
  </dev/null >"$out" 2>&1
status=$?
# timeout's 124 is the interrupt we asked for; testpmd itself exits 0 on SIGINT
[ "$status" = 124 ] && status=0
exit "$status"
