package org.iommufd4j.uapi;

import java.lang.foreign.StructLayout;

/**
 * The iommufd ioctls of Linux 6.12 with their numbers, struct layouts and minimum sizes
 * (include/uapi/linux/iommufd.h: IOMMUFD_CMD_BASE; main.c: iommufd_ioctl_ops[]). Every request is
 * {@code _IO(';', nr)} = {@code 0x3B00 | nr}; the argument size travels in the struct's first
 * {@code u32}, and the kernel keeps a dense table indexed by {@code nr - 0x80}.
 */
public enum Command {
  IOMMU_DESTROY(0x80, IommuDestroy.LAYOUT, IommuDestroy.MIN_SIZE),
  IOMMU_IOAS_ALLOC(0x81, IommuIoasAlloc.LAYOUT, IommuIoasAlloc.MIN_SIZE),
  IOMMU_IOAS_ALLOW_IOVAS(0x82, IommuIoasAllowIovas.LAYOUT, IommuIoasAllowIovas.MIN_SIZE),
  IOMMU_IOAS_COPY(0x83, IommuIoasCopy.LAYOUT, IommuIoasCopy.MIN_SIZE),
  IOMMU_IOAS_IOVA_RANGES(0x84, IommuIoasIovaRanges.LAYOUT, IommuIoasIovaRanges.MIN_SIZE),
  IOMMU_IOAS_MAP(0x85, IommuIoasMap.LAYOUT, IommuIoasMap.MIN_SIZE),
  IOMMU_IOAS_UNMAP(0x86, IommuIoasUnmap.LAYOUT, IommuIoasUnmap.MIN_SIZE),
  IOMMU_OPTION(0x87, IommuOption.LAYOUT, IommuOption.MIN_SIZE),
  IOMMU_VFIO_IOAS(0x88, IommuVfioIoas.LAYOUT, IommuVfioIoas.MIN_SIZE),
  IOMMU_HWPT_ALLOC(0x89, IommuHwptAlloc.LAYOUT, IommuHwptAlloc.MIN_SIZE),
  IOMMU_GET_HW_INFO(0x8a, IommuHwInfo.LAYOUT, IommuHwInfo.MIN_SIZE),
  IOMMU_HWPT_SET_DIRTY_TRACKING(
      0x8b, IommuHwptSetDirtyTracking.LAYOUT, IommuHwptSetDirtyTracking.MIN_SIZE),
  IOMMU_HWPT_GET_DIRTY_BITMAP(
      0x8c, IommuHwptGetDirtyBitmap.LAYOUT, IommuHwptGetDirtyBitmap.MIN_SIZE),
  IOMMU_HWPT_INVALIDATE(0x8d, IommuHwptInvalidate.LAYOUT, IommuHwptInvalidate.MIN_SIZE),
  IOMMU_FAULT_QUEUE_ALLOC(0x8e, IommuFaultAlloc.LAYOUT, IommuFaultAlloc.MIN_SIZE),
  /** Only on kernels with {@code CONFIG_IOMMUFD_TEST} (selftest.c: iommufd_test()). */
  IOMMU_TEST_CMD(0xa0, IommuTestCmd.LAYOUT, IommuTestCmd.MIN_SIZE);

  /** The ioctl type byte, {@code ';'}. */
  public static final int IOMMUFD_TYPE = 0x3b;

  /** First table slot ({@code IOMMUFD_CMD_BASE}). */
  public static final int CMD_BASE = 0x80;

  /** Table length on a normal 6.12 kernel (0x80..0x8e) and on a test kernel (0x80..0xa0). */
  public static final int TABLE_LENGTH = 15;

  public static final int TEST_TABLE_LENGTH = 33;

  private static final Command[] BY_SLOT = new Command[TEST_TABLE_LENGTH];

  static {
    for (Command c : values()) {
      BY_SLOT[c.nr - CMD_BASE] = c;
    }
  }

  private final int nr;
  private final StructLayout layout;
  private final int ksize;
  private final int minSize;

  Command(int nr, StructLayout layout, int minSize) {
    this.nr = nr;
    this.layout = layout;
    this.ksize = Math.toIntExact(layout.byteSize());
    this.minSize = minSize;
  }

  /** The request number to pass to {@code ioctl}. */
  public long request() {
    return (IOMMUFD_TYPE << 8) | nr;
  }

  public int nr() {
    return nr;
  }

  /** The argument's C struct. */
  public StructLayout layout() {
    return layout;
  }

  /** Size of the kernel's struct. */
  public int ksize() {
    return ksize;
  }

  /** Smallest accepted {@code size} (end of the last mandatory member). */
  public int minSize() {
    return minSize;
  }

  /**
   * The command whose request number is exactly {@code request} (low 32 bits, as the kernel matches
   * it), or null.
   */
  public static Command of(long request) {
    long r = request & 0xffff_ffffL;
    Command c = inSlot((int) (r & 0xff) - CMD_BASE);
    return c != null && c.request() == r ? c : null;
  }

  /** The command's name for {@code request}, or its number in hex ({@code 0x3b7f}). */
  public static String nameOf(long request) {
    Command c = of(request);
    return c != null ? c.name() : "0x" + Long.toHexString(request & 0xffff_ffffL);
  }

  /**
   * Offset of the object id the request names (the IOAS for the IOAS commands, {@code out_ioas_id}
   * for IOAS_ALLOC, {@code object_id} for OPTION, the id of DESTROY and of the test ops), or -1
   * when the struct names none that this table knows.
   */
  public long idOffset() {
    return switch (this) {
      case IOMMU_DESTROY -> IommuDestroy.ID;
      case IOMMU_IOAS_ALLOC -> IommuIoasAlloc.OUT_IOAS_ID;
      case IOMMU_IOAS_ALLOW_IOVAS -> IommuIoasAllowIovas.IOAS_ID;
      case IOMMU_IOAS_COPY -> IommuIoasCopy.DST_IOAS_ID;
      case IOMMU_IOAS_IOVA_RANGES -> IommuIoasIovaRanges.IOAS_ID;
      case IOMMU_IOAS_MAP -> IommuIoasMap.IOAS_ID;
      case IOMMU_IOAS_UNMAP -> IommuIoasUnmap.IOAS_ID;
      case IOMMU_OPTION -> IommuOption.OBJECT_ID;
      case IOMMU_VFIO_IOAS -> IommuVfioIoas.IOAS_ID;
      case IOMMU_TEST_CMD -> IommuTestCmd.ID;
      default -> -1;
    };
  }

  /** The command in table slot {@code nr - 0x80}, or null for an empty slot. */
  static Command inSlot(int slot) {
    return slot >= 0 && slot < BY_SLOT.length ? BY_SLOT[slot] : null;
  }
}
