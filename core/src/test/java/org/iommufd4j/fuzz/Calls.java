package org.iommufd4j.fuzz;

import java.util.List;
import org.iommufd4j.uapi.IommuDestroy;
import org.iommufd4j.uapi.IommuHwptAlloc;
import org.iommufd4j.uapi.IommuIoasAlloc;
import org.iommufd4j.uapi.IommuIoasCopy;
import org.iommufd4j.uapi.IommuIoasMap;
import org.iommufd4j.uapi.IommuIoasUnmap;
import org.iommufd4j.uapi.IommuTestCmd;
import org.iommufd4j.uapi.Struct;

/** Builds well-formed calls for fixed scenarios (the fault sweep's corpus). */
final class Calls {
  static final int RW =
      IommuIoasMap.IOMMU_IOAS_MAP_READABLE | IommuIoasMap.IOMMU_IOAS_MAP_WRITEABLE;
  static final int FIXED = IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA;

  private Calls() {}

  private static FuzzCall call(Struct s) {
    return new FuzzCall(
        s.request(), FuzzWorld.ARGS, List.of(new FuzzCall.Write(FuzzWorld.ARGS, s.bytes())));
  }

  static FuzzCall ioasAlloc() {
    return call(IommuIoasAlloc.of(Struct.HEAP));
  }

  static FuzzCall destroy(int id) {
    return call(IommuDestroy.of(Struct.HEAP, id));
  }

  static FuzzCall map(int ioas, int flags, long va, long length, long iova) {
    return call(IommuIoasMap.of(Struct.HEAP, flags, ioas, va, length, iova));
  }

  static FuzzCall copy(int dst, int src, int flags, long length, long dstIova, long srcIova) {
    return call(IommuIoasCopy.of(Struct.HEAP, flags, dst, src, length, dstIova, srcIova));
  }

  static FuzzCall unmap(int ioas, long iova, long length) {
    return call(IommuIoasUnmap.of(Struct.HEAP, ioas, iova, length));
  }

  /** A test op with {@code fields} as the u64s of its union, from offset 16. */
  static FuzzCall test(int op, int id, long... fields) {
    Struct s = IommuTestCmd.of(Struct.HEAP, op, id);
    for (int i = 0; i < fields.length; i++) {
      s.u64(IommuTestCmd.ADD_RESERVED_START + 8L * i, fields[i]);
    }
    return call(s);
  }

  static FuzzCall mockDomain(int id) {
    return test(IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN, id);
  }

  static FuzzCall hwptAlloc(int flags, int devId, int ptId) {
    return call(IommuHwptAlloc.of(Struct.HEAP, flags, devId, ptId));
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
