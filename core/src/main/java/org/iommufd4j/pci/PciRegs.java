package org.iommufd4j.pci;

/** Config-space offsets and bits (PCI Local Bus 3.0, PCIe 6.0; names as in Linux's pci_regs.h). */
final class PciRegs {
  private PciRegs() {}

  static final int VENDOR_ID = 0x00;
  static final int DEVICE_ID = 0x02;
  static final int COMMAND = 0x04;
  static final int STATUS = 0x06;
  static final int REVISION_ID = 0x08;
  static final int CLASS_PROG = 0x09;
  static final int CACHE_LINE_SIZE = 0x0c;
  static final int LATENCY_TIMER = 0x0d;
  static final int HEADER_TYPE = 0x0e;
  static final int BIST = 0x0f;
  static final int BASE_ADDRESS_0 = 0x10;
  static final int SUBSYSTEM_VENDOR_ID = 0x2c;
  static final int SUBSYSTEM_ID = 0x2e;
  static final int ROM_ADDRESS = 0x30;
  static final int CAPABILITY_LIST = 0x34;
  static final int INTERRUPT_LINE = 0x3c;
  static final int INTERRUPT_PIN = 0x3d;
  static final int STD_HEADER_SIZEOF = 0x40;
  static final int CFG_SPACE_SIZE = 0x100;
  static final int CFG_SPACE_EXP_SIZE = 0x1000;

  static final int COMMAND_IO = 0x1;
  static final int COMMAND_MEMORY = 0x2;
  static final int COMMAND_MASTER = 0x4;
  static final int COMMAND_SERR = 0x100;
  static final int COMMAND_INTX_DISABLE = 0x400;

  static final int STATUS_INTERRUPT = 0x08;
  static final int STATUS_CAP_LIST = 0x10;

  /** Parity, target and master aborts, system error: the RW1C error bits. */
  static final int STATUS_ERROR_BITS = 0xf900;

  static final int BAR_SPACE_IO = 0x1;
  static final int BAR_MEM_TYPE_64 = 0x4;
  static final int BAR_MEM_PREFETCH = 0x8;
  static final int ROM_ADDRESS_ENABLE = 0x1;

  static final int CAP_LIST_ID = 0;
  static final int CAP_LIST_NEXT = 1;
  static final int CAP_FLAGS = 2;

  static final int CAP_ID_PM = 0x01;
  static final int CAP_ID_MSI = 0x05;
  static final int CAP_ID_VNDR = 0x09;
  static final int CAP_ID_EXP = 0x10;
  static final int CAP_ID_MSIX = 0x11;
  static final int CAP_ID_AF = 0x13;
  static final int CAP_ID_MAX = CAP_ID_AF;

  static final int PM_PMC = 2;
  static final int PM_CTRL = 4;
  static final int PM_SIZEOF = 8;
  static final int PM_CAP_PME_MASK = 0xf800;
  static final int PM_CTRL_STATE_MASK = 0x3;
  static final int PM_CTRL_PME_ENABLE = 0x100;
  static final int PM_CTRL_PME_STATUS = 0x8000;

  static final int MSI_FLAGS = 2;
  static final int MSI_FLAGS_ENABLE = 0x1;
  static final int MSI_FLAGS_QMASK = 0xe;
  static final int MSI_FLAGS_QSIZE = 0x70;
  static final int MSI_FLAGS_64BIT = 0x80;
  static final int MSI_FLAGS_MASKBIT = 0x100;
  static final int MSI_ADDRESS_LO = 4;
  static final int MSI_ADDRESS_HI = 8;
  static final int MSI_DATA_32 = 8;
  static final int MSI_DATA_64 = 12;
  static final int MSI_MASK_32 = 12;
  static final int MSI_MASK_64 = 16;
  static final int MSI_PENDING_32 = 16;
  static final int MSI_PENDING_64 = 20;

  static final int MSIX_FLAGS = 2;
  static final int MSIX_FLAGS_QSIZE = 0x7ff;
  static final int MSIX_FLAGS_MASKALL = 0x4000;
  static final int MSIX_FLAGS_ENABLE = 0x8000;
  static final int MSIX_TABLE = 4;
  static final int MSIX_PBA = 8;
  static final int MSIX_SIZEOF = 12;
  static final int MSIX_ENTRY_SIZE = 16;
  static final int MSIX_ENTRY_VECTOR_CTRL = 12;

  static final int EXP_FLAGS = 2;
  static final int EXP_DEVCAP = 4;
  static final int EXP_DEVCAP_FLR = 0x1000_0000;
  static final int EXP_DEVCTL = 8;
  static final int EXP_DEVCTL_PAYLOAD = 0x00e0;
  static final int EXP_DEVCTL_PHANTOM = 0x0200;
  static final int EXP_DEVCTL_READRQ = 0x7000;
  static final int EXP_DEVCTL_BCR_FLR = 0x8000;
  static final int EXP_DEVSTA = 10;
  static final int EXP_DEVCTL2 = 0x28;
  static final int EXP_DEVCTL2_ARI = 0x20;
  static final int EXP_ENDPOINT_SIZEOF_V2 = 0x34;

  static final int EXT_CAP_ID_ERR = 0x01;
  static final int EXT_CAP_ID_PWR = 0x04;
  static final int EXT_CAP_ID_VNDR = 0x0b;
  static final int EXT_CAP_ID_DVSEC = 0x23;
  static final int EXT_CAP_ID_MAX = 0x2e;
}
