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
      b.learn(2_000);
    }
    long nanos = b.nanos();
    assertTrue(nanos >= 8_000 && nanos <= 12_000, "budget " + nanos);
  }

  @Test
  void mostlySlowRepliesAreNotSpunFor() {
    SpinBudget b = new SpinBudget(MAX);
    for (int i = 0; i < 10; i++) {
      b.learn(1_000_000);
    }
    assertEquals(0, b.nanos());
  }

  @Test
  void spinningResumesOnceRepliesAreQuickAgain() {
    SpinBudget b = new SpinBudget(MAX);
    for (int i = 0; i < 50; i++) {
      b.learn(Long.MAX_VALUE);
    }
    assertEquals(0, b.nanos());
    for (int i = 0; i < 10; i++) {
      b.learn(30_000); // a slept wait: the reply plus the wake-up, still within the maximum
    }
    assertTrue(b.nanos() > 0);
    for (int i = 0; i < 50; i++) {
      b.learn(1_500);
    }
    assertTrue(b.nanos() < 10_000, "budget " + b.nanos());
  }

  @Test
  void anOccasionalSlowReplyDoesNotStopSpinning() {
    SpinBudget b = new SpinBudget(MAX);
    for (int i = 0; i < 1_000; i++) {
      b.learn(i % 10 == 0 ? 5_000_000 : 2_000);
      assertTrue(b.nanos() > 0, "stopped spinning after wait " + i);
    }
  }

  @Test
  void theBudgetStaysWithinTheMaximumWhateverTheWaits() {
    long seed = Long.getLong("seed", System.nanoTime());
    Random random = new Random(seed);
    SpinBudget b = new SpinBudget(MAX);
    for (int i = 0; i < 100_000; i++) {
      b.learn(random.nextBoolean() ? random.nextLong(MAX * 2) : random.nextLong(1, Long.MAX_VALUE));
      long nanos = b.nanos();
      assertTrue(nanos >= 0 && nanos <= MAX, "seed " + seed + ": budget " + nanos);
    }
  }

  @Test
  void noMaximumNeverSpins() {
    SpinBudget b = new SpinBudget(0);
    b.learn(0);
    assertEquals(0, b.nanos());
  }
}
