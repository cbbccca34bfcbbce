package org.iommufd4j.bridge;

/**
 * How long a mailbox reader spins before it sleeps, learned per channel from how long its waits
 * took. Spinning pays only for a frame that comes within the configured maximum, and then only a
 * few times as long as such frames take: spinning longer mostly keeps the peer, or whatever else
 * needs the CPU, from running. A channel whose waits are mostly longer (a client that thinks
 * between calls, a peer with no CPU) sleeps at once; a sleeper still measures its waits, so
 * spinning resumes as soon as frames come quickly again. The shim learns the same way ({@code
 * native/transport.c}: {@code spin_budget}, {@code learn}).
 */
final class SpinBudget {
  /** Spin while at least half (of 256) of the recent waits were quick. */
  private static final int QUICK_SHARE_MIN = 128;

  /** The budget: this many times the typical quick wait, plus {@link #MIN_NANOS}. */
  private static final long TYPICAL_FACTOR = 4;

  private static final long MIN_NANOS = 2_000;

  private final long maxNanos;

  /** A running mean (weight 1/8) of the waits no longer than {@link #maxNanos}. */
  private long typicalNanos;

  /** Of 256: how many of the recent waits (weight 1/8) were that quick. */
  private int quickShare = 256;

  /** A budget of at most {@code maxNanos}; none at all for 0. */
  SpinBudget(long maxNanos) {
    this.maxNanos = Math.max(0, maxNanos);
    this.typicalNanos = this.maxNanos / TYPICAL_FACTOR;
  }

  /** How long to spin for the next frame: 0 to sleep at once. */
  long nanos() {
    if (maxNanos == 0 || quickShare < QUICK_SHARE_MIN) {
      return 0;
    }
    return Math.min(maxNanos, TYPICAL_FACTOR * typicalNanos + MIN_NANOS);
  }

  /** A wait that took {@code nanos}, whether spinning or sleeping ended it. */
  void learn(long nanos) {
    if (nanos <= maxNanos) {
      typicalNanos += (nanos - typicalNanos) / 8;
      quickShare += (256 - quickShare + 7) / 8;
    } else {
      quickShare -= quickShare / 8;
    }
  }
}
