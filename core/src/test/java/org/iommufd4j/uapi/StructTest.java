package org.iommufd4j.uapi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.util.HexFormat;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The struct flyweight reads and writes the bytes a C program would. */
class StructTest {
  private static final long SEED = Long.getLong("seed", 20261206L);

  @Test
  void mapArgumentHasTheBytesOfTheCStruct() {
    Struct s =
        IommuIoasMap.of(
            Struct.HEAP,
            IommuIoasMap.IOMMU_IOAS_MAP_READABLE,
            7,
            0x1122_3344_5566_7788L,
            0x20_0000L,
            0x1000L);
    assertThat(HexFormat.of().formatHex(s.bytes()))
        .isEqualTo(
            "28000000"
                + "04000000"
                + "07000000"
                + "00000000" // size, flags, ioas_id, __reserved
                + "8877665544332211"
                + "0000200000000000"
                + "0010000000000000");
  }

  @Test
  void namedMembersAndOffsetsAreTheSameFields() {
    SplittableRandom random = new SplittableRandom(SEED);
    try (Arena arena = Arena.ofConfined()) {
      Struct s = Struct.of(arena, Command.IOMMU_HWPT_ALLOC);
      for (int i = 0; i < 100; i++) {
        int id = random.nextInt();
        long uptr = random.nextLong();
        s.set("pt_id", Integer.toUnsignedLong(id)).set("data_uptr", uptr);
        assertThat(s.u32(IommuHwptAlloc.PT_ID)).as("seed %d", SEED).isEqualTo(id);
        assertThat(s.u64(IommuHwptAlloc.DATA_UPTR)).as("seed %d", SEED).isEqualTo(uptr);
        assertThat(s.get("pt_id")).isEqualTo(Integer.toUnsignedLong(id));
      }
      assertThat(s.get("size")).isEqualTo(IommuHwptAlloc.SIZE);
    }
  }

  @Test
  void membersOfNestedStructsAndAnonymousUnionsAreReachedByTheirCPath() {
    Struct cap =
        Struct.of(Struct.HEAP, VfioIommuType1InfoDmaAvail.LAYOUT)
            .set("header.next", 40)
            .set("header.id", 3)
            .set("avail", 0xffff_ffffL);
    assertThat(cap.u32(VfioInfoCapHeader.NEXT)).isEqualTo(40);
    assertThat(cap.u16(VfioInfoCapHeader.ID)).isEqualTo(3);
    assertThat(cap.get("avail")).isEqualTo(0xffff_ffffL);

    Struct test =
        IommuTestCmd.of(Struct.HEAP, IommuTestCmd.IOMMU_TEST_OP_DIRTY, 1)
            .set("dirty.out_nr_dirty", 5);
    assertThat(test.u64(IommuTestCmd.DIRTY_OUT_NR_DIRTY)).isEqualTo(5);
    assertThat(IommuTestCmd.DIRTY_OUT_NR_DIRTY).isEqualTo(56);
  }

  @Test
  void anUnknownOrNonNumericMemberIsRefused() {
    Struct s = Struct.of(Struct.HEAP, IommuHwInfo.LAYOUT);
    assertThatThrownBy(() -> s.set("iova", 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("iommu_hw_info has no iova");
    assertThatThrownBy(() -> s.get("__reserved"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not a number");
  }

  @Test
  void sizesComeFromTheLayouts() {
    assertThat(Command.IOMMU_TEST_CMD.ksize()).isEqualTo(72);
    assertThat(Command.IOMMU_TEST_CMD.minSize()).isEqualTo(68);
    assertThat(Command.IOMMU_GET_HW_INFO.minSize()).isEqualTo(32);
    assertThat(Command.IOMMU_HWPT_ALLOC.minSize()).isEqualTo(24);
    assertThat(VfioIommuType1Info.MIN_SIZE).isEqualTo(16);
    assertThat(VfioIommuType1InfoDmaAvail.SIZE).isEqualTo(12);
    assertThat(VfioPciHotResetInfo.DEVICE_SIZE).isEqualTo(8);
  }
}
