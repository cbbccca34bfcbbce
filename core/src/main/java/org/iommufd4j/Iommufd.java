package org.iommufd4j;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Objects;
import org.iommufd4j.inspect.Snapshot;

/**
 * One open {@code /dev/iommu}: a context with its own object table (main.c: iommufd_fops,
 * iommufd_fops_open()).
 *
 * <p>Two front doors lead to the same engine and give the same errors:
 *
 * <ul>
 *   <li>{@link #ioctl(long, MemorySegment)}, the byte ABI, exactly as the system call: a request
 *       number and a struct in native memory, 0 or {@code -errno} back;
 *   <li>typed methods ({@link #createIoas()}, {@link Ioas#map}, ...) that throw {@link
 *       IommufdException}.
 * </ul>
 *
 * <p>Implementations are thread safe. {@link #close()} is {@code close(fd)}: once no access fd (see
 * {@link #closeFd}) is open any more, every object is destroyed, every mapping removed, every pin
 * and charge released.
 *
 * {@snippet :
 * try (Iommufd iommufd = Iommufd.emulated(); Arena arena = Arena.ofConfined()) {
 *   Ioas ioas = iommufd.createIoas();
 *   MemorySegment buffer = arena.allocate(1 << 16, 4096);
 *   Mapping m = ioas.map(buffer, Protection.READ_WRITE);   // automatic IOVA
 *   ioas.unmap(m);
 * }
 * }
 */
public interface Iommufd extends AutoCloseable {

  /**
   * A fresh emulated context with the {@linkplain Configuration#defaults() default configuration}.
   */
  static Iommufd emulated() {
    return emulated(Configuration.defaults());
  }

  /** A fresh emulated context, as {@code open("/dev/iommu")} on an emulated kernel. */
  static Iommufd emulated(Configuration configuration) {
    return new EmulatedIommufd(configuration);
  }

  /**
   * The real kernel's {@code /dev/iommu}, opened with {@code O_RDWR | O_CLOEXEC} through FFM: the
   * same raw entry point and the same typed API, every call one {@code ioctl(2)}. {@link
   * #createDevice} is not supported (real devices are bound through VFIO: {@link VfioDevice#bind}),
   * and {@link #closeFd} is the real {@code close(2)}. IOAS handles behave as the emulator's as
   * long as IOASes are created and destroyed through this object.
   *
   * @throws IommufdException with the errno of {@code open(2)}: ENOENT on a kernel without iommufd
   *     (the message names the path and the errno), EACCES without permission
   */
  static Iommufd kernel() {
    return kernel("/dev/iommu");
  }

  /**
   * As {@link #kernel()} for another device node, such as {@code /dev/vfio/vfio} on a kernel whose
   * VFIO container is provided by iommufd ({@code CONFIG_IOMMUFD_VFIO_CONTAINER}).
   */
  static Iommufd kernel(String path) {
    Objects.requireNonNull(path, "path");
    return DescriptorIommufd.open(Syscalls.KERNEL, path);
  }

  /**
   * Issues one ioctl, exactly as {@code ioctl(fd, request, arg)} on the kernel would.
   *
   * <p>{@code arg} is the argument struct in native memory of this process, and pointers inside it
   * ({@code user_va}, {@code allowed_iovas}, ...) are addresses in this process. The struct is read
   * from {@code arg} where the segment covers it and from this process's memory beyond that, as the
   * kernel reads {@code size} bytes at the address: {@link MemorySegment#NULL} or an unmapped
   * address gives {@code -EFAULT}; nothing crashes the JVM.
   *
   * <p>The VFIO type-1 compatibility requests ({@link org.iommufd4j.uapi.Vfio}, vfio_compat.c:
   * iommufd_vfio_ioctl()) arrive here too. Two of them take an integer instead of a pointer, as in
   * C: pass VFIO_CHECK_EXTENSION's extension number and VFIO_SET_IOMMU's IOMMU type as the
   * segment's address, {@code ioctl(Vfio.VFIO_SET_IOMMU,
   * MemorySegment.ofAddress(Vfio.VFIO_TYPE1v2_IOMMU))}. VFIO_CHECK_EXTENSION returns 1 or 0,
   * VFIO_GET_API_VERSION returns 0.
   *
   * <p>Memory behind {@code arg} that cannot be read, or written for a reply (read-only, {@code
   * PROT_NONE}, unmapped, an {@linkplain MemorySegment#asReadOnly() read-only} segment) gives
   * {@code -EFAULT}, whatever made it so and whenever, as on the kernel.
   *
   * @return 0 on success, a positive value for the VFIO compatibility calls that return one, or
   *     {@code -errno}
   * @throws IllegalStateException if {@code arg}'s arena is closed, as for any access to it
   * @throws WrongThreadException if {@code arg} is confined to another thread
   */
  int ioctl(long request, MemorySegment arg);

  /** {@code IOMMU_IOAS_ALLOC}: a new, empty IOAS. */
  Ioas createIoas();

  /**
   * A handle to an existing IOAS, for example one created through {@link #ioctl}.
   *
   * @throws IommufdException ENOENT if {@code ioasId} names no IOAS
   */
  Ioas ioas(int ioasId);

  /**
   * {@code IOMMU_DESTROY} of any object id.
   *
   * @throws IommufdException ENOENT for an unknown id, EBUSY while something else uses the object
   */
  void destroy(int id);

  /** {@code IOMMU_OPTION RLIMIT_MODE GET}. */
  RlimitMode rlimitMode();

  /**
   * {@code IOMMU_OPTION RLIMIT_MODE SET}.
   *
   * @throws IommufdException EPERM without CAP_SYS_RESOURCE, EBUSY once any object exists
   */
  void setRlimitMode(RlimitMode mode);

