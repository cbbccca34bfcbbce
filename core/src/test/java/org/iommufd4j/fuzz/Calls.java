package org.iommufd4j.fuzz;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuHwptAlloc;
import org.iommufd4j.uapi.IommuIoasCopy;
import org.iommufd4j.uapi.IommuIoasMap;
import org.iommufd4j.uapi.IommuIoasUnmap;
import org.iommufd4j.uapi.IommuTestCmd;

/** Builds well-formed calls for fixed scenarios (the fault sweep's corpus). */
final class Calls {
  static final int RW = IommuIoasMap.IOMMU_IOAS_MAP_READABLE | IommuIoasMap.IOMMU_IOAS_MAP_WRITEABLE;
  static final int FIXED = IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA;

  private Calls() {}

  private static MemorySegment struct(Command cmd) {
    MemorySegment s = MemorySegment.ofArray(new byte[cmd.ksize()]);
    s.set(JAVA_INT_UNALIGNED, 0, cmd.ksize());
    return s;
  }

  private static FuzzCall call(Command cmd, MemorySegment s) {
    return new FuzzCall(cmd.request(), FuzzWorld.ARGS,
        List.of(new FuzzCall.Write(FuzzWorld.ARGS, s.toArray(ValueLayout.JAVA_BYTE))));
  }

  static FuzzCall ioasAlloc() {
    return call(Command.IOMMU_IOAS_ALLOC, struct(Command.IOMMU_IOAS_ALLOC));
  }

  static FuzzCall destroy(int id) {
    MemorySegment s = struct(Command.IOMMU_DESTROY);
    s.set(JAVA_INT_UNALIGNED, 4, id);
    return call(Command.IOMMU_DESTROY, s);
  }

  static FuzzCall map(int ioas, int flags, long va, long length, long iova) {
    MemorySegment s = struct(Command.IOMMU_IOAS_MAP);
    s.set(JAVA_INT_UNALIGNED, IommuIoasMap.FLAGS, flags);
    s.set(JAVA_INT_UNALIGNED, IommuIoasMap.IOAS_ID, ioas);
    s.set(JAVA_LONG_UNALIGNED, IommuIoasMap.USER_VA, va);
    s.set(JAVA_LONG_UNALIGNED, IommuIoasMap.LENGTH, length);
    s.set(JAVA_LONG_UNALIGNED, IommuIoasMap.IOVA, iova);
    return call(Command.IOMMU_IOAS_MAP, s);
  }

  static FuzzCall copy(int dst, int src, int flags, long length, long dstIova, long srcIova) {
    MemorySegment s = struct(Command.IOMMU_IOAS_COPY);
    s.set(JAVA_INT_UNALIGNED, IommuIoasCopy.FLAGS, flags);
    s.set(JAVA_INT_UNALIGNED, IommuIoasCopy.DST_IOAS_ID, dst);
    s.set(JAVA_INT_UNALIGNED, IommuIoasCopy.SRC_IOAS_ID, src);
    s.set(JAVA_LONG_UNALIGNED, IommuIoasCopy.LENGTH, length);
    s.set(JAVA_LONG_UNALIGNED, IommuIoasCopy.DST_IOVA, dstIova);
    s.set(JAVA_LONG_UNALIGNED, IommuIoasCopy.SRC_IOVA, srcIova);
    return call(Command.IOMMU_IOAS_COPY, s);
  }

  static FuzzCall unmap(int ioas, long iova, long length) {
    MemorySegment s = struct(Command.IOMMU_IOAS_UNMAP);
    s.set(JAVA_INT_UNALIGNED, IommuIoasUnmap.IOAS_ID, ioas);
    s.set(JAVA_LONG_UNALIGNED, IommuIoasUnmap.IOVA, iova);
    s.set(JAVA_LONG_UNALIGNED, IommuIoasUnmap.LENGTH, length);
    return call(Command.IOMMU_IOAS_UNMAP, s);
  }

  static FuzzCall test(int op, int id, long... fields) {
    MemorySegment s = struct(Command.IOMMU_TEST_CMD);
    s.set(JAVA_INT_UNALIGNED, IommuTestCmd.OP, op);
    s.set(JAVA_INT_UNALIGNED, IommuTestCmd.ID, id);
    for (int i = 0; i < fields.length; i++) {
      s.set(JAVA_LONG_UNALIGNED, 16 + 8L * i, fields[i]);
    }
    return call(Command.IOMMU_TEST_CMD, s);
  }

  static FuzzCall mockDomain(int id) {
    return test(IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN, id);
  }

  static FuzzCall hwptAlloc(int flags, int devId, int ptId) {
    MemorySegment s = struct(Command.IOMMU_HWPT_ALLOC);
    s.set(JAVA_INT_UNALIGNED, IommuHwptAlloc.FLAGS, flags);
    s.set(JAVA_INT_UNALIGNED, IommuHwptAlloc.DEV_ID, devId);
    s.set(JAVA_INT_UNALIGNED, IommuHwptAlloc.PT_ID, ptId);
    return call(Command.IOMMU_HWPT_ALLOC, s);
  }

  /** CREATE_ACCESS with {@code flags} (1 = needs page pinning): fields at 16 (out fd) and 20. */
  static FuzzCall createAccess(int ioas, int flags) {
    return test(IommuTestCmd.IOMMU_TEST_OP_CREATE_ACCESS, ioas, (long) flags << 32);
  }

  static FuzzCall accessPages(int fd, int flags, long iova, long length, long uptr) {
    return test(IommuTestCmd.IOMMU_TEST_OP_ACCESS_PAGES, fd, flags, iova, length, uptr);
  }

  static FuzzCall accessRw(int fd, long iova, long length, long uptr, int flags) {
    return test(IommuTestCmd.IOMMU_TEST_OP_ACCESS_RW, fd, iova, length, uptr, flags);
  }
}
