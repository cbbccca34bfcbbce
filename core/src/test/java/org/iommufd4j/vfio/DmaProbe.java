package org.iommufd4j.vfio;

import static org.iommufd4j.vfio.VfioRig.result;

import java.util.List;

/**
 * edu's DMA engine through the IOMMU, as check_dma() of bridge/native/tests/vfio/edu_common.c runs
 * it: a device-read-only source page and a read-write destination page mapped by {@code mapper},
 * transfers with bus mastering off and on, a placed transfer, then (with faults) a write into the
 * read-only page and a read from an unmapped IOVA, and the unmaps.
 */
final class DmaProbe {
  static final long IOVA_SOURCE = 0x100000;
  static final long IOVA_DESTINATION = 0x200000;
  static final long IOVA_UNMAPPED = 0x400000;
  private static final long EDU_BUFFER = 0x40000;
  private static final int LENGTH = 0x800;
  private static final int PAGE = 4096;
  private static final byte FILLER = 0x5a;
  private static final long TO_RAM = 0x2;
  private static final long START = 0x1;

  /**
   * How the program maps, named as the transcript names it: IOMMU_IOAS_MAP or VFIO_IOMMU_MAP_DMA.
   */
  record Mapper(String name, MapCall mapCall, UnmapCall unmapCall) {
    long map(long va, long length, long iova, boolean deviceWrites) {
      return mapCall.map(va, length, iova, deviceWrites);
    }

    long unmap(long iova, long length, long[] unmapped) {
      return unmapCall.unmap(iova, length, unmapped);
    }
  }

  interface MapCall {
    long map(long va, long length, long iova, boolean deviceWrites);
  }

  interface UnmapCall {
    /** Unmaps; {@code unmapped[0]} receives the bytes unmapped. */
    long unmap(long iova, long length, long[] unmapped);
  }

  private DmaProbe() {}

  static void run(VfioRig rig, int device, Mapper m, boolean withFaults, List<String> lines) {
    long src = rig.memory.allocate(PAGE, true);
    long dst = rig.memory.allocate(PAGE, true);
    byte[] pattern = new byte[PAGE];
    for (int i = 0; i < PAGE; i++) {
      pattern[i] = pattern(i);
    }
    rig.memory.putBytes(src, pattern);
    lines.add(
        String.format(
            "%s iova=0x%x length=0x%x device=read-only => %s",
            m.name(), IOVA_SOURCE, PAGE, result(m.map(src, PAGE, IOVA_SOURCE, false))));
    lines.add(
        String.format(
            "%s iova=0x%x length=0x%x device=read-write => %s",
            m.name(), IOVA_DESTINATION, PAGE, result(m.map(dst, PAGE, IOVA_DESTINATION, true))));

    boolean done =
        dma(rig, device, IOVA_SOURCE, EDU_BUFFER, LENGTH, 0)
            && dma(rig, device, EDU_BUFFER, IOVA_DESTINATION, LENGTH, TO_RAM);
    lines.add(
        String.format(
            "DMA ram->edu->ram bus_master=0 done=%d destination=%s",
            done ? 1 : 0, contents(rig, dst, null)));
    rig.busMaster(device);
    lines.add(String.format("CONFIG command with MASTER set=0x%04x", config16(rig, device, 4)));
    done = dma(rig, device, IOVA_SOURCE, EDU_BUFFER, LENGTH, 0);
    lines.add(
        String.format(
            "DMA ram->edu count=0x%x done=%d cmd=0x%x",
            LENGTH, done ? 1 : 0, rig.bar0(device, 0x98)));
    done = dma(rig, device, EDU_BUFFER, IOVA_DESTINATION, LENGTH, TO_RAM);
    lines.add(
        String.format(
            "DMA edu->ram count=0x%x done=%d destination=%s",
            LENGTH, done ? 1 : 0, contents(rig, dst, null)));

    rig.memory.putBytes(dst, new byte[PAGE]);
    done = dma(rig, device, EDU_BUFFER + 0x100, IOVA_DESTINATION + 0x10, 0x20, TO_RAM);
    byte[] d = rig.memory.getBytes(dst, PAGE);
    boolean placed = d[0x0f] == 0 && d[0x30] == 0;
    for (int i = 0; i < 0x20; i++) {
      placed &= d[0x10 + i] == pattern(0x100 + i);
    }
    lines.add(
        String.format(
            "DMA edu+0x100->iova+0x10 count=0x20 done=%d exactly_placed=%d",
            done ? 1 : 0, placed ? 1 : 0));

    if (withFaults) {
      byte[] filler = new byte[PAGE];
      java.util.Arrays.fill(filler, FILLER);
      rig.memory.putBytes(dst, filler);
      done = dma(rig, device, IOVA_DESTINATION, EDU_BUFFER, LENGTH, 0);
      byte[] before = rig.memory.getBytes(src, PAGE);
      done &= dma(rig, device, EDU_BUFFER, IOVA_SOURCE, LENGTH, TO_RAM);
      lines.add(
          String.format(
              "DMA edu->ram of filler into the device-read-only iova done=%d source=%s",
              done ? 1 : 0, contents(rig, src, before)));

      byte[] ones = new byte[PAGE];
      java.util.Arrays.fill(ones, (byte) 0x11);
      rig.memory.putBytes(dst, ones);
      done =
          dma(rig, device, IOVA_UNMAPPED, EDU_BUFFER, LENGTH, 0)
              && dma(rig, device, EDU_BUFFER, IOVA_DESTINATION, LENGTH, TO_RAM);
      lines.add(
          String.format(
              "DMA ram->edu from an unmapped iova, then edu->ram done=%d destination=%s",
              done ? 1 : 0, contents(rig, dst, ones)));
    }

    String[] what = {"source", "destination", "destination again"};
    long[] iovas = {IOVA_SOURCE, IOVA_DESTINATION, IOVA_DESTINATION};
    for (int i = 0; i < what.length; i++) {
      long[] unmapped = {0};
      long rc = m.unmap(iovas[i], PAGE, unmapped);
      lines.add(
          String.format(
              "%s unmap %s iova=0x%x => %s unmapped=0x%x",
              m.name(), what[i], iovas[i], result(rc), unmapped[0]));
    }
  }

  private static boolean dma(VfioRig rig, int device, long src, long dst, long count, long cmd) {
    rig.eduDma(device, src, dst, count, cmd | START);
    return (rig.bar0(device, 0x98) & START) == 0;
  }

  private static int config16(VfioRig rig, int device, int offset) {
    long buf = rig.arg + 3072;
    rig.pread(device, buf, 2, (7L << 40) + offset);
    return rig.memory.getInt(buf) & 0xffff;
  }

  private static byte pattern(int i) {
    return (byte) (i * 7 + 3);
  }

  private static String contents(VfioRig rig, long address, byte[] before) {
    byte[] b = rig.memory.getBytes(address, LENGTH);
    boolean unchanged = before != null;
    boolean isPattern = true;
    boolean zeros = true;
    boolean ones = true;
    boolean filler = true;
    for (int i = 0; i < LENGTH; i++) {
      if (before != null) {
        unchanged &= b[i] == before[i];
      }
      isPattern &= b[i] == pattern(i);
      zeros &= b[i] == 0;
      ones &= b[i] == (byte) 0xff;
      filler &= b[i] == FILLER;
    }
    return unchanged
        ? "unchanged"
        : isPattern ? "pattern" : zeros ? "zeros" : ones ? "ones" : filler ? "filler" : "other";
  }
}
