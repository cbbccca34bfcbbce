package org.iommufd4j.vfio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iommufd4j.vfio.VfioRig.result;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.iommufd4j.Errno;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuDestroy;
import org.iommufd4j.uapi.IommuHwInfo;
import org.iommufd4j.uapi.IommuHwptAlloc;
import org.iommufd4j.uapi.IommuIoasAlloc;
import org.iommufd4j.uapi.IommuIoasIovaRanges;
import org.iommufd4j.uapi.IommuIoasMap;
import org.iommufd4j.uapi.IommuIoasUnmap;
import org.iommufd4j.uapi.Vfio;
import org.junit.jupiter.api.Test;

/**
 * edu through the emulated cdev {@code /dev/vfio/devices/vfio0}, probed as
 * bridge/native/tests/vfio/edu_cdev.c probes Linux 6.12: each probe prints its line in the
 * transcript's format, and the lines must appear, in order, in oracle/edu_cdev.txt.
 */
class VfioCdevTest {
  static final Path ORACLE = Path.of("..", "bridge", "src", "test", "resources", "oracle");

  private final VfioRig rig = new VfioRig();
  private final List<String> lines = new ArrayList<>();

  private void print(String format, Object... args) {
    lines.add(String.format(format, args));
  }

  private long bind(int device, int argsz, int flags, int iommufd) {
    rig.args(argsz, flags, iommufd, 0x5a5a5a5a);
    return rig.ioctl(device, Vfio.VFIO_DEVICE_BIND_IOMMUFD, rig.arg);
  }

  private long attach(int device, int argsz, int flags, int ptId) {
    rig.args(argsz, flags, ptId);
    return rig.ioctl(device, Vfio.VFIO_DEVICE_ATTACH_IOMMUFD_PT, rig.arg);
  }

  private long destroy(int iommufd, int id) {
    rig.args(IommuDestroy.SIZE, id);
    return rig.ioctl(iommufd, Command.IOMMU_DESTROY);
  }

  private void ranges(int iommufd, int ioas, String when) {
    long buffer = rig.arg + 1024;
    rig.args(IommuIoasIovaRanges.SIZE, ioas, 8);
    rig.memory.putLong(rig.arg + IommuIoasIovaRanges.ALLOWED_IOVAS, buffer);
    long rc = rig.ioctl(iommufd, Command.IOMMU_IOAS_IOVA_RANGES);
    int n = rig.u32(IommuIoasIovaRanges.NUM_IOVAS);
    print(
        "IOMMU_IOAS_IOVA_RANGES %s => %s num_iovas=%d out_iova_alignment=0x%x",
        when, result(rc), n, rig.u64(IommuIoasIovaRanges.OUT_IOVA_ALIGNMENT));
    for (int i = 0; i < n; i++) {
      print(
          "IOMMU_IOAS_IOVA_RANGES %s range start=0x%x last=0x%x",
          when, rig.memory.getLong(buffer + 16L * i), rig.memory.getLong(buffer + 16L * i + 8));
    }
  }

  private long map(int iommufd, int ioas, long va, long iova, long length, boolean writeable) {
    rig.args(IommuIoasMap.SIZE);
    rig.memory.putInt(
        rig.arg + IommuIoasMap.FLAGS,
        IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA
            | IommuIoasMap.IOMMU_IOAS_MAP_READABLE
            | (writeable ? IommuIoasMap.IOMMU_IOAS_MAP_WRITEABLE : 0));
    rig.memory.putInt(rig.arg + IommuIoasMap.IOAS_ID, ioas);
    rig.memory.putLong(rig.arg + IommuIoasMap.USER_VA, va);
    rig.memory.putLong(rig.arg + IommuIoasMap.LENGTH, length);
    rig.memory.putLong(rig.arg + IommuIoasMap.IOVA, iova);
    return rig.ioctl(iommufd, Command.IOMMU_IOAS_MAP);
  }

  private long unmap(int iommufd, int ioas, long iova, long length, long[] unmapped) {
    rig.args(IommuIoasUnmap.SIZE, ioas);
    rig.memory.putLong(rig.arg + IommuIoasUnmap.IOVA, iova);
    rig.memory.putLong(rig.arg + IommuIoasUnmap.LENGTH, length);
    long rc = rig.ioctl(iommufd, Command.IOMMU_IOAS_UNMAP);
    unmapped[0] = rc == 0 ? rig.u64(IommuIoasUnmap.LENGTH) : 0;
    return rc;
  }

