package org.iommufd4j.trace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.iommufd4j.Errno;
import org.iommufd4j.pci.Interrupts;
import org.iommufd4j.pci.PciFunction;
import org.iommufd4j.pci.edu.EduDevice;
import org.iommufd4j.vfio.VfioHost;
import org.junit.jupiter.api.Test;

/** A replay rebuilds a recording's devices, replays their calls and fires their timers. */
class DeviceReplayTest {
  private static final String EDU = "0000:00:04.0";
  private static final int PID = 9;
  private static final long BUFFER = 0x7ffd2000L;

  private static final Trace.Header HEADER =
      new Trace.Header(
          true, true, false, false, false, List.of(new Trace.Device("edu", EDU, 0, 0, Map.of())));

  /** An edu at 0000:00:04.0, group 0, cdev vfio0, on the replay's clock. */
  private static final Replayer.DeviceMaker EDU_ONLY =
      (devices, clocks) -> {
        assertThat(devices).extracting(Trace.Device::model).containsExactly("edu");
        VfioHost.Builder host = VfioHost.builder();
        host.add(
            EDU,
            0,
            0,
            dma ->
                PciFunction.create(
                    EduDevice::new, dma, clocks.apply(EDU), Interrupts.Sink.DISCARD));
        return host.build();
      };

  private static Trace trace(Trace.Event... events) {
    return new Trace(HEADER, List.of(events));
  }

  private static Trace.Transfer pread(long result) {
    return new Trace.Transfer(
        2, 1, EDU, PID, 1, Trace.Access.PREAD, 0, BUFFER, 4, result, 200, List.of());
  }

  private static final Trace.VfioOpen OPEN_CDEV =
      new Trace.VfioOpen(1, 1, PID, "/dev/vfio/devices/vfio0", 0, 100);

  @Test
  void anUnboundCdevRefusesAReadAsTheRecordingSays() {
    Replayer.Result r = Replayer.replay(trace(OPEN_CDEV, pread(-Errno.EINVAL.number())), EDU_ONLY);

    assertThat(r.divergence()).isNull();
    assertThat(r.deviceEvents()).isEqualTo(2);
  }

  @Test
  void aReadTheRecordingSaysSucceededDivergesAtItsResult() {
    Replayer.Result r = Replayer.replay(trace(OPEN_CDEV, pread(4)), EDU_ONLY);

    assertThat(r.divergence()).isNotNull();
    assertThat(r.divergence().toString())
        .isEqualTo(
            """
            divergence at pread #2 (BAR0+0x0 of 0000:00:04.0 on file 1): result
              recorded: 4
              replayed: -22 (EINVAL)""");
  }

  @Test
  void aSecondOpenOfAGroupIsBusyAsRecorded() {
    Trace.VfioOpen first = new Trace.VfioOpen(1, 1, PID, "/dev/vfio/0", 0, 100);
    Trace.VfioOpen second =
        new Trace.VfioOpen(2, 0, PID, "/dev/vfio/0", -Errno.EBUSY.number(), 200);
    Trace.VfioOpen wrong = new Trace.VfioOpen(2, 2, PID, "/dev/vfio/0", 0, 200);

    assertThat(Replayer.replay(trace(first, second), EDU_ONLY).divergence()).isNull();
    assertThat(Replayer.replay(trace(first, wrong), EDU_ONLY).divergence().what())
        .isEqualTo("result");
  }

  @Test
  void aTimerTheModelNeverArmedDiverges() {
    Replayer.Result r = Replayer.replay(trace(new Trace.Timer(EDU, 0, 300, List.of())), EDU_ONLY);

    assertThat(r.divergence()).isNotNull();
    assertThat(r.divergence().toString())
        .isEqualTo(
            """
            divergence at timer 0 of 0000:00:04.0 at 300 ns: timer
              recorded: armed and fired
              replayed: not armed""");
  }

  @Test
  void aTraceWithDevicesNeedsSomethingToMakeThem() {
    assertThatThrownBy(() -> Replayer.replay(trace(OPEN_CDEV)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("devices");
  }
}
