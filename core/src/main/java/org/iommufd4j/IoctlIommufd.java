package org.iommufd4j;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IoctlEvent;
import org.iommufd4j.uapi.IommuDestroy;
import org.iommufd4j.uapi.IommuIoasAlloc;
import org.iommufd4j.uapi.IommuIoasIovaRanges;
import org.iommufd4j.uapi.IommuOption;
import org.iommufd4j.uapi.Struct;

/**
 * The typed API over anything that takes raw iommufd ioctls: every typed call builds the uapi
 * struct in native memory, issues it through {@link #rawIoctl} and turns {@code -errno} into an
 * {@link IommufdException}. The real-kernel backend is one; the emulator's typed API does not use
 * it (it calls the engine directly, with no byte round trip), which is what lets tests run this
 * code against the emulator's byte ABI and compare.
 *
 * <p>IOAS handles stay bound to the IOAS they were made for: once it is destroyed through this
 * object (typed {@link #destroy}, {@link Ioas#close}, or a raw {@code IOMMU_DESTROY}) or its id is
 * handed out again by an ALLOC through this object, the old handle names id 0 and gets ENOENT, as
 * the emulator's handles do.
 */
abstract class IoctlIommufd implements Iommufd {
  private static final ValueLayout.OfInt U32 =
      JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  private static final System.Logger LOG = System.getLogger("org.iommufd4j.ioctl");

  private final String backend;

  /** The current liveness token of each IOAS id; a handle is live while it holds the current. */
  private final ConcurrentHashMap<Integer, Object> ioasTokens = new ConcurrentHashMap<>();

  /**
   * @param backend the name in events and messages ({@code kernel}, ...)
   */
  IoctlIommufd(String backend) {
    this.backend = backend;
  }

  /** The system call itself: 0, a positive result, or {@code -errno}. {@code arg} is native. */
  abstract int rawIoctl(long request, MemorySegment arg);

  /** Whether {@link #close()} ran: every call is then EBADF. */
  abstract boolean isClosed();

  final String backend() {
    return backend;
  }