  private void assertTranscriptHasLines() throws IOException {
    assertThat(Files.readAllLines(ORACLE.resolve("edu_cdev.txt"))).containsSubsequence(lines);
  }

  @Test
  void bindAttachDetachAndCloseAreWhatTheKernelAnswers() throws IOException {
    int device = rig.openCdev();
    int iommufd = rig.files.openIommufd(false);
    String[] names = {
      "VFIO_DEVICE_GET_INFO",
      "VFIO_DEVICE_ATTACH_IOMMUFD_PT",
      "VFIO_DEVICE_DETACH_IOMMUFD_PT",
      "VFIO_DEVICE_RESET",
      "VFIO_DEVICE_FEATURE"
    };
    long[] requests = {
      Vfio.VFIO_DEVICE_GET_INFO,
      Vfio.VFIO_DEVICE_ATTACH_IOMMUFD_PT,
      Vfio.VFIO_DEVICE_DETACH_IOMMUFD_PT,
      Vfio.VFIO_DEVICE_RESET,
      Vfio.VFIO_DEVICE_FEATURE
    };
    for (int i = 0; i < names.length; i++) {
      rig.args(64);
      print("before bind: %s => %s", names[i], result(rig.ioctl(device, requests[i], rig.arg)));
    }
    print(
        "before bind: VFIO_GET_API_VERSION on the device fd => %s",
        result(rig.ioctl(device, Vfio.VFIO_GET_API_VERSION, 0)));
    print("before bind: pread config => %s", result(rig.pread(device, rig.arg, 4, 7L << 40)));
    print("before bind: pwrite BAR0 => %s", result(rig.pwrite(device, rig.arg, 4, 4)));
    print("before bind: mmap BAR0 => %s", result(rig.files.get(device).mmap(0, 1 << 20, 3, 1)));

    print("VFIO_DEVICE_BIND_IOMMUFD flags=1 => %s", result(bind(device, 16, 1, iommufd)));
    print("VFIO_DEVICE_BIND_IOMMUFD argsz=12 => %s", result(bind(device, 12, 0, iommufd)));
    print("VFIO_DEVICE_BIND_IOMMUFD iommufd=-1 => %s", result(bind(device, 16, 0, -1)));
    print(
        "VFIO_DEVICE_BIND_IOMMUFD iommufd=999 (not open) => %s", result(bind(device, 16, 0, 999)));
    int devnull = rig.files.openNull();
    print("VFIO_DEVICE_BIND_IOMMUFD iommufd=/dev/null => %s", result(bind(device, 16, 0, devnull)));
    print(
        "VFIO_DEVICE_BIND_IOMMUFD iommufd=<the device fd> => %s",
        result(bind(device, 16, 0, device)));
    long rc = bind(device, 24, 0, iommufd);
    int devid = rig.u32(12);
    print("VFIO_DEVICE_BIND_IOMMUFD argsz=24 => %s out_devid=%d", result(rc), devid);
    rc = bind(device, 16, 0, iommufd);
    print(
        "VFIO_DEVICE_BIND_IOMMUFD again on the same fd => %s out_devid_untouched=%d",
        result(rc), rig.u32(12) == 0x5a5a5a5a ? 1 : 0);
    int second = rig.openCdev();
    print("open /dev/vfio/devices/<vfioN> a second time => %s", second >= 0 ? "fd" : second);
    print(
        "VFIO_DEVICE_BIND_IOMMUFD second fd, same iommufd => %s",
        result(bind(second, 16, 0, iommufd)));
    print(
        "open /dev/vfio/<group> while the cdev is bound => %s",
        result(Math.min(0, rig.openGroup())));
    rig.args(16);
    print(
        "bound, not attached: VFIO_DEVICE_GET_INFO => %s",
        result(rig.ioctl(device, Vfio.VFIO_DEVICE_GET_INFO, rig.arg)));

    long data = rig.arg + 512;
    rig.args(IommuHwInfo.SIZE, 0, devid, 24);
    rig.memory.putLong(rig.arg + IommuHwInfo.DATA_UPTR, data);
    rc = rig.ioctl(iommufd, Command.IOMMU_GET_HW_INFO);
    print(
        "IOMMU_GET_HW_INFO dev_id=devid data_len=24 => %s out_data_type=%d data_len=%d"
            + " out_capabilities=0x%x out_max_pasid_log2=%d",
        result(rc),
        rig.u32(IommuHwInfo.OUT_DATA_TYPE),
        rig.u32(IommuHwInfo.DATA_LEN),
        rig.u64(IommuHwInfo.OUT_CAPABILITIES),
        rig.memory.getBytes(rig.arg + IommuHwInfo.OUT_MAX_PASID_LOG2, 1)[0]);
    print(
        "IOMMU_GET_HW_INFO vtd flags=0x%x reserved=0x%x cap_reg=0x%016x ecap_reg=0x%016x",
        rig.memory.getInt(data),
        rig.memory.getInt(data + 4),
        rig.memory.getLong(data + 8),
        rig.memory.getLong(data + 16));
    rig.args(IommuHwInfo.SIZE, 0, 0, 24);
    print(
        "IOMMU_GET_HW_INFO dev_id=0 => %s", result(rig.ioctl(iommufd, Command.IOMMU_GET_HW_INFO)));

    rig.args(IommuIoasAlloc.SIZE);
    rc = rig.ioctl(iommufd, Command.IOMMU_IOAS_ALLOC);
    int ioas = rig.u32(IommuIoasAlloc.OUT_IOAS_ID);
    print("IOMMU_IOAS_ALLOC => %s out_ioas_id=%d", result(rc), ioas);
    ranges(iommufd, ioas, "before attach");
    print("VFIO_DEVICE_ATTACH_IOMMUFD_PT flags=1 => %s", result(attach(device, 12, 1, ioas)));
    print("VFIO_DEVICE_ATTACH_IOMMUFD_PT argsz=8 => %s", result(attach(device, 8, 0, ioas)));
    print("VFIO_DEVICE_ATTACH_IOMMUFD_PT pt_id=0 => %s", result(attach(device, 12, 0, 0)));
    print("VFIO_DEVICE_ATTACH_IOMMUFD_PT pt_id=999 => %s", result(attach(device, 12, 0, 999)));
    print(
        "VFIO_DEVICE_ATTACH_IOMMUFD_PT pt_id=<the devid> => %s",
        result(attach(device, 12, 0, devid)));
    rc = attach(device, 12, 0, ioas);
    int hwpt = rig.u32(8);
    print("VFIO_DEVICE_ATTACH_IOMMUFD_PT pt_id=<the ioas id> => %s pt_id=%d", result(rc), hwpt);
    rc = attach(device, 12, 0, ioas);
    print(
        "VFIO_DEVICE_ATTACH_IOMMUFD_PT the same ioas again => %s pt_id=%d", result(rc), rig.u32(8));
    ranges(iommufd, ioas, "after attach");
    long page = rig.memory.allocate(4096, true);
    print(
        "IOMMU_IOAS_MAP iova=0xfee00000 (MSI window) => %s",
        result(map(iommufd, ioas, page, 0xfee00000L, 4096, true)));
    print(
        "IOMMU_IOAS_MAP iova=1<<39 => %s", result(map(iommufd, ioas, page, 1L << 39, 4096, true)));
    print("IOMMU_DESTROY <the ioas> while attached => %s", result(destroy(iommufd, ioas)));
    print("IOMMU_DESTROY <the hwpt> while attached => %s", result(destroy(iommufd, hwpt)));
    print("IOMMU_DESTROY <the devid> => %s", result(destroy(iommufd, devid)));

    rig.args(8, 1);
    print(
        "VFIO_DEVICE_DETACH_IOMMUFD_PT flags=1 => %s",
        result(rig.ioctl(device, Vfio.VFIO_DEVICE_DETACH_IOMMUFD_PT, rig.arg)));
    rig.args(8, 0);
    print(
        "VFIO_DEVICE_DETACH_IOMMUFD_PT => %s",
        result(rig.ioctl(device, Vfio.VFIO_DEVICE_DETACH_IOMMUFD_PT, rig.arg)));
    print("IOMMU_DESTROY <the old hwpt> after detach => %s", result(destroy(iommufd, hwpt)));
    ranges(iommufd, ioas, "after detach");
    rig.args(8, 0);
    print(
        "VFIO_DEVICE_DETACH_IOMMUFD_PT again => %s",
        result(rig.ioctl(device, Vfio.VFIO_DEVICE_DETACH_IOMMUFD_PT, rig.arg)));
    print("detached: BAR0 pread id => %s", result(rig.pread(device, rig.arg + 2048, 4, 0)));
    rc = attach(device, 12, 0, ioas);
    print("VFIO_DEVICE_ATTACH_IOMMUFD_PT re-attach => %s pt_id=%d", result(rc), rig.u32(8));
    rig.files.close(second);
    print("close device fd => %s", result(rig.files.close(device)));
    print("IOMMU_DESTROY <the devid> after close => %s", result(destroy(iommufd, devid)));
    ranges(iommufd, ioas, "after close");
    print("IOMMU_DESTROY <the ioas> => %s", result(destroy(iommufd, ioas)));
    print("close /dev/iommu => %s", result(rig.files.close(iommufd)));
    assertTranscriptHasLines();
  }

