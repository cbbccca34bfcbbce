package org.iommufd4j.trace;

import org.iommufd4j.pci.DeviceClock;

/**
 * The clock of one model in a recording ({@code exec --device ... --record}): time is the
 * recording's, and each timer runs as a {@link Trace.Timer} event of the model, in order with the
 * calls ({@link Trace.Writer#timer}), numbered in the order the model made its timers. A replay
 * fires the same timer at the same point of the trace.
 *
 * <p>Whether a timer is armed is decided in the trace's order, as the replay decides it: the
 * underlying clock may already be running a timer when a call that the trace puts first arms it
 * again or cancels it. So a firing runs only if the timer is armed when its turn comes, and that
 * disarms it: a one-shot timer armed twice before it runs runs once (with what the later arm asked
 * for in place), and a cancelled one not at all.
 */
public final class RecordingClock implements DeviceClock {
  private final DeviceClock clock;
  private final String device;
  private final Trace.Writer recorder;
  private int timers;

  /**
   * Runs the timers of the model at {@code device} on {@code clock}, recorded by {@code recorder}.
   */
  public RecordingClock(DeviceClock clock, String device, Trace.Writer recorder) {
    this.clock = clock;
    this.device = device;
    this.recorder = recorder;
  }

  @Override
  public long nanoTime() {
    return recorder.now();
  }

  @Override
  public synchronized Timer timer(Runnable task) {
    return new RecordedTimer(timers++, task);
  }

  private final class RecordedTimer implements Timer {
    private final Timer timer;
    private boolean armed;

    RecordedTimer(int number, Runnable task) {
      this.timer =
          clock.timer(
              () ->
                  recorder.inOrder(
                      () -> {
                        if (disarm()) {
                          recorder.timer(device, number, task);
                        }
                        return null;
                      }));
    }

    /** Whether the timer was armed; it is not any more. */
    private synchronized boolean disarm() {
      boolean was = armed;
      armed = false;
      return was;
    }

    @Override
    public synchronized void arm(long delayNanos) {
      armed = true;
      timer.arm(delayNanos);
    }

    @Override
    public synchronized void cancel() {
      armed = false;
      timer.cancel();
    }

    @Override
    public synchronized boolean isArmed() {
      return armed;
    }
  }
}
