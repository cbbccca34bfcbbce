package org.iommufd4j.trace;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuDestroy;
import org.iommufd4j.uapi.IommuIoasCopy;
import org.iommufd4j.uapi.IommuIoasMap;
import org.iommufd4j.uapi.IommuIoasUnmap;
import org.iommufd4j.uapi.IommuTestCmd;

/**
 * Where each IOAS's IOVAs lie in user memory, as far as the successful calls of a kernel recording
 * tell: MAP and COPY add areas, UNMAP and DESTROY take them away. An access's {@code
 * IOMMU_TEST_OP_ACCESS_RW} reads or writes the memory behind an IOVA range, outside its {@link
 * Footprint}; this names that memory so the recording can hold its bytes too.
 *
 * <p>A shadow, not a model: it believes every answer the kernel gave and checks nothing.
 */
public final class IovaShadow {
  private record Ioas(long file, int id) {}

  /** Per IOAS: area start IOVA to {length, user address, pid of the process whose memory}. */
  private final Map<Ioas, TreeMap<Long, long[]>> areas = new HashMap<>();

  /** Access files to the IOAS they use. */
  private final Map<Long, Ioas> accesses = new HashMap<>();

  /** A user memory range: {@code length} bytes at {@code address} of process {@code pid}. */
  public record Range(int pid, long address, long length) {}

  /**
   * Learns from a call by process {@code pid} on context {@code file} that returned {@code result}:
   * {@code before} and {@code after} are its struct before and after the call, {@code newFile} the
   * file it made (0: none), {@code namedFile} the file it named by descriptor (0: none).
   */
  public synchronized void learn(
      int pid,
      long file,
      long request,
      MemorySegment before,
      byte[] after,
      long result,
      long newFile,
      long namedFile) {
    Command c = Command.of(request);
    if (result < 0 || c == null) {
      return;
    }
    MemorySegment out = after == null ? before : MemorySegment.ofArray(after);
    switch (c) {
      case IOMMU_IOAS_MAP -> {
        if (fits(out, IommuIoasMap.IOVA, 8)) {
          add(
              new Ioas(file, out.get(JAVA_INT_UNALIGNED, IommuIoasMap.IOAS_ID)),
              out.get(JAVA_LONG_UNALIGNED, IommuIoasMap.IOVA),
              out.get(JAVA_LONG_UNALIGNED, IommuIoasMap.LENGTH),
              out.get(JAVA_LONG_UNALIGNED, IommuIoasMap.USER_VA),
              pid);
        }
      }
      case IOMMU_IOAS_COPY -> {
        if (fits(out, IommuIoasCopy.SRC_IOVA, 8)) {
          Ioas dst = new Ioas(file, out.get(JAVA_INT_UNALIGNED, IommuIoasCopy.DST_IOAS_ID));
          long iova = out.get(JAVA_LONG_UNALIGNED, IommuIoasCopy.DST_IOVA);
          for (Range r :
              translate(
                  new Ioas(file, out.get(JAVA_INT_UNALIGNED, IommuIoasCopy.SRC_IOAS_ID)),
                  out.get(JAVA_LONG_UNALIGNED, IommuIoasCopy.SRC_IOVA),
                  out.get(JAVA_LONG_UNALIGNED, IommuIoasCopy.LENGTH))) {
            add(dst, iova, r.length(), r.address(), r.pid());
            iova += r.length();
          }
        }
      }
      case IOMMU_IOAS_UNMAP -> {
        if (fits(before, IommuIoasUnmap.LENGTH, 8)) {
          TreeMap<Long, long[]> m =
              areas.get(new Ioas(file, before.get(JAVA_INT_UNALIGNED, IommuIoasUnmap.IOAS_ID)));
          long iova = before.get(JAVA_LONG_UNALIGNED, IommuIoasUnmap.IOVA);
          long length = before.get(JAVA_LONG_UNALIGNED, IommuIoasUnmap.LENGTH);
          if (m != null) {
            m.keySet().removeIf(start -> Long.compareUnsigned(start - iova, length) < 0);
          }
        }
      }
      case IOMMU_DESTROY -> {
        if (fits(before, IommuDestroy.ID, 4)) {
          areas.remove(new Ioas(file, before.get(JAVA_INT_UNALIGNED, IommuDestroy.ID)));
        }
      }
      case IOMMU_TEST_CMD -> {
        if (!fits(out, IommuTestCmd.ACCESS_REPLACE_IOAS_IOAS_ID, 4)) {
          return;
        }
        int op = out.get(JAVA_INT_UNALIGNED, IommuTestCmd.OP);
        if (op == IommuTestCmd.IOMMU_TEST_OP_CREATE_ACCESS && newFile != 0) {
          accesses.put(newFile, new Ioas(file, out.get(JAVA_INT_UNALIGNED, IommuTestCmd.ID)));
        } else if (op == IommuTestCmd.IOMMU_TEST_OP_ACCESS_REPLACE_IOAS && namedFile != 0) {
          accesses.put(
              namedFile,
              new Ioas(
                  file, out.get(JAVA_INT_UNALIGNED, IommuTestCmd.ACCESS_REPLACE_IOAS_IOAS_ID)));
        }
      }
      default -> {
        // changes no IOVA
      }
    }
  }

