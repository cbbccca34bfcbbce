package org.iommufd4j.pci;

import static org.iommufd4j.pci.PciRegs.*;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;
import org.iommufd4j.Errno;
import org.iommufd4j.IommufdException;

/**
 * Config space as a program sees it through a vfio-pci device file (the config region), over the
 * device's own {@link ConfigSpace}: Linux 6.12 {@code drivers/vfio/pci/vfio_pci_config.c}.
 *
 * <ul>
 *   <li>An access is cut into naturally aligned pieces of 4, 2 or 1 bytes that never cross a
 *       capability or a dword ({@code vfio_config_do_rw()}); one that reaches past config space
 *       fails with EFAULT and moves nothing.
 *   <li>Bits are virtualised (answered from vfio's copy, filled from the device when the file is
 *       opened), passed to the device, or read-only, per capability ({@link ConfigPerms}).
 *   <li>BARs and the ROM BAR are virtual: the program's writes are kept, never applied, and reads
 *       show its value masked to the BAR's size with the type bits, so writing all ones sizes a BAR
 *       ({@code vfio_bar_fixup()}); slots without a BAR read 0.
 *   <li>COMMAND: INTx disable is virtual and masks the INTx interrupt ({@link Events#intxMasked});
 *       memory, I/O and bus-master enables go to the device.
 *   <li>MSI: enable, address and data are virtual; the enable reaches the device only while MSI is
 *       the interrupt type set through SET_IRQS, the multiple-message fields show and accept no
 *       more vectors than SET_IRQS enabled ({@code vfio_msi_config_read()/write()}). MSI-X is read
 *       from the device and not writable: SET_IRQS enables it ({@link #setIrqType}).
 *   <li>Capabilities vfio has no length for are unlinked from the chain (hidden); vendor-specific
 *       ones are raw; power management and PCI Express go through their own handlers. Bytes outside
 *       every capability are raw both ways.
 * </ul>
 *
 * <p>Creating one does what {@code vfio_pci_core_enable()} does to config space before {@code
 * vfio_config_init()}: bus mastering off, memory and I/O decode on, INTx unmasked. Not thread-safe
 * on its own: the VFIO layer serialises accesses per device, as the kernel's locks do.
 */
public final class VfioPciConfig {
  /** The interrupt type SET_IRQS has set up. */
  public enum IrqType {
    NONE,
    INTX,
    MSI,
    MSIX
  }

  /** What a config write asks the rest of vfio-pci to do. Methods default to nothing. */
  public interface Events {
    /** The program set or cleared INTx disable ({@code vfio_pci_intx_mask()/unmask()}). */
    default void intxMasked(boolean masked) {}

    /** The program asked for power state D{@code state} through the PM capability. */
    default void powerStateChanged(int state) {}

    /** The program started a function-level reset through the PCI Express capability. */
    default void functionLevelReset() {}
  }

  private final ConfigSpace hw;
  private final Events events;
  private final int size;
  private final VfioConfigMap configMap;
  private final int[] rbar = new int[6];
  private final long[] resourceStart = new long[6];
  private boolean barDirty = true;
  private boolean virqDisabled;
  private IrqType irqType = IrqType.NONE;
  private int msiQmax;

  public VfioPciConfig(ConfigSpace device, Events events) {
    this.hw = Objects.requireNonNull(device);
    this.events = Objects.requireNonNull(events);
    this.size = device.size();
    enableDevice();
    this.configMap = new VfioConfigMap(device);
    for (int i = 0; i < 6; i++) {
      rbar[i] = vget(BASE_ADDRESS_0 + 4 * i, 4);
    }
    for (Bar bar : device.bars()) {
      resourceStart[bar.index()] = device.barAddress(bar);
    }
  }

  /** The config region's size: 256, or 4096 for PCI Express. */
  public int size() {
    return size;
  }

  /**
   * Reads {@code dst.byteSize()} bytes at {@code offset} of the config region.
   *
   * @return the number of bytes read (all of them)
   * @throws IommufdException EFAULT if the range leaves config space
   */
  public int read(long offset, MemorySegment dst) {
    return access(offset, dst, false);
  }

  /**
   * Writes {@code src} at {@code offset} of the config region.
   *
   * @return the number of bytes written (all of them; dropped bytes count)
   * @throws IommufdException EFAULT if the range leaves config space
   */
  public int write(long offset, MemorySegment src) {
    return access(offset, src, true);
  }

