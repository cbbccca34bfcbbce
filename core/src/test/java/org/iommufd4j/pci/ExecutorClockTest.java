package org.iommufd4j.pci;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Real-time timers: they fire on the clock's thread, once per arming, and cancel for good. */
class ExecutorClockTest {
  @Test
  void aTimerFiresOnTheClocksThreadAndIsThenDisarmed() throws InterruptedException {
    try (ExecutorClock clock = new ExecutorClock("clock-test")) {
      CountDownLatch fired = new CountDownLatch(1);
      String[] thread = new String[1];
      DeviceClock.Timer t =
          clock.timer(
              () -> {
                thread[0] = Thread.currentThread().getName();
                fired.countDown();
              });
      t.arm(0);
      assertThat(fired.await(30, TimeUnit.SECONDS)).isTrue();
      assertThat(thread[0]).isEqualTo("clock-test");
      assertThat(t.isArmed()).isFalse();
    }
  }

  @Test
  void rearmingReplacesThePendingExpiryAndCancelStopsIt() throws InterruptedException {
    try (ExecutorClock clock = new ExecutorClock("clock-test")) {
      AtomicInteger runs = new AtomicInteger();
      DeviceClock.Timer t = clock.timer(runs::incrementAndGet);
      t.arm(TimeUnit.HOURS.toNanos(1));
      t.cancel();
      assertThat(t.isArmed()).isFalse();
      CountDownLatch fired = new CountDownLatch(1);
      DeviceClock.Timer u =
          clock.timer(
              () -> {
                runs.incrementAndGet();
                fired.countDown();
              });
      u.arm(TimeUnit.HOURS.toNanos(1));
      u.arm(0);
      assertThat(fired.await(30, TimeUnit.SECONDS)).isTrue();
      CountDownLatch drained = new CountDownLatch(1);
      clock.timer(drained::countDown).arm(0); // runs after anything already due
      assertThat(drained.await(30, TimeUnit.SECONDS)).isTrue();
      assertThat(runs).hasValue(1);
    }
  }
}