  @Test
  void eduDmaReachesMemoryThroughTheAttachedIoasAsTheKernelShows() throws IOException {
    int device = rig.openCdev();
    int iommufd = rig.files.openIommufd(false);
    bind(device, 16, 0, iommufd);
    int ioas = allocIoas(iommufd);
    assertThat(attach(device, 12, 0, ioas)).isZero();
    DmaProbe.run(
        rig,
        device,
        new DmaProbe.Mapper(
            "IOMMU_IOAS_MAP",
            (va, length, iova, deviceWrites) -> map(iommufd, ioas, va, iova, length, deviceWrites),
            (iova, length, unmapped) -> unmap(iommufd, ioas, iova, length, unmapped)),
        true,
        lines);
    assertTranscriptHasLines();
  }

  @Test
  void closingTheDeviceFileUnbindsItAndStopsItsDma() {
    int device = rig.openCdev();
    int iommufd = rig.files.openIommufd(false);
    bind(device, 16, 0, iommufd);
    int devid = rig.u32(12);
    int ioas = allocIoas(iommufd);
    attach(device, 12, 0, ioas);
    long page = rig.memory.allocate(4096, true);
    assertThat(map(iommufd, ioas, page, 0x100000, 4096, true)).isZero();
    assertThat(rig.files.close(iommufd)).isZero(); // the bound device keeps the context alive
    assertThat(rig.files.ctx(iommufd)).isNull();

    rig.busMaster(device);
    rig.memory.putBytes(page, new byte[] {1, 2, 3, 4});
    rig.eduDma(device, 0x100000, 0x40000, 4, 1);
    rig.eduDma(device, 0x40000, 0x100000 + 8, 4, 3);
    assertThat(rig.memory.getBytes(page + 8, 4)).containsExactly(1, 2, 3, 4);

    assertThat(rig.files.close(device)).isZero();
    assertThat(rig.edu.config().read(4, 2) & 0x4).as("bus mastering after close").isZero();
    int fresh = rig.files.openIommufd(false);
    assertThat(bind(rig.openCdev(), 16, 0, fresh)).isZero();
    assertThat(rig.u32(12)).as("the device binds anew").isEqualTo(1);
    assertThat(devid).isEqualTo(1);
  }