  /**
   * What SET_IRQS did to the device's config space ({@code vfio_msi_enable()/disable()}): MSI with
   * {@code vectors} enables MSI in the device for that many vectors (rounded up to a power of two)
   * and lets the program see and enable that many; MSI-X enables MSI-X in the device (the caller
   * unmasks the table entries it wires, as the host's MSI-X driver does); INTX and NONE disable
   * both.
   */
  public void setIrqType(IrqType type, int vectors) {
    int msi = hw.findCapability(CAP_ID_MSI);
    int msix = hw.findCapability(CAP_ID_MSIX);
    if (msi != 0) {
      int flags = hw.read(msi + MSI_FLAGS, 2) & ~(MSI_FLAGS_ENABLE | MSI_FLAGS_QSIZE);
      if (type == IrqType.MSI) {
        msiQmax = 32 - Integer.numberOfLeadingZeros(Math.max(1, vectors) * 2 - 1) - 1;
        flags |= MSI_FLAGS_ENABLE | msiQmax << 4;
      }
      hw.write(msi + MSI_FLAGS, 2, flags);
    }
    if (msix != 0) {
      int flags = hw.read(msix + MSIX_FLAGS, 2) & ~(MSIX_FLAGS_ENABLE | MSIX_FLAGS_MASKALL);
      hw.write(msix + MSIX_FLAGS, 2, type == IrqType.MSIX ? flags | MSIX_FLAGS_ENABLE : flags);
    }
    irqType = type;
  }

  /** Whether INTx is masked by the program's INTx disable bit. */
  public boolean intxMasked() {
    return virqDisabled;
  }

  /**
   * Whether BAR memory may be accessed: the program's memory enable, and the device in a power
   * state above D3hot ({@code __vfio_pci_memory_enabled()}).
   */
  public boolean memoryEnabled() {
    int pm = hw.findCapability(CAP_ID_PM);
    boolean poweredUp = pm == 0 || (hw.read(pm + PM_CTRL, 2) & PM_CTRL_STATE_MASK) < 3;
    return poweredUp && (vget(COMMAND, 2) & COMMAND_MEMORY) != 0;
  }

  /** What vfio_pci_core_enable() does to config space before vfio_config_init(). */
  private void enableDevice() {
    int cmd = hw.read(COMMAND, 2) & ~COMMAND_MASTER; // pci_clear_master()
    for (Bar bar : hw.bars()) { // pci_enable_device(): decode what the BARs need
      cmd |= bar.type() == Bar.Type.IO ? COMMAND_IO : COMMAND_MEMORY;
    }
    hw.write(COMMAND, 2, cmd & ~COMMAND_INTX_DISABLE); // INTx masking works: start unmasked
  }

  // ---- accesses: vfio_pci_config_rw() and vfio_config_do_rw() ----

  private int access(long offset, MemorySegment buf, boolean write) {
    long count = buf.byteSize();
    long done = 0;
    while (done < count) {
      done += accessChunk(offset + done, buf.asSlice(done), write);
    }
    return (int) done;
  }

  private int accessChunk(long at, MemorySegment buf, boolean write) {
    long count = buf.byteSize();
    if (at < 0 || at >= size || at + count > size) {
      throw new IommufdException(
          Errno.EFAULT,
          "config access offset=0x"
              + Long.toHexString(at)
              + " count="
              + count
              + " size=0x"
              + Integer.toHexString(size));
    }
    int pos = (int) at;
    int n = (int) Math.min(count, configMap.remainingInDword(pos));
    n = n >= 4 && pos % 4 == 0 ? 4 : n >= 2 && pos % 2 == 0 ? 2 : 1;
    ConfigPerms perm = configMap.perms(pos);
    int capStart = configMap.regionStart(pos);
    int offset = pos - capStart;
    if (write) {
      int val = 0;
      for (int i = 0; i < n; i++) {
        val |= (buf.get(ValueLayout.JAVA_BYTE, i) & 0xff) << (8 * i);
      }
      writeChunk(perm, pos, n, offset, val);
    } else {
      int val = readChunk(perm, pos, n, offset);
      for (int i = 0; i < n; i++) {
        buf.set(ValueLayout.JAVA_BYTE, i, (byte) (val >>> (8 * i)));
      }
    }
    return n;
  }

