package org.iommufd4j;

import static org.iommufd4j.uapi.IommuOption.IOMMU_OPTION_OP_GET;
import static org.iommufd4j.uapi.IommuOption.IOMMU_OPTION_OP_SET;
import static org.iommufd4j.uapi.IommuOption.IOMMU_OPTION_RLIMIT_MODE;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import org.iommufd4j.engine.Caller;
import org.iommufd4j.engine.Context;
import org.iommufd4j.engine.EmulatedFile;
import org.iommufd4j.engine.Host;
import org.iommufd4j.engine.IoasObject;
import org.iommufd4j.engine.VirtualFileTable;
import org.iommufd4j.inspect.Snapshot;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.Dispatcher;

/** {@link Iommufd} on the embedded engine: both front doors call the same {@link Context}. */
final class EmulatedIommufd implements Iommufd {
  private final Context context;
  private final Caller caller;
  private final VirtualFileTable files = new VirtualFileTable();

  EmulatedIommufd(Configuration configuration) {
    Objects.requireNonNull(configuration, "configuration");
    this.context =
        new Context(
            configuration.privateHost() ? new Host() : Host.global(),
            files,
            configuration.testAbi(),
            configuration.vfioContainer(),
            configuration.selftestCompat());
    Caller.Privileges privileges =
        configuration.privilegesOfCallingThread()
            ? Caller.Privileges.ofThread(0, 0) // 0: whichever thread calls, and its own process
            : Caller.Privileges.fixed(
                configuration.capSysResource(),
                configuration.capIpcLock(),
                configuration.memlockLimit());
    this.caller =
        new Caller(
            configuration.userMemory(),
            (int) ProcessHandle.current().pid(),
            currentUid(),
            privileges);
  }

  private static int currentUid() {
    try {
      return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
      return 0;
    }
  }

  Context context() {
    return context;
  }

  Caller caller() {
    return caller;
  }

  @Override
  public int ioctl(long request, MemorySegment arg) {
    Objects.requireNonNull(arg, "arg");
    // As any access to a segment, and as the kernel backend's downcall: never the memory of a
    // closed arena, nor a confined segment from another thread.
    if (!arg.scope().isAlive()) {
      throw new IllegalStateException("Already closed");
    }
    if (!arg.isAccessibleBy(Thread.currentThread())) {
      throw new WrongThreadException("Attempted access outside owning thread");
    }
    if (context.isClosed()) {
      return -Errno.EBADF.number();
    }
    long address = arg.isNative() ? arg.address() : 0;
    return Dispatcher.ioctl(context, caller, request, address, arg);
  }

  /**
   * After the last close the file descriptor is gone; every call is EBADF (main.c:
   * iommufd_fops_release()).
   */
  void checkOpen() {
    if (context.isClosed()) {
      throw new IommufdException(Errno.EBADF, "the iommufd is closed");
    }
  }

  @Override
  public Ioas createIoas() {
    checkOpen();
    int id =
        (int)
            TypedCalls.callLong(
                Command.IOMMU_IOAS_ALLOC, 0, () -> context.ioas().alloc(0, unused -> true));
    return ioas(id);
  }

  @Override
  public Ioas ioas(int ioasId) {
    checkOpen();
    IoasObject object = TypedCalls.run(() -> context.ioas().lookup(ioasId));
    return new EmulatedIoas(this, object);
  }

  @Override
  public void destroy(int id) {
    checkOpen();
    TypedCalls.call(
        Command.IOMMU_DESTROY,
        id,
        () -> {
          context.destroy(id);
          return null;
        });
  }

  @Override
  public RlimitMode rlimitMode() {
    checkOpen();
    long v =
        TypedCalls.callLong(
            Command.IOMMU_OPTION,
            0,
            () -> context.option(caller, IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_GET, 0, 0, 0));
    return v == 1 ? RlimitMode.PROCESS : RlimitMode.USER;
  }

  @Override
  public void setRlimitMode(RlimitMode mode) {
    Objects.requireNonNull(mode, "mode");
    checkOpen();
    TypedCalls.callLong(
        Command.IOMMU_OPTION,
        0,
        () ->
            context.option(
                caller,
                IOMMU_OPTION_RLIMIT_MODE,
                IOMMU_OPTION_OP_SET,
                0,
                0,
                mode == RlimitMode.PROCESS ? 1 : 0));
  }

  @Override
  public List<String> checkInvariants() {
    return context.checkInvariants();
  }

  @Override
  public EmulatedDevice createDevice(DomainModel model) {
    Objects.requireNonNull(model, "model");
    checkOpen();
    int deviceId = (int) TypedCalls.runLong(() -> context.devices().bind(model.spec()));
    return new DeviceHandle(this, deviceId);
  }

  @Override
  public int closeFd(int fd) {
    return files.close(fd) ? 0 : -Errno.EBADF.number();
  }

  @Override
  public long read(int fd, MemorySegment buffer) {
    Objects.requireNonNull(buffer, "buffer");
    EmulatedFile file = files.get(fd);
    if (file == null) {
      return -Errno.EBADF.number();
    }
    return file.read(caller, buffer.isNative() ? buffer.address() : 0, buffer.byteSize());
  }

  @Override
  public long write(int fd, MemorySegment buffer) {
    Objects.requireNonNull(buffer, "buffer");
    EmulatedFile file = files.get(fd);
    if (file == null) {
      return -Errno.EBADF.number();
    }
    return file.write(caller, buffer.isNative() ? buffer.address() : 0, buffer.byteSize());
  }

  @Override
  public Snapshot inspect() {
    return context.snapshot();
  }

  @Override
  public void close() {
    context.close();
  }

  @Override
  public String toString() {
    return "Iommufd[emulated" + (context.isClosed() ? ", closed" : "") + "]";
  }
}