  private long hwInfo(int iommufd, int size, int flags, int devId, int dataLen, long data) {
    rig.args(size, flags, devId, dataLen);
    rig.memory.putLong(rig.arg + IommuHwInfo.DATA_UPTR, data);
    return rig.ioctl(iommufd, Command.IOMMU_GET_HW_INFO);
  }

  @Test
  void hardwareInfoOfTheBoundDeviceIsIntelVtdsAsTheKernelAnswers() throws IOException {
    int device = rig.openCdev();
    int iommufd = rig.files.openIommufd(false);
    bind(device, 16, 0, iommufd);
    int devid = rig.u32(12);
    long data = rig.memory.allocate(4096, true);
    long rc = hwInfo(iommufd, IommuHwInfo.SIZE, 0, devid, 0, 0);
    print(
        "IOMMU_GET_HW_INFO data_len=0 => %s out_data_type=%d data_len=%d",
        result(rc), rig.u32(IommuHwInfo.OUT_DATA_TYPE), rig.u32(IommuHwInfo.DATA_LEN));
    rig.memory.putBytes(data, filled(64));
    rc = hwInfo(iommufd, IommuHwInfo.SIZE, 0, devid, 64, data);
    boolean zeroed = true;
    for (byte b : rig.memory.getBytes(data + 24, 40)) {
      zeroed &= b == 0;
    }
    print(
        "IOMMU_GET_HW_INFO data_len=64 => %s data_len=%d tail_zeroed=%d",
        result(rc), rig.u32(IommuHwInfo.DATA_LEN), zeroed ? 1 : 0);
    rig.memory.putBytes(data, filled(24));
    rc = hwInfo(iommufd, IommuHwInfo.SIZE, 0, devid, 8, data);
    print(
        "IOMMU_GET_HW_INFO data_len=8 => %s data_len=%d cap_reg_untouched=%d",
        result(rc),
        rig.u32(IommuHwInfo.DATA_LEN),
        rig.memory.getLong(data + 8) == 0xa5a5a5a5a5a5a5a5L ? 1 : 0);
    print(
        "IOMMU_GET_HW_INFO flags=1 => %s",
        result(hwInfo(iommufd, IommuHwInfo.SIZE, 1, devid, 0, 0)));
    print("IOMMU_GET_HW_INFO size=16 => %s", result(hwInfo(iommufd, 16, 0, devid, 0, 0)));
    rig.args(IommuHwInfo.SIZE, 0, devid);
    rig.memory.putInt(rig.arg + IommuHwInfo.OUT_MAX_PASID_LOG2, 0x100);
    print(
        "IOMMU_GET_HW_INFO reserved!=0 => %s",
        result(rig.ioctl(iommufd, Command.IOMMU_GET_HW_INFO)));
    int ioas = allocIoas(iommufd);
    print(
        "IOMMU_GET_HW_INFO dev_id=<the ioas id> => %s",
        result(hwInfo(iommufd, IommuHwInfo.SIZE, 0, ioas, 0, 0)));
    assertTranscriptHasLines();
  }