  /** The file of access {@code accessFile} is gone. */
  public synchronized void forget(long file) {
    accesses.remove(file);
    areas.keySet().removeIf(k -> k.file() == file);
  }

  /**
   * If the call is an access's IOVA read or write ({@code IOMMU_TEST_OP_ACCESS_RW}, struct bytes
   * {@code before}, on access file {@code accessFile}): the user memory behind its IOVA range, as
   * far as the shadow knows it. Otherwise, and for syzkaller's IOVA shorthand, none.
   */
  public synchronized List<Range> behindAccessRw(
      long request, MemorySegment before, long accessFile) {
    if (Command.of(request) != Command.IOMMU_TEST_CMD
        || !fits(before, IommuTestCmd.ACCESS_RW_FLAGS, 4)
        || before.get(JAVA_INT_UNALIGNED, IommuTestCmd.OP) != IommuTestCmd.IOMMU_TEST_OP_ACCESS_RW
        || (before.get(JAVA_INT_UNALIGNED, IommuTestCmd.ACCESS_RW_FLAGS)
                & IommuTestCmd.MOCK_FLAGS_ACCESS_SYZ)
            != 0) {
      return List.of();
    }
    Ioas ioas = accesses.get(accessFile);
    return ioas == null
        ? List.of()
        : translate(
            ioas,
            before.get(JAVA_LONG_UNALIGNED, IommuTestCmd.ACCESS_RW_IOVA),
            before.get(JAVA_LONG_UNALIGNED, IommuTestCmd.ACCESS_RW_LENGTH));
  }

  private List<Range> translate(Ioas ioas, long iova, long length) {
    TreeMap<Long, long[]> m = areas.get(ioas);
    List<Range> out = new ArrayList<>();
    if (m == null || length == 0 || Long.compareUnsigned(iova + length - 1, iova) < 0) {
      return out;
    }
    long at = iova;
    long end = iova + length; // exclusive; 0 when the range reaches 2^64
    while (at != end) {
      Map.Entry<Long, long[]> e = m.floorEntry(at);
      if (e == null || Long.compareUnsigned(at - e.getKey(), e.getValue()[0]) >= 0) {
        break; // a hole: the kernel's call fails there
      }
      long offset = at - e.getKey();
      long n = Math.min(e.getValue()[0] - offset, end - at == 0 ? Long.MAX_VALUE : end - at);
      if (Long.compareUnsigned(n, Footprint.MAX_REGION) > 0) {
        n = Footprint.MAX_REGION;
      }
      out.add(new Range((int) e.getValue()[2], e.getValue()[1] + offset, n));
      at += n;
      if (Long.compareUnsigned(at - iova, Footprint.MAX_REGION) >= 0) {
        break;
      }
    }
    return out;
  }

  private void add(Ioas ioas, long iova, long length, long va, int pid) {
    if (length != 0) {
      areas
          .computeIfAbsent(ioas, k -> new TreeMap<>(Long::compareUnsigned))
          .put(iova, new long[] {length, va, pid});
    }
  }

  /**
   * The user memory of process {@code pid} behind areas, at most {@code budget} bytes of it in all:
   * what the kernel keeps of a process that exits (its pinned pages; which ones the shadow cannot
   * tell, so all it knows of).
   */
  public synchronized List<Range> ownedBy(int pid, long budget) {
    List<Range> out = new ArrayList<>();
    Set<Long> seen = new HashSet<>();
    for (TreeMap<Long, long[]> m : areas.values()) {
      for (long[] a : m.values()) {
        if (a[2] != pid || !seen.add(a[1])) {
          continue; // another's memory, or an area copied into several IOASes: once
        }
        for (long at = 0; at < a[0] && budget > 0; ) {
          long n = Math.min(Math.min(a[0] - at, Footprint.MAX_REGION), budget);
          out.add(new Range(pid, a[1] + at, n));
          budget -= n;
          at += n;
        }
      }
    }
    return out;
  }

  private static boolean fits(MemorySegment s, long offset, int bytes) {
    return s.byteSize() >= offset + bytes;
  }
}
