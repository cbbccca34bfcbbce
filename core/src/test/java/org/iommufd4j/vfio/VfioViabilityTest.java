package org.iommufd4j.vfio;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import org.iommufd4j.Errno;
import org.iommufd4j.pci.Interrupts;
import org.iommufd4j.pci.PciFunction;
import org.iommufd4j.pci.VirtualClock;
import org.iommufd4j.pci.edu.EduDevice;
import org.iommufd4j.uapi.Vfio;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Who may use a group's device when (vfio/group.c, device_cdev.c): one open of the group at a time,
 * held by the device files opened through it; a bound cdev and an open group exclude each other;
 * closing gives the device back.
 */
class VfioViabilityTest {
  private static final long EBUSY = -Errno.EBUSY.number();

  private final VfioRig rig = new VfioRig();

  private long bind(int cdev, int iommufd) {
    return rig.ioctl(cdev, Vfio.VFIO_DEVICE_BIND_IOMMUFD, rig.args(16, 0, iommufd));
  }

  private long setContainer(int group, int container) {
    return rig.ioctl(group, Vfio.VFIO_GROUP_SET_CONTAINER, rig.args(container));
  }

  private long deviceFd(int group) {
    long at = rig.arg + 1024;
    rig.memory.putBytes(at, (VfioRig.BDF + "\0").getBytes(StandardCharsets.US_ASCII));
    return rig.ioctl(group, Vfio.VFIO_GROUP_GET_DEVICE_FD, at);
  }

  private int status(int group) {
    rig.ioctl(group, Vfio.VFIO_GROUP_GET_STATUS, rig.args(8));
    return rig.u32(4);
  }

  @Test
  void aGroupStaysOpenWhileADeviceFileFromItIsOpen() {
    int container = rig.files.openIommufd(true);
    int group = rig.openGroup();
    setContainer(group, container);
    int device = (int) deviceFd(group);
    assertThat(rig.files.close(group)).isZero();
    assertThat(rig.openGroup()).as("reopened while its device file is open").isEqualTo(EBUSY);
    assertThat(rig.bar0(device, 0)).as("edu's id register").isEqualTo(0x010000edL);

    assertThat(rig.files.close(device)).isZero();
    int again = rig.openGroup();
    assertThat(again).isNotNegative();
    assertThat(status(again)).as("viable, no container").isEqualTo(1);
  }

  @Test
  void aContainerClosedUnderTheGroupStillOpensDevices() {
    int container = rig.files.openIommufd(true);
    int group = rig.openGroup();
    setContainer(group, container);
    rig.files.close(container);
    long device = deviceFd(group);
    assertThat(device).isNotNegative();
    assertThat(rig.bar0((int) device, 0)).isEqualTo(0x010000edL);
  }

  @Test
  void aBoundCdevAndAnOpenGroupExcludeEachOther() {
    int iommufd = rig.files.openIommufd(false);
    int cdev = rig.openCdev();
    int group = rig.openGroup();
    assertThat(bind(cdev, iommufd)).as("bind while the group is open").isEqualTo(EBUSY);
    rig.files.close(group);
    assertThat(bind(cdev, iommufd)).isZero();
    assertThat(rig.openGroup()).as("open the group while the cdev is bound").isEqualTo(EBUSY);
    rig.files.close(cdev);
    group = rig.openGroup();
    assertThat(group).isNotNegative();
    assertThat(status(group)).isEqualTo(1);
  }