  private int readChunk(ConfigPerms perm, int pos, int n, int offset) {
    return switch (perm.read) {
      case RAW -> hw.read(pos, n);
      case DIRECT -> directRead(pos, n, offset);
      case DEFAULT -> defaultRead(perm, pos, n, offset);
      case BASIC -> {
        if (isBar(offset)) {
          fixupBars();
        }
        yield defaultRead(perm, pos, n, offset);
      }
      case MSI -> {
        if (offset <= MSI_FLAGS && offset + n >= MSI_FLAGS) {
          int flags = configMap.capabilityStart(pos) + MSI_FLAGS;
          vset(flags, 2, (vget(flags, 2) & ~MSI_FLAGS_QMASK) | msiQmax << 1);
        }
        yield defaultRead(perm, pos, n, offset);
      }
    };
  }

  /** vfio_default_config_read(): virtual bits from the copy, the others from the device. */
  private int defaultRead(ConfigPerms perm, int pos, int n, int offset) {
    int val = vget(pos, n);
    int virt = perm.virt(offset, n);
    if (virt != mask(n)) {
      val = (hw.read(pos, n) & ~virt) | (val & virt);
    }
    return val;
  }

  /** vfio_direct_config_read(): the device, but the chain pointers from the copy. */
  private int directRead(int pos, int n, int offset) {
    int val = hw.read(pos, n);
    if (pos >= CFG_SPACE_SIZE) {
      if (offset < 4) {
        val = vget(pos, n);
      }
    } else if (pos >= STD_HEADER_SIZEOF) {
      if (offset == CAP_LIST_ID && n > 1) {
        val = (val & ~0xffff) | vget(pos, 2);
      } else if (offset == CAP_LIST_NEXT) {
        val = (val & ~0xff) | vget(pos, 1);
      }
    }
    return val;
  }

  private void writeChunk(ConfigPerms perm, int pos, int n, int offset, int val) {
    switch (perm.writer) {
      case NONE -> {}
      case RAW -> hw.write(pos, n, val);
      case DEFAULT -> defaultWrite(perm, pos, n, offset, val);
      case BASIC -> basicWrite(perm, pos, n, offset, val);
      case PM -> {
        defaultWrite(perm, pos, n, offset, val);
        if (offset == PM_CTRL) {
          int state = val & PM_CTRL_STATE_MASK;
          int ctrl = configMap.capabilityStart(pos) + PM_CTRL;
          hw.write(ctrl, 2, (hw.read(ctrl, 2) & ~PM_CTRL_STATE_MASK) | state);
          events.powerStateChanged(state);
        }
      }
      case EXP -> expressWrite(perm, pos, n, offset, val);
      case MSI -> msiWrite(perm, pos, n, offset, val);
    }
  }

  /** vfio_default_config_write(): writable virtual bits to the copy, the rest to the device. */
  private void defaultWrite(ConfigPerms perm, int pos, int n, int offset, int val) {
    int write = perm.write(offset, n);
    if (write == 0) {
      return;
    }
    int virt = perm.virt(offset, n);
    if ((write & virt) != 0) {
      vset(pos, n, (vget(pos, n) & ~(write & virt)) | (val & write & virt));
    }
    if ((write & ~virt) != 0) {
      int phys = hw.read(pos, n);
      hw.write(pos, n, (phys & ~(write & ~virt)) | (val & write & ~virt));
    }
  }

  /** vfio_basic_config_write(). */
  private void basicWrite(ConfigPerms perm, int pos, int n, int offset, int val) {
    int newCmd = val & 0xffff;
    if (offset == COMMAND) {
      int phys = hw.read(COMMAND, 2);
      int virt = vget(COMMAND, 2);
      boolean restore =
          (newCmd & virt & ~phys & COMMAND_MEMORY) != 0
              || (newCmd & virt & ~phys & COMMAND_IO) != 0
              || barsChangedBehindOurBack();
      if (restore) { // the device was reset behind vfio's back: its BARs are put back first
        for (int i = 0; i < 6; i++) {
          hw.write(BASE_ADDRESS_0 + 4 * i, 4, rbar[i]);
        }
      }
    }
    defaultWrite(perm, pos, n, offset, val);
    if (offset == COMMAND) { // remembered for the backdoor-reset test above
      int enables = COMMAND_MEMORY | COMMAND_IO;
      vset(COMMAND, 2, (vget(COMMAND, 2) & ~enables) | (newCmd & enables));
    }
    if (offset >= COMMAND && offset <= COMMAND + 1) {
      boolean disable = (vget(COMMAND, 2) & COMMAND_INTX_DISABLE) != 0;
      if (disable != virqDisabled) {
        virqDisabled = disable;
        events.intxMasked(disable);
      }
    }
    if (isBar(offset)) {
      barDirty = true;
    }
  }

