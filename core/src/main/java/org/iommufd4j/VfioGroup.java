package org.iommufd4j;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;
import org.iommufd4j.uapi.Vfio;
import org.iommufd4j.uapi.VfioGroupStatus;

/**
 * A VFIO IOMMU group ({@code /dev/vfio/N}), the older way to a device (Linux 6.12's {@code
 * group.c}): set it to a {@link VfioContainer} (or an {@link Iommufd}), then {@link #openDevice} by
 * PCI address. One open at a time (EBUSY), and not while the device is bound through its cdev.
 * Fails with the kernel's errno as an {@link IommufdException}; after {@link #close()}, EBADF.
 */
public final class VfioGroup implements AutoCloseable {
  private static final ValueLayout.OfInt U32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  /** {@code VFIO_GROUP_GET_STATUS}. */
  public record Status(boolean viable, boolean containerSet) {}

  private final Descriptor descriptor;

  private VfioGroup(Descriptor descriptor) {
    this.descriptor = descriptor;
  }

  /**
   * Opens group {@code number} of the real kernel.
   *
   * @throws IommufdException ENOENT without such a group (or VFIO), EBUSY while it is open
   */
  public static VfioGroup open(int number) {
    return open(Syscalls.KERNEL, number);
  }

  static VfioGroup open(Syscalls syscalls, int number) {
    return new VfioGroup(Descriptor.open(syscalls, "/dev/vfio/" + number, "VFIO (CONFIG_VFIO)"));
  }

  private long ioctl(long request, MemorySegment arg, String call) {
    return descriptor.call(fd -> descriptor.syscalls.ioctl(fd, request, arg), call);
  }

  /** {@code VFIO_GROUP_GET_STATUS}. */
  public Status status() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment status = VfioDevice.argument(arena, VfioGroupStatus.SIZE);
      ioctl(Vfio.VFIO_GROUP_GET_STATUS, status, "VFIO_GROUP_GET_STATUS");
      int flags = status.get(U32, VfioGroupStatus.FLAGS);
      return new Status(
          (flags & VfioGroupStatus.VFIO_GROUP_FLAGS_VIABLE) != 0,
          (flags & VfioGroupStatus.VFIO_GROUP_FLAGS_CONTAINER_SET) != 0);
    }
  }

  /**
   * {@code VFIO_GROUP_SET_CONTAINER}.
   *
   * @throws IommufdException EINVAL if set already, EBADF for a closed container
   */
  public void setContainer(VfioContainer container) {
    setContainer(container.descriptor());
  }

  /** {@code VFIO_GROUP_SET_CONTAINER} with an iommufd, which then serves as the container. */
  public void setContainer(Iommufd iommufd) {
    if (!(iommufd instanceof DescriptorIommufd d)) {
      throw new IllegalArgumentException(iommufd + " is not an iommufd of a VFIO backend");
    }
    setContainer(d.descriptor());
  }

  private void setContainer(Descriptor container) {
    if (container.syscalls != descriptor.syscalls) {
      throw new IllegalArgumentException(
          container + " is not of this group's backend (" + descriptor.syscalls.name() + ")");
    }
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment fd = arena.allocate(ValueLayout.JAVA_INT);
      container.withFd(
          containerFd -> {
            // a closed container's -1 gets the kernel's EBADF
            fd.set(ValueLayout.JAVA_INT, 0, containerFd);
            return ioctl(Vfio.VFIO_GROUP_SET_CONTAINER, fd, "VFIO_GROUP_SET_CONTAINER");
          });
    }
  }

  /**
   * {@code VFIO_GROUP_UNSET_CONTAINER}.
   *
   * @throws IommufdException EINVAL if no container is set
   */
  public void unsetContainer() {
    ioctl(Vfio.VFIO_GROUP_UNSET_CONTAINER, MemorySegment.NULL, "VFIO_GROUP_UNSET_CONTAINER");
  }

  /**
   * {@code VFIO_GROUP_GET_DEVICE_FD} of {@code bdf} ({@code 0000:00:04.0}): the device, already
   * using the container's IOMMU ({@link VfioDevice#bind} and attach are for cdevs).
   *
   * @throws IommufdException EINVAL for a device not in the group or without a container set
   */
  public VfioDevice openDevice(String bdf) {
    Objects.requireNonNull(bdf, "bdf");
    try (Arena arena = Arena.ofConfined()) {
      int fd =
          (int)
              ioctl(
                  Vfio.VFIO_GROUP_GET_DEVICE_FD,
                  arena.allocateFrom(bdf),
                  "VFIO_GROUP_GET_DEVICE_FD \"" + bdf + "\"");
      return new VfioDevice(new Descriptor(descriptor.syscalls, bdf, fd));
    }
  }

  /** {@code close(2)}; devices opened through it keep it until they are closed. Idempotent. */
  @Override
  public void close() {
    descriptor.close();
  }

  @Override
  public String toString() {
    return "VfioGroup[" + descriptor + "]";
  }
}