  /**
   * Seeded random opens, binds, container changes and closes from both paths, against what may hold
   * at once: the group open at most once, never while a cdev is bound, the device bound exactly
   * while some device file has access.
   */
  @ParameterizedTest
  @ValueSource(longs = {1, 2, 3, 42, 1234})
  void randomUseOfBothPathsKeepsThemExclusive(long seed) {
    Random random = new Random(seed);
    int iommufd = rig.files.openIommufd(false);
    int container = rig.files.openIommufd(true);
    List<Integer> cdevs = new ArrayList<>();
    List<Integer> boundCdevs = new ArrayList<>();
    List<Integer> groupDevices = new ArrayList<>();
    int group = -1;
    boolean groupHeld = false; // the group file or a device file from it is open
    for (int step = 0; step < 300; step++) {
      switch (random.nextInt(7)) {
        case 0 -> cdevs.add(rig.openCdev());
        case 1 -> {
          if (!cdevs.isEmpty()) {
            int c = cdevs.get(random.nextInt(cdevs.size()));
            long rc = bind(c, iommufd);
            boolean expected = !groupHeld && boundCdevs.isEmpty();
            assertThat(rc == 0).as("bind at step %d", step).isEqualTo(expected);
            if (rc == 0) {
              boundCdevs.add(c);
            }
          }
        }
        case 2 -> {
          int g = rig.openGroup();
          assertThat(g >= 0)
              .as("group open at step %d", step)
              .isEqualTo(!groupHeld && boundCdevs.isEmpty());
          if (g >= 0) {
            group = g;
            groupHeld = true;
            setContainer(group, container);
          }
        }
        case 3 -> {
          if (group >= 0) {
            long d = deviceFd(group);
            assertThat(d).as("GET_DEVICE_FD at step %d", step).isNotNegative();
            groupDevices.add((int) d);
          }
        }
        case 4 -> {
          if (!cdevs.isEmpty()) {
            Integer c = cdevs.remove(random.nextInt(cdevs.size()));
            boundCdevs.remove(c);
            assertThat(rig.files.close(c)).isZero();
          }
        }
        case 5 -> {
          if (!groupDevices.isEmpty()) {
            assertThat(rig.files.close(groupDevices.remove(random.nextInt(groupDevices.size()))))
                .isZero();
            groupHeld = group >= 0 || !groupDevices.isEmpty();
          }
        }
        default -> {
          if (group >= 0) {
            assertThat(rig.files.close(group)).isZero();
            group = -1;
            groupHeld = !groupDevices.isEmpty();
          }
        }
      }
      boolean open = !boundCdevs.isEmpty() || !groupDevices.isEmpty();
      assertThat(rig.vfio.function(VfioRig.BDF).isOpen())
          .as("bound at step %d", step)
          .isEqualTo(open);
    }
  }

  /**
   * Threads race to bind cdevs of one device and to open its group: exactly one of them gets the
   * device, whatever the interleaving.
   */
  @ParameterizedTest
  @ValueSource(ints = {1, 2, 3, 4, 5, 6, 7, 8})
  void racingBindsAndGroupOpensLetExactlyOneIn(int round) throws Exception {
    int threads = 6;
    int iommufd = rig.files.openIommufd(false);
    int[] cdevs = new int[threads];
    long[] args = new long[threads];
    for (int i = 0; i < threads; i++) {
      cdevs[i] = rig.openCdev();
      args[i] = rig.memory.allocate(4096, true);
      rig.memory.putInt(args[i], 16);
      rig.memory.putInt(args[i] + 8, iommufd);
    }
    var start = new CountDownLatch(1);
    long[] results = new long[threads];
    List<Thread> running = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      int t = i;
      running.add(
          Thread.ofPlatform()
              .start(
                  () -> {
                    try {
                      start.await();
                    } catch (InterruptedException e) {
                      Thread.currentThread().interrupt();
                    }
                    results[t] =
                        t % 3 == 2
                            ? rig.openGroup()
                            : rig.ioctl(cdevs[t], Vfio.VFIO_DEVICE_BIND_IOMMUFD, args[t]);
                  }));
    }
    start.countDown();
    for (Thread t : running) {
      t.join();
    }
    assertThat(Arrays.stream(results).filter(rc -> rc >= 0).count())
        .as("round %d: %s", round, Arrays.toString(results))
        .isEqualTo(1);
    assertThat(Arrays.stream(results).filter(rc -> rc < 0).boxed())
        .allMatch(rc -> rc == EBUSY || rc == -Errno.EINVAL.number());
  }

  @Test
  void aGroupOfTwoFunctionsOpensEachByName() {
    VfioHost.Builder b = VfioHost.builder();
    var clock = new VirtualClock();
    for (String bdf : List.of("0000:00:04.0", "0000:00:05.0")) {
      b.add(
          bdf,
          0,
          bdf.charAt(9) - '4',
          dma -> PciFunction.create(EduDevice::new, dma, clock, Interrupts.Sink.DISCARD));
    }
    VfioHost host = b.build();
    int container = rig.files.openIommufd(true);
    int group = rig.files.open(() -> host.openGroup(rig.caller, 0, 2));
    assertThat(setContainer(group, container)).isZero();
    long at = rig.arg + 1024;
    rig.memory.putBytes(at, "0000:00:05.0\0".getBytes(StandardCharsets.US_ASCII));
    long second = rig.ioctl(group, Vfio.VFIO_GROUP_GET_DEVICE_FD, at);
    assertThat(second).isNotNegative();
    assertThat(host.function("0000:00:05.0").isOpen()).isTrue();
    assertThat(host.function("0000:00:04.0").isOpen()).isFalse();
    rig.files.close((int) second);
    assertThat(host.function("0000:00:05.0").isOpen()).isFalse();
  }
}
