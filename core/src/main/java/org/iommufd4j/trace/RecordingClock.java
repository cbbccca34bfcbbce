package org.iommufd4j.trace;

import org.iommufd4j.pci.DeviceClock;

/**
 * The clock of one model in a recording ({@code exec --device ... --record}): time is the
 * recording's, and each timer runs as a {@link Trace.Timer} event of the model, in order with the
 * calls ({@link Trace.Writer#timer}), numbered in the order the model made its timers. A replay
 * fires the same timer at the same point of the trace.
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
    int number = timers++;
    return clock.timer(() -> recorder.timer(device, number, task));
  }
}
