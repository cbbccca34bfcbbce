package org.iommufd4j.bridge;

/**
 * How long a mailbox reader spins before it sleeps, learned per channel. Spinning pays only while
 * the peer runs on another CPU at the same time; when it does not (the machine is busy, or the peer
 * thinks between calls), every spin is CPU taken from whatever needs it, the peer included, and
 * then the wake-up is paid anyway. So: spin a few times as long as the spins that caught a frame
 * took (not a fixed maximum), stop spinning once most recent spins missed, and try one spin in
 * {@link #PROBE_EVERY} meanwhile to notice when spinning pays again. The shim learns the same way
 * ({@code native/transport.c}: {@code spin_budget}).
 */
final class SpinBudget {
  /** Spin while at least half (of 256) of the recent spins caught their frame. */
  private static final int HIT_SHARE_MIN = 128;

  /** The share never falls below this, so that two caught probes resume spinning. */
  private static final int HIT_SHARE_FLOOR = 100;

  private static final int PROBE_EVERY = 16;

  /** The budget: this many times the typical caught spin, plus {@link #MIN_NANOS}. */
  private static final long TYPICAL_FACTOR = 4;

  private static final long MIN_NANOS = 2_000;

  private final long maxNanos;

  /** A running mean (weight 1/8) of how long the spins that caught a frame took. */
  private long typicalNanos;

  /** Of 256: how many of the recent spins (weight 1/8) caught their frame. */
  private int hitShare = 256;

  private int waits;

  /** A budget of at most {@code maxNanos}; none at all for 0. */
  SpinBudget(long maxNanos) {
    this.maxNanos = Math.max(0, maxNanos);
    this.typicalNanos = this.maxNanos / TYPICAL_FACTOR;
  }

  /** How long to spin for the next frame: 0 to sleep at once. */
  long nanos() {
    if (maxNanos == 0 || (hitShare < HIT_SHARE_MIN && ++waits % PROBE_EVERY != 0)) {
      return 0;
    }
    return Math.min(maxNanos, TYPICAL_FACTOR * typicalNanos + MIN_NANOS);
  }

  /** A spin caught its frame after {@code nanos}. */
  void caught(long nanos) {
    typicalNanos += (Math.min(nanos, maxNanos) - typicalNanos) / 8;
    hitShare += (256 - hitShare + 7) / 8;
  }

  /** A spin gave up. */
  void missed() {
    hitShare = Math.max(HIT_SHARE_FLOOR, hitShare - hitShare / 8);
  }
}
