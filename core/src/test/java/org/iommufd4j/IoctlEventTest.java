package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IoctlEvent;
import org.iommufd4j.uapi.IommuIoasMap;
import org.iommufd4j.uapi.Struct;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The JFR events of {@link IoctlEvent}: both front doors, and the kernel backend's code. */
class IoctlEventTest {
  private static final long USER_VA = 0x7f00_0020_0000L;

  @TempDir Path dir;

  private List<RecordedEvent> record(Runnable work) throws Exception {
    Path file = dir.resolve("ioctl.jfr");
    try (Recording recording = new Recording()) {
      recording.enable(IoctlEvent.NAME).withThreshold(Duration.ZERO);
      recording.start();
      work.run();
      recording.stop();
      recording.dump(file);
    }
    return RecordingFile.readAllEvents(file).stream()
        .filter(e -> e.getEventType().getName().equals(IoctlEvent.NAME))
        .toList();
  }

  private static void rawMap(Iommufd iommufd, int ioasId, long iova, int expected) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment s =
          Struct.of(arena, Command.IOMMU_IOAS_MAP)
              .u32(
                  IommuIoasMap.FLAGS,
                  IommuIoasMap.IOMMU_IOAS_MAP_READABLE | IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA)
              .u32(IommuIoasMap.IOAS_ID, ioasId)
              .u64(IommuIoasMap.USER_VA, USER_VA)
              .u64(IommuIoasMap.LENGTH, 0x1000)
              .u64(IommuIoasMap.IOVA, iova)
              .segment();
      assertThat(iommufd.ioctl(Command.IOMMU_IOAS_MAP.request(), s)).isEqualTo(expected);
    }
  }

  @Test
  void bothFrontDoorsEmitOneEventPerCallWithRequestIdAndErrno() throws Exception {
    List<RecordedEvent> events =
        record(
            () -> {
              try (Iommufd iommufd = Iommufd.emulated()) {
                Ioas ioas = iommufd.createIoas();
                ioas.mapFixed(0x10_0000L, USER_VA, 0x1000, Protection.READ);
                assertThatThrownBy(
                        () -> ioas.mapFixed(0x10_0000L, USER_VA, 0x1000, Protection.READ))
                    .isInstanceOf(IommufdException.class);
                rawMap(iommufd, ioas.id(), 0x20_0000L, 0);
                rawMap(iommufd, ioas.id(), 0x20_0000L, -Errno.EEXIST.number());
                rawMap(iommufd, 99, 0x20_0000L, -Errno.ENOENT.number());
              }
            });
    assertThat(events)
        .extracting(
            e ->
                e.getString("door")
                    + " "
                    + e.getString("request")
                    + " "
                    + e.getInt("ioasId")
                    + " "
                    + e.getString("errnoName")
                    + " "
                    + e.getString("backend"))
        .containsExactly(
            "typed IOMMU_IOAS_ALLOC 1  emulated",
            "typed IOMMU_IOAS_MAP 1  emulated",
            "typed IOMMU_IOAS_MAP 1 EEXIST emulated",
            "ioctl IOMMU_IOAS_MAP 1  emulated",
            "ioctl IOMMU_IOAS_MAP 1 EEXIST emulated",
            "ioctl IOMMU_IOAS_MAP 99 ENOENT emulated");
    assertThat(events).allSatisfy(e -> assertThat(e.getDuration().isNegative()).isFalse());
    assertThat(events.get(2).getInt("errno")).isEqualTo(Errno.EEXIST.number());
  }

  @Test
  void unknownRequestsAreNamedByNumber() throws Exception {
    List<RecordedEvent> events =
        record(
            () -> {
              try (Iommufd iommufd = Iommufd.emulated();
                  Arena arena = Arena.ofConfined()) {
                assertThat(iommufd.ioctl(0x3b7fL, arena.allocate(64)))
                    .isEqualTo(-Errno.ENOTTY.number());
              }
            });
    assertThat(events)
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.getString("request")).isEqualTo("0x3b7f");
              assertThat(e.getInt("ioasId")).isZero();
              assertThat(e.getString("errnoName")).isEqualTo("ENOTTY");
            });
  }

  @Test
  void theKernelBackendsTypedCodeEmitsEventsToo() throws Exception {
    List<RecordedEvent> events =
        record(
            () -> {
              try (Iommufd over = new IoctlOverEmulator(Iommufd.emulated())) {
                Ioas ioas = over.createIoas();
                ioas.mapFixed(0x10_0000L, USER_VA, 0x1000, Protection.READ);
              }
            });
    // The typed call of the backend, then the emulator's byte door under it.
    assertThat(events)
        .extracting(
            e ->
                e.getString("backend")
                    + " "
                    + e.getString("door")
                    + " "
                    + e.getString("request")
                    + " "
                    + e.getInt("ioasId"))
        .containsExactlyInAnyOrder(
            "emulated ioctl IOMMU_IOAS_ALLOC 1", "ioctl-over-emulator typed IOMMU_IOAS_ALLOC 1",
            "emulated ioctl IOMMU_IOAS_MAP 1", "ioctl-over-emulator typed IOMMU_IOAS_MAP 1");
  }

  @Test
  void withoutARecordingTheEventIsNeverCommitted() throws Exception {
    // What the call sites test before filling or formatting anything.
    IoctlEvent idle = new IoctlEvent();
    idle.begin();
    idle.end();
    assertThat(idle.shouldCommit()).isFalse();
    boolean[] during = new boolean[1];
    record(
        () -> {
          IoctlEvent e = new IoctlEvent();
          e.begin();
          e.end();
          during[0] = e.shouldCommit();
        });
    assertThat(during[0]).isTrue();
  }
}
