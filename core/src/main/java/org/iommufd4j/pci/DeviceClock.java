package org.iommufd4j.pci;

/**
 * Time and deferred work for device models. A model never sleeps or starts threads: it arms a
 * {@link Timer} and does the work when the timer fires. Tests drive a {@link VirtualClock};
 * production uses an {@link ExecutorClock}.
 */
public interface DeviceClock {
  /** The current time in nanoseconds (only differences are meaningful). */
  long nanoTime();

  /** A new, unarmed timer that runs {@code task} each time it expires. */
  Timer timer(Runnable task);

  /** A one-shot timer, like QEMU's: arming an armed timer moves its expiry. */
  interface Timer {
    /** Fires after {@code delayNanos} (0: as soon as the clock gets to it, never inline). */
    void arm(long delayNanos);

    /** Disarms; no effect if not armed. */
    void cancel();

    boolean isArmed();
  }
}
