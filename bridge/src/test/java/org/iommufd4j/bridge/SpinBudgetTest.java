package org.iommufd4j.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class SpinBudgetTest {
  private static final long MAX = 50_000;

  @Test
  void quickRepliesAreSpunForAFewTimesTheirLength() {
    SpinBudget b = new SpinBudget(MAX);
    for (int i = 0; i < 100; i++) {
      b.caught(2_000);
    }
    long nanos = b.nanos();
    assertTrue(nanos >= 8_000 && nanos <= 12_000, "budget " + nanos);
  }

  @Test
  void afterMostlyMissedSpinsOnlyOneWaitInSixteenSpins() {
    SpinBudget b = new SpinBudget(MAX);
    for (int i = 0; i < 20; i++) {
      b.missed();
    }
    int spun = 0;
    for (int i = 0; i < 160; i++) {
      spun += b.nanos() > 0 ? 1 : 0;
    }
    assertEquals(10, spun);
  }

  @Test
  void twoCaughtProbesResumeSpinning() {
    SpinBudget b = new SpinBudget(MAX);
    for (int i = 0; i < 1_000; i++) {
      b.missed();
    }
    b.caught(1_500);
    b.caught(1_500);
    for (int i = 0; i < 16; i++) {
      assertTrue(b.nanos() > 0, "wait " + i + " slept");
    }
  }

  @Test
  void anOccasionalMissDoesNotStopSpinning() {
    SpinBudget b = new SpinBudget(MAX);
    for (int i = 0; i < 1_000; i++) {
      if (i % 5 == 0) {
        b.missed();
      } else {
        b.caught(2_000);
      }
      assertTrue(b.nanos() > 0, "stopped spinning after wait " + i);
    }
  }

  @Test
  void theBudgetStaysWithinTheMaximumWhateverTheWaits() {
    long seed = Long.getLong("seed", System.nanoTime());
    Random random = new Random(seed);
    SpinBudget b = new SpinBudget(MAX);
    for (int i = 0; i < 100_000; i++) {
      if (random.nextBoolean()) {
        b.caught(random.nextLong(1, Long.MAX_VALUE >> random.nextInt(62)));
      } else {
        b.missed();
      }
      long nanos = b.nanos();
      assertTrue(nanos >= 0 && nanos <= MAX, "seed " + seed + ": budget " + nanos);
    }
  }

  @Test
  void noMaximumNeverSpins() {
    SpinBudget b = new SpinBudget(0);
    b.caught(0);
    assertEquals(0, b.nanos());
  }
}