  @Test
  void mmapIsAllowedForTheMappableBarOnlyAsTheKernelAnswers() throws IOException {
    int device = rig.openCdev();
    int iommufd = rig.files.openIommufd(false);
    bind(device, 16, 0, iommufd);
    var file = rig.files.get(device);
    int shared = 0x01;
    int read = 0x1;
    print("BAR0 mmap size=0x100000 => %s", mmapResult(file.mmap(0, 0x100000, read | 2, shared)));
    print(
        "BAR0 mmap offset=0x1000 size=0x1000 => %s",
        mmapResult(file.mmap(0x1000, 0x1000, read, shared)));
    print("BAR0 mmap size=0x200000 => %s", mmapResult(file.mmap(0, 0x200000, read, shared)));
    print("BAR0 mmap MAP_PRIVATE => %s", mmapResult(file.mmap(0, 0x1000, read, 0x02)));
    print("CONFIG mmap => %s", mmapResult(file.mmap(7L << 40, 0x1000, read, shared)));
    print("BAR1 mmap => %s", mmapResult(file.mmap(1L << 40, 0x1000, read, shared)));
    assertTranscriptHasLines();
  }

  private static String mmapResult(int rc) {
    return rc == 0 ? "ok" : result(rc);
  }

  private static byte[] filled(int n) {
    byte[] b = new byte[n];
    java.util.Arrays.fill(b, (byte) 0xa5);
    return b;
  }

  /** IOMMU_IOAS_ALLOC: the new IOAS's id. */
  private int allocIoas(int iommufd) {
    rig.args(IommuIoasAlloc.SIZE);
    rig.ioctl(iommufd, Command.IOMMU_IOAS_ALLOC);
    return rig.u32(IommuIoasAlloc.OUT_IOAS_ID);
  }

  private long hwptAlloc(int iommufd, int flags, int devId, int ptId) {
    rig.args(IommuHwptAlloc.SIZE, flags, devId, ptId);
    return rig.ioctl(iommufd, Command.IOMMU_HWPT_ALLOC);
  }

  @Test
  void aBoundDeviceGetsHwptsOfItsOwnIommuAndAttachesToThem() {
    int device = rig.openCdev();
    int iommufd = rig.files.openIommufd(false);
    bind(device, 16, 0, iommufd);
    int devid = rig.u32(12);
    int ioas = allocIoas(iommufd);

    assertThat(hwptAlloc(iommufd, IommuHwptAlloc.IOMMU_HWPT_ALLOC_DIRTY_TRACKING, devid, ioas))
        .as("dirty tracking: QEMU's VT-d has no SLADS")
        .isEqualTo(-Errno.EOPNOTSUPP.number());
    assertThat(hwptAlloc(iommufd, IommuHwptAlloc.IOMMU_HWPT_ALLOC_NEST_PARENT, devid, ioas))
        .as("nesting parent: no nested translation")
        .isEqualTo(-Errno.EOPNOTSUPP.number());
    assertThat(hwptAlloc(iommufd, 0, devid, ioas)).isZero();
    int hwpt = rig.u32(IommuHwptAlloc.OUT_HWPT_ID);
    assertThat(attach(device, 12, 0, hwpt)).isZero();
    assertThat(rig.u32(8)).as("the HWPT given is the one attached").isEqualTo(hwpt);
    assertThat(destroy(iommufd, hwpt)).isEqualTo(-Errno.EBUSY.number());

    rig.files.close(device);
    assertThat(destroy(iommufd, hwpt)).as("the user's HWPT outlives the device").isZero();
  }
}
