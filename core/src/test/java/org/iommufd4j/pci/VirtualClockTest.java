package org.iommufd4j.pci;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Virtual time: timers fire in expiry order, at their time, only when time is advanced. */
class VirtualClockTest {
  private final VirtualClock clock = new VirtualClock();
  private final List<String> fired = new ArrayList<>();

  private DeviceClock.Timer timer(String name) {
    return clock.timer(() -> fired.add(name + "@" + clock.nanoTime()));
  }

  @Test
  void timersFireInExpiryOrderAtTheirTime() {
    timer("b").arm(200);
    timer("a").arm(100);
    timer("now").arm(0);
    assertThat(fired).as("never inline").isEmpty();
    clock.advance(150);
    assertThat(fired).containsExactly("now@0", "a@100");
    assertThat(clock.nanoTime()).isEqualTo(150);
    clock.advance(50);
    assertThat(fired).containsExactly("now@0", "a@100", "b@200");
    assertThat(clock.armedTimers()).isZero();
  }

  @Test
  void rearmingMovesTheExpiryAndCancelDisarms() {
    DeviceClock.Timer t = timer("t");
    t.arm(100);
    t.arm(300);
    clock.advance(200);
    assertThat(fired).isEmpty();
    assertThat(t.isArmed()).isTrue();
    t.cancel();
    clock.advance(1000);
    assertThat(fired).isEmpty();
    assertThat(t.isArmed()).isFalse();
  }

  @Test
  void aTimerArmedByATimerFiresInTheSameAdvanceWhenDue() {
    DeviceClock.Timer second = timer("second");
    clock.timer(() -> second.arm(10)).arm(5);
    clock.advance(100);
    assertThat(fired).containsExactly("second@15");
  }
}