  @Override
  public final int ioctl(long request, MemorySegment arg) {
    Objects.requireNonNull(arg, "arg");
    if (!arg.isNative()) {
      // A heap segment has no address to hand to a system call: go through a native copy.
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment copy = arena.allocate(arg.byteSize(), 8).copyFrom(arg);
        int rc = ioctl(request, copy);
        arg.copyFrom(copy);
        return rc;
      }
    }
    IoctlEvent event = new IoctlEvent();
    event.begin();
    int rc = rawIoctl(request, arg);
    event.end();
    Command cmd = Command.of(request);
    if (event.shouldCommit()) {
      event
          .set(
              Command.nameOf(request),
              idIn(cmd, arg),
              rc < 0 ? -rc : 0,
              IoctlEvent.DOOR_IOCTL,
              backend)
          .commit();
    }
    if (rc >= 0 && cmd != null) {
      trackRaw(cmd, arg);
    } else if (rc < 0 && LOG.isLoggable(System.Logger.Level.DEBUG)) {
      LOG.log(
          System.Logger.Level.DEBUG,
          "ioctl backend={0} name={1} request=0x{2} errno={3}",
          backend,
          Command.nameOf(request),
          Long.toHexString(request),
          errnoName(-rc));
    }
    return rc;
  }

  private static int idIn(Command cmd, MemorySegment arg) {
    if (cmd == null || cmd.idOffset() < 0 || arg.byteSize() < cmd.idOffset() + 4) {
      return 0;
    }
    return arg.get(U32, cmd.idOffset());
  }

  /** Keeps IOAS handles honest across raw ALLOC and DESTROY issued through {@link #ioctl}. */
  private void trackRaw(Command cmd, MemorySegment arg) {
    if (cmd == Command.IOMMU_IOAS_ALLOC && arg.byteSize() >= IommuIoasAlloc.OUT_IOAS_ID + 4) {
      ioasTokens.put(arg.get(U32, IommuIoasAlloc.OUT_IOAS_ID), new Object());
    } else if (cmd == Command.IOMMU_DESTROY && arg.byteSize() >= IommuDestroy.ID + 4) {
      ioasTokens.remove(arg.get(U32, IommuDestroy.ID));
    }
  }

  // ---- typed calls ---------------------------------------------------------------------------

  /** Issues a typed call; returns the raw result (0, positive, or {@code -errno}). */
  final int issue(Command cmd, int id, Struct s) {
    IoctlEvent event = new IoctlEvent();
    event.begin();
    int rc = rawIoctl(cmd.request(), s.segment());
    event.end();
    if (event.shouldCommit()) {
      int eventId =
          cmd == Command.IOMMU_IOAS_ALLOC && rc == 0 ? s.u32(IommuIoasAlloc.OUT_IOAS_ID) : id;
      event.set(cmd.name(), eventId, rc < 0 ? -rc : 0, IoctlEvent.DOOR_TYPED, backend).commit();
    }
    return rc;
  }

  /** Issues a typed call and throws on failure, naming the call with {@code detail}. */
  final void issueOrThrow(Command cmd, int id, Struct s, Supplier<String> detail) {
    int rc = issue(cmd, id, s);
    if (rc < 0) {
      throw failure(cmd, rc, detail);
    }
  }

  final IommufdException failure(Command cmd, int rc, Supplier<String> detail) {
    String message = cmd.name() + " " + detail.get();
    if (LOG.isLoggable(System.Logger.Level.DEBUG)) {
      LOG.log(
          System.Logger.Level.DEBUG,
          "typed backend={0} name={1} errno={2} reason={3}",
          backend,
          cmd.name(),
          errnoName(-rc),
          message);
    }
    Errno errno = errnoOrNull(-rc);
    if (errno == null) {
      return new IommufdException(
          Errno.EIO,
          message
              + " (errno "
              + -rc
              + " from the "
              + backend
              + ", reported as EIO: Errno has no constant for it)");
    }
    return new IommufdException(errno, message);
  }

  private static Errno errnoOrNull(int number) {
    try {
      return Errno.of(number);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  private static String errnoName(int number) {
    Errno e = errnoOrNull(number);
    return e == null ? Integer.toString(number) : e.name();
  }

  @Override
  public Ioas createIoas() {
    try (Arena arena = Arena.ofConfined()) {
      Struct s = IommuIoasAlloc.of(arena);
      issueOrThrow(Command.IOMMU_IOAS_ALLOC, 0, s, () -> "flags=0x0");
      int id = s.u32(IommuIoasAlloc.OUT_IOAS_ID);
      Object token = new Object();
      ioasTokens.put(id, token);
      return new IoctlIoas(this, id, token);
    }
  }

  @Override
  public Ioas ioas(int ioasId) {
    // There is no lookup ioctl: IOVA_RANGES with no room answers for IOASes only (EMSGSIZE or
    // 0) and ENOENT for anything else.
    try (Arena arena = Arena.ofConfined()) {
      int rc =
          issue(
              Command.IOMMU_IOAS_IOVA_RANGES, ioasId, IommuIoasIovaRanges.of(arena, ioasId, 0, 0));
      if (rc < 0 && rc != -Errno.EMSGSIZE.number()) {
        throw failure(
            Command.IOMMU_IOAS_IOVA_RANGES,
            rc,
            () -> "ioas_id=" + Integer.toUnsignedString(ioasId));
      }
    }
    return new IoctlIoas(this, ioasId, ioasTokens.computeIfAbsent(ioasId, k -> new Object()));
  }

  /** Whether {@code token} is still the current one of IOAS {@code id}. */
  final boolean isLive(int id, Object token) {
    return ioasTokens.get(id) == token;
  }

  @Override
  public void destroy(int id) {
    try (Arena arena = Arena.ofConfined()) {
      issueOrThrow(
          Command.IOMMU_DESTROY,
          id,
          IommuDestroy.of(arena, id),
          () -> "id=" + Integer.toUnsignedString(id));
      ioasTokens.remove(id);
    }
  }

  /** {@code IOMMU_OPTION}: returns {@code val64} after the call. */
  final long option(int optionId, int op, int objectId, long val64) {
    try (Arena arena = Arena.ofConfined()) {
      Struct s = IommuOption.of(arena, optionId, op, objectId, val64);
      issueOrThrow(
          Command.IOMMU_OPTION,
          objectId,
          s,
          () ->
              "option_id="
                  + optionId
                  + " op="
                  + op
                  + " object_id="
                  + Integer.toUnsignedString(objectId)
                  + " val64=0x"
                  + Long.toHexString(val64));
      return s.u64(IommuOption.VAL64);
    }
  }

  @Override
  public RlimitMode rlimitMode() {
    long v = option(IommuOption.IOMMU_OPTION_RLIMIT_MODE, IommuOption.IOMMU_OPTION_OP_GET, 0, 0);
    return v == 1 ? RlimitMode.PROCESS : RlimitMode.USER;
  }

  @Override
  public void setRlimitMode(RlimitMode mode) {
    Objects.requireNonNull(mode, "mode");
    option(
        IommuOption.IOMMU_OPTION_RLIMIT_MODE,
        IommuOption.IOMMU_OPTION_OP_SET,
        0,
        mode == RlimitMode.PROCESS ? 1 : 0);
  }

  /**
   * Emulated devices need the emulator: a real device is bound through VFIO ({@link
   * VfioDevice#bind}).
   */
  @Override
  public EmulatedDevice createDevice(DomainModel model) {
    Objects.requireNonNull(model, "model");
    throw new UnsupportedOperationException(
        "createDevice: emulated devices exist only on "
            + "Iommufd.emulated(...); the "
            + backend
            + " backend binds VFIO devices instead (VfioDevice.bind)");
  }
}