  /**
   * Binds a new emulated device behind {@code model} hardware to this context (a DEVICE object, as
   * binding a VFIO device would create). Attach it to an IOAS and it can DMA.
   *
   * @throws UnsupportedOperationException on the real-kernel backend
   */
  EmulatedDevice createDevice(DomainModel model);

  /**
   * {@code IOMMU_GET_HW_INFO} of device {@code deviceId} (an {@link EmulatedDevice#id()}, or a
   * VFIO-bound device's id on a real kernel).
   *
   * @throws IommufdException ENOENT if there is no such device
   */
  default HwInfo hwInfo(int deviceId) {
    return HwptCalls.hwInfo(this, deviceId);
  }

  /**
   * {@code IOMMU_HWPT_ALLOC}: a paging HWPT of device {@code deviceId}'s IOMMU over IOAS (or
   * nesting-parent HWPT) {@code ptId}.
   *
   * @throws IommufdException ENOENT for an unknown device, EINVAL for an unknown {@code ptId}
   *     (hw_pagetable.c: iommufd_hwpt_alloc()), EOPNOTSUPP for a flag the device's IOMMU cannot do
   *     (DIRTY_TRACKING without the capability)
   */
  default Hwpt allocHwpt(int deviceId, int ptId, HwptFlag... flags) {
    return HwptCalls.alloc(this, deviceId, ptId, flags);
  }

  /**
   * {@code IOMMU_HWPT_ALLOC} of a nested HWPT: a stage-1 table of the driver's {@code dataType} (1
   * Intel VT-d, {@code 0xdead} the selftest mock) described by {@code data}, over the
   * nesting-parent HWPT {@code parentId}; faults of its devices go to {@code faults} (or nowhere,
   * if null).
   *
   * @throws IommufdException EINVAL if the parent is not a nesting parent or the data does not fit
   *     the type, EOPNOTSUPP for a type the device's IOMMU does not know
   */
  default Hwpt allocNestedHwpt(
      int deviceId, int parentId, int dataType, byte[] data, FaultQueue faults) {
    return HwptCalls.allocNested(this, deviceId, parentId, dataType, data, faults);
  }

  /** {@code IOMMU_FAULT_QUEUE_ALLOC}: a FAULT object and its fault fd. */
  default FaultQueue allocFaultQueue() {
    return HwptCalls.allocFaultQueue(this);
  }

  /**
   * {@code close(fd)} of a descriptor this context handed out through an ioctl: the access fd of
   * the test op CREATE_ACCESS or the fault fd of {@code IOMMU_FAULT_QUEUE_ALLOC}. The embedded
   * emulator numbers them from 1,000,000. An access fd keeps the context alive (main.c:
   * iommufd_fops_release()): after {@link #close()} its objects, pins and charges stay until the
   * last such fd is closed here.
   *
   * @return 0, or {@code -EBADF} if {@code fd} is not such a descriptor
   */
  int closeFd(int fd);

  /**
   * {@code read(fd, buffer, buffer.byteSize())} on a descriptor this context handed out: for the
   * fault fd of {@code IOMMU_FAULT_QUEUE_ALLOC}, whole fault groups as 40-byte {@code struct
   * iommu_hwpt_pgfault} records, oldest first, without ever blocking (0 when none is pending). The
   * size must be a multiple of 40 ({@code -ESPIPE}); {@code -EINVAL} if not even the first pending
   * group fits.
   *
   * @return the bytes read, or {@code -errno}: {@code -EBADF} if {@code fd} is not such a
   *     descriptor, {@code -EINVAL} for a descriptor that cannot be read (an access fd)
   */
  long read(int fd, MemorySegment buffer);

  /**
   * {@code write(fd, buffer, buffer.byteSize())} on a descriptor this context handed out: for the
   * fault fd, 8-byte {@code struct iommu_hwpt_page_response}s answering the groups read (their
   * cookie). The size must be a multiple of 8 ({@code -ESPIPE}); a bad code or an unknown cookie
   * stops the write ({@code -EINVAL} if it was the first response).
   *
   * @return the bytes consumed, or {@code -errno}: {@code -EBADF} if {@code fd} is not such a
   *     descriptor
   */
  long write(int fd, MemorySegment buffer);

  /**
   * The state of this context as values: objects, every IOAS with its allowed and reserved ranges
   * (and their owners), areas (IOVA range, user address, page source, protection, pinned pages,
   * access pins), HWPTs with their domains, devices, accesses, fault queues, page sources and the
   * machine's pins and memory-lock accounts. Each IOAS is read under its lock, so what it shows is
   * consistent; {@link Snapshot#toTable()}, {@link Snapshot#toJson()} and {@link Snapshot#toSvg()}
   * render it. Works after {@link #close()} too (it then shows what an open access or fault fd
   * still holds, or nothing).
   *
   * @throws UnsupportedOperationException on backends that cannot see their state (the real kernel)
   */
  default Snapshot inspect() {
    throw new UnsupportedOperationException(this + " cannot show its state");
  }

  /**
   * The emulator's self-check, for test tools: every broken internal invariant of this context
   * (areas overlapping each other or reserved ranges, alignment, domains out of step with the
   * areas, pins, reference counts), each as one sentence; empty when all hold. Works after {@link
   * #close()} too.
   *
   * @throws UnsupportedOperationException on backends whose internals are not visible (the real
   *     kernel)
   */
  default List<String> checkInvariants() {
    throw new UnsupportedOperationException(this + " cannot check its internals");
  }

  /**
   * Closes the iommufd: every later call fails with EBADF. The context is torn down (every object
   * destroyed, every pin and charge released) now, or when the last open access or fault fd is
   * closed through {@link #closeFd}, as in the kernel (main.c: iommufd_fops_release()). Idempotent.
   */
  @Override
  void close();
}
