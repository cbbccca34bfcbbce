package org.iommufd4j.pci;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A {@link DeviceClock} on real time: timers fire on one daemon thread per clock, so a model's
 * deferred work runs in order and never concurrently with other deferred work of that clock.
 */
public final class ExecutorClock implements DeviceClock, AutoCloseable {
  private final ScheduledExecutorService executor;

  public ExecutorClock(String name) {
    this.executor =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, name);
              t.setDaemon(true);
              return t;
            });
  }

  @Override
  public long nanoTime() {
    return System.nanoTime();
  }

  @Override
  public Timer timer(Runnable task) {
    return new Timer() {
      private ScheduledFuture<?> pending;

      @Override
      public synchronized void arm(long delayNanos) {
        if (pending != null) {
          pending.cancel(false);
        }
        ScheduledFuture<?>[] self = new ScheduledFuture<?>[1];
        self[0] =
            executor.schedule(
                () -> {
                  synchronized (this) {
                    if (pending != self[0]) {
                      return;
                    }
                    pending = null;
                  }
                  task.run();
                },
                Math.max(0, delayNanos),
                TimeUnit.NANOSECONDS);
        pending = self[0];
      }

      @Override
      public synchronized void cancel() {
        if (pending != null) {
          pending.cancel(false);
          pending = null;
        }
      }

      @Override
      public synchronized boolean isArmed() {
        return pending != null;
      }
    };
  }

  /** Stops the thread; armed timers never fire. */
  @Override
  public void close() {
    executor.shutdownNow();
  }
}
