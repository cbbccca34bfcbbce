package org.iommufd4j.pci;

import java.time.Duration;
import java.util.Comparator;
import java.util.PriorityQueue;

/**
 * A {@link DeviceClock} whose time moves only when a test says so. Expired timers run in the
 * calling thread, in expiry order (ties in arming order), at their expiry time.
 */
public final class VirtualClock implements DeviceClock {
  private final PriorityQueue<Expiry> queue =
      new PriorityQueue<>(
          Comparator.comparingLong(Expiry::due).thenComparingLong(Expiry::sequence));
  private long now;
  private long sequence;

  private record Expiry(long due, long sequence, VirtualTimer timer) {}

  @Override
  public synchronized long nanoTime() {
    return now;
  }

  @Override
  public Timer timer(Runnable task) {
    return new VirtualTimer(task);
  }

  /** Runs every timer due now (including those armed with delay 0), without advancing time. */
  public void runPending() {
    advance(0);
  }

  /** Advances time by {@code d}, running each timer that expires on the way at its time. */
  public void advance(Duration d) {
    advance(d.toNanos());
  }

  /** Advances time by {@code nanos}, running each timer that expires on the way at its time. */
  public void advance(long nanos) {
    if (nanos < 0) {
      throw new IllegalArgumentException("time runs forward: " + nanos);
    }
    long target;
    synchronized (this) {
      target = now + nanos;
    }
    while (true) {
      VirtualTimer due;
      synchronized (this) {
        Expiry head = queue.peek();
        if (head == null || head.due() > target) {
          now = target;
          return;
        }
        queue.poll();
        now = head.due();
        if (head.timer().expiry != head) {
          continue;
        }
        head.timer().expiry = null;
        due = head.timer();
      }
      due.task.run();
    }
  }

  /** How many timers are armed. */
  public synchronized int armedTimers() {
    return (int) queue.stream().filter(e -> e.timer().expiry == e).count();
  }

  private final class VirtualTimer implements Timer {
    private final Runnable task;
    private Expiry expiry;

    VirtualTimer(Runnable task) {
      this.task = task;
    }

    @Override
    public void arm(long delayNanos) {
      synchronized (VirtualClock.this) {
        expiry = new Expiry(now + Math.max(0, delayNanos), sequence++, this);
        queue.add(expiry);
      }
    }

    @Override
    public void cancel() {
      synchronized (VirtualClock.this) {
        expiry = null;
      }
    }

    @Override
    public boolean isArmed() {
      synchronized (VirtualClock.this) {
        return expiry != null;
      }
    }
  }
}