  /** vfio_need_bar_restore(). */
  private boolean barsChangedBehindOurBack() {
    for (int i = 0; i < 6; i++) {
      if (rbar[i] != 0 && hw.read(BASE_ADDRESS_0 + 4 * i, 4) != rbar[i]) {
        return true;
      }
    }
    return false;
  }

  /** vfio_bar_fixup(): the program's BAR values masked to the BAR sizes, with type bits. */
  private void fixupBars() {
    if (!barDirty) {
      return;
    }
    for (int i = 0; i < 6; i++) {
      int off = BASE_ADDRESS_0 + 4 * i;
      Bar bar = bar(i);
      if (bar == null || resourceStart[i] == 0) {
        vset(off, 4, 0);
        continue;
      }
      long mask = ~(bar.size() - 1);
      vset(off, 4, (vget(off, 4) & (int) mask) | bar.flags());
      if (bar.type() == Bar.Type.MEMORY_64) {
        vset(off + 4, 4, vget(off + 4, 4) & (int) (mask >>> 32));
        i++;
      }
    }
    vset(ROM_ADDRESS, 4, 0); // no expansion ROM is modelled
    barDirty = false;
  }

  /** vfio_exp_config_write(): FLR and the read request size are vfio's to apply. */
  private void expressWrite(ConfigPerms perm, int pos, int n, int offset, int val) {
    int start = pos - offset;
    int ctrl = start + EXP_DEVCTL;
    int readrq = vget(ctrl, 2) & EXP_DEVCTL_READRQ;
    defaultWrite(perm, pos, n, offset, val);
    if ((vget(ctrl, 2) & EXP_DEVCTL_BCR_FLR) != 0) {
      vset(ctrl, 2, vget(ctrl, 2) & ~EXP_DEVCTL_BCR_FLR); // always reads as 0
      if ((hw.read(start + EXP_DEVCAP, 4) & EXP_DEVCAP_FLR) != 0) {
        events.functionLevelReset();
      }
    }
    int wanted = vget(ctrl, 2) & EXP_DEVCTL_READRQ;
    if (wanted != readrq) { // pcie_set_readrq(): never below the device's payload size
      int phys = hw.read(ctrl, 2);
      int field = Math.max(wanted >> 12, (phys & EXP_DEVCTL_PAYLOAD) >> 5);
      hw.write(ctrl, 2, (phys & ~EXP_DEVCTL_READRQ) | field << 12);
    }
  }

  /** vfio_msi_config_write(): the enable and vector count, clamped, then to the device. */
  private void msiWrite(ConfigPerms perm, int pos, int n, int offset, int val) {
    defaultWrite(perm, pos, n, offset, val);
    if (offset <= MSI_FLAGS && offset + n >= MSI_FLAGS) {
      int at = configMap.capabilityStart(pos) + MSI_FLAGS;
      int flags = vget(at, 2);
      if (irqType != IrqType.MSI) {
        flags &= ~MSI_FLAGS_ENABLE; // MSI is enabled through SET_IRQS only
      }
      if ((flags & MSI_FLAGS_QSIZE) >> 4 > msiQmax) {
        flags = (flags & ~MSI_FLAGS_QSIZE) | msiQmax << 4;
      }
      vset(at, 2, flags);
      hw.write(at, 2, flags);
    }
  }

  private Bar bar(int index) {
    for (Bar b : hw.bars()) {
      if (b.index() == index) {
        return b;
      }
    }
    return null;
  }

  private static boolean isBar(int offset) {
    return (offset >= BASE_ADDRESS_0 && offset < BASE_ADDRESS_0 + 24)
        || (offset >= ROM_ADDRESS && offset < ROM_ADDRESS + 4);
  }

  private int vget(int pos, int n) {
    return configMap.vget(pos, n);
  }

  private void vset(int pos, int n, int value) {
    configMap.vset(pos, n, value);
  }

  private static int mask(int n) {
    return n == 4 ? -1 : (1 << (8 * n)) - 1;
  }
}
