package org.iommufd4j;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.iommufd4j.EduRig.EDU_BUFFER;
import static org.iommufd4j.EduRig.assertErrno;
import static org.iommufd4j.EduRig.dma;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.SplittableRandom;
import org.iommufd4j.uapi.Vfio;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A Java edu driver through the group and container, on both backends: what the real kernel's
 * transcript ({@code bridge/src/test/resources/oracle/edu_group.txt}) shows for the same calls.
 */
class VfioGroupPathTest {
  private static final long SEED = Long.getLong("seed", 1313);

  private EduRig rig;
  private final Arena arena = Arena.ofShared();

  @AfterEach
  void close() {
    if (rig != null) {
      rig.close();
    }
    arena.close();
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {EduRig.EMULATED, EduRig.KERNEL})
  void aDriverMapsJavaMemoryThroughTheContainerAndEduCopiesIt(String backend)
      throws InterruptedException {
    rig = EduRig.on(backend);
    try (VfioContainer container = rig.openContainer();
        VfioGroup group = rig.openGroup()) {
      assertThat(container.apiVersion()).isZero();
      assertThat(container.checkExtension(Vfio.VFIO_TYPE1v2_IOMMU)).isTrue();
      assertThat(container.checkExtension(Vfio.VFIO_SPAPR_TCE_IOMMU)).isFalse();
      assertErrno(Errno.ENODEV, () -> container.setIommu(Vfio.VFIO_TYPE1v2_IOMMU));
      assertErrno(Errno.ENODEV, container::info);

      assertThat(group.status()).isEqualTo(new VfioGroup.Status(true, false));
      assertErrno(Errno.EINVAL, () -> group.openDevice(rig.bdf));
      assertErrno(Errno.EINVAL, group::unsetContainer);
      group.setContainer(container);
      assertThat(group.status()).isEqualTo(new VfioGroup.Status(true, true));
      assertErrno(Errno.EINVAL, () -> group.setContainer(container));
      container.setIommu(Vfio.VFIO_TYPE1v2_IOMMU);
      assertThat(container.info())
          .isEqualTo(new VfioContainer.Info(0xfffffffffffff000L, List.of(new IovaRange(0, -1))));
      assertErrno(Errno.ENODEV, () -> group.openDevice("0000:ff:1f.7"));

      try (VfioDevice edu = group.openDevice(rig.bdf)) {
        assertThat(edu.info()).isEqualTo(new VfioDevice.Info(0x2, 9, 5));
        assertErrno(Errno.EINVAL, () -> edu.bind(rig.iommufd));
        edu.region(VfioRegion.CONFIG).writeShort(0x04, (short) 0x6);
        VfioRegion bar0 = edu.region(0);

        MemorySegment memory = arena.allocate(0x2000, 4096);
        container.mapDma(0x100000, memory.asSlice(0, 0x1000), Protection.READ);
        container.mapDma(0x200000, memory.asSlice(0x1000, 0x1000), Protection.READ_WRITE);
        assertErrno(
            Errno.EEXIST,
            () -> container.mapDma(0x100000, memory.asSlice(0, 0x1000), Protection.READ));
        assertErrno(
            Errno.EINVAL,
            () -> container.mapDma(0x300800, memory.asSlice(0, 0x1000), Protection.READ));
        byte[] sent = new byte[0x800];
        new SplittableRandom(SEED).nextBytes(sent);
        memory.asSlice(0, sent.length).copyFrom(MemorySegment.ofArray(sent));
        dma(bar0, 0x100000, EDU_BUFFER, sent.length, 1);
        dma(bar0, EDU_BUFFER, 0x200000, sent.length, 1 | 2);
        assertThat(memory.asSlice(0x1000, sent.length).toArray(JAVA_BYTE)).isEqualTo(sent);

        assertThat(container.unmapDma(0x100000, 0x1000)).isEqualTo(0x1000);
        assertThat(container.unmapDma(0x200000, 0x1000)).isEqualTo(0x1000);
        assertThat(container.unmapDma(0x200000, 0x1000)).as("again").isZero();
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {EduRig.EMULATED, EduRig.KERNEL})
  void aGroupIsOpenOnceAndTakesOnlyAnOpenContainer(String backend) {
    rig = EduRig.on(backend);
    try (VfioGroup group = rig.openGroup()) {
      assertErrno(Errno.EBUSY, rig::openGroup);
      VfioContainer closed = rig.openContainer();
      closed.close();
      assertErrno(Errno.EBADF, () -> group.setContainer(closed));
      try (Iommufd other = Iommufd.emulated()) {
        assertThatThrownBy(() -> group.setContainer(other))
            .isInstanceOf(IllegalArgumentException.class);
      }
      group.setContainer(rig.iommufd); // an iommufd serves as the container too
      assertThat(group.status().containerSet()).isTrue();
      try (VfioDevice edu = group.openDevice(rig.bdf)) {
        edu.region(VfioRegion.CONFIG).writeShort(0x04, (short) 0x2);
        assertThat(edu.region(0).readInt(EduRig.ID)).isEqualTo(0x010000ed);
      }
      group.unsetContainer();
      assertThat(group.status()).isEqualTo(new VfioGroup.Status(true, false));
      group.close();
      assertErrno(Errno.EBADF, group::status);
    }
  }
}
