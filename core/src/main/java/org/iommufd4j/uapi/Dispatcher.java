package org.iommufd4j.uapi;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicLong;
import org.iommufd4j.Errno;
import org.iommufd4j.IovaRange;
import org.iommufd4j.IovaRanges;
import org.iommufd4j.engine.AccessTestCommands;
import org.iommufd4j.engine.Caller;
import org.iommufd4j.engine.Context;
import org.iommufd4j.engine.CopyRequest;
import org.iommufd4j.engine.ErrnoException;
import org.iommufd4j.engine.MapRequest;
import org.iommufd4j.engine.Selftest;
import org.iommufd4j.memory.UserMemory;

/**
 * The generic ioctl path (main.c: iommufd_fops_ioctl(); iommufd_private.h: iommufd_ucmd_respond())
 * for every command: size word, request number, {@code min_size}, zero tail, copy into a kernel
 * buffer, handler, truncated respond. Handlers decode fields by named offsets and call the engine;
 * nothing else here knows semantics.
 *
 * <p>Caller memory is touched only through the {@link Caller}'s {@link UserMemory}, except that the
 * argument struct itself is read from and written to {@code direct} when the caller supplied a
 * segment covering it (the embedded raw path), through {@link ArgStruct}: never a plain load or
 * store of native memory, which the caller may have protected or unmapped.
 */
public final class Dispatcher {
  private static final System.Logger LOG = System.getLogger("org.iommufd4j.ioctl");

  /** Turns an unexpected exception into an {@link AssertionError} instead of EIO (tests). */
  private static final boolean STRICT = Boolean.getBoolean("iommufd4j.strict");

  static final ValueLayout.OfInt U32 = JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  static final ValueLayout.OfShort U16 = JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  static final ValueLayout.OfLong U64 = JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  /** Largest {@code ksize} of any command. */
  private static final int MAX_KSIZE = IommuTestCmd.SIZE; // the largest argument

  private static final int TAIL_CHUNK = 4096;
  private static final MemorySegment ZEROS = Arena.global().allocate(TAIL_CHUNK, 8);

  /** Per-thread native buffers, so an ioctl allocates nothing. */
  private static final class Scratch {
    final MemorySegment kbuf;
    final MemorySegment word;

    final MemorySegment range;
    final MemorySegment tail;

    /** This thread's argument, reused by every call ({@link Arg#begin}). */
    final Arg arg;

    /** The command whose struct {@link #kbuf} holds, once copied in; for events and logs. */
    Command decoded;

    static Scratch current() {
      return SCRATCH.get();
    }

    Scratch() {
      Arena arena = Arena.ofAuto();
      kbuf = arena.allocate(MAX_KSIZE, 8);
      word = arena.allocate(4, 4);
      range = arena.allocate(IommuIovaRange.SIZE, 8);
      tail = arena.allocate(TAIL_CHUNK, 8);
      // The start of a native argument segment is fetched into head once per call.
      MemorySegment head = arena.allocate(MAX_KSIZE, 8);
      arg = new Arg(new ArgStruct(head), this);
    }
  }

  private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

  /** Unexpected exceptions turned into EIO since start: a bug each, which fuzzing looks for. */
  private static final AtomicLong INTERNAL_ERRORS = new AtomicLong();

  /** How many ioctls ended in an emulator fault (an unexpected exception answered EIO). */
  public static long internalErrors() {
    return INTERNAL_ERRORS.get();
  }

  private Dispatcher() {}

  /**
   * One ioctl on {@code ctx}, as the system call.
   *
   * @param arg the argument's address in the caller's memory
   * @param direct null, or a segment at {@code arg} through which the struct may be accessed (bytes
   *     beyond its size go through the caller's memory)
   * @return 0, a positive result (VFIO compatibility calls), or {@code -errno}
   */
  @SuppressWarnings("exports") // the entry of the project's own front doors: engine types
  public static int ioctl(
      Context ctx, Caller caller, long request, long arg, MemorySegment direct) {
    IoctlEvent event = new IoctlEvent();
    event.begin();
    int result;
    ErrnoException failure = null;
    Scratch scratch = SCRATCH.get();
    try {
      result = dispatch(ctx, caller, request, arg, direct, scratch);
    } catch (ErrnoException e) {
      failure = e;
      result = -e.errno().number();
    } catch (RuntimeException | StackOverflowError e) {
      INTERNAL_ERRORS.incrementAndGet();
      if (STRICT) {
        throw new AssertionError("unexpected exception in ioctl 0x" + Long.toHexString(request), e);
      }
      LOG.log(
          System.Logger.Level.ERROR,
          "emulator fault in ioctl 0x" + Long.toHexString(request) + ", answered EIO",
          e);
      result = -Errno.EIO.number();
    } finally {
      scratch.arg.end();
    }
    event.end();
    if (event.shouldCommit()) {
      event
          .set(
              Command.nameOf(request),
              decodedId(),
              result < 0 ? -result : 0,
              IoctlEvent.DOOR_IOCTL,
              "emulated")
          .commit();
    }
    if (result < 0
        ? LOG.isLoggable(System.Logger.Level.DEBUG)
        : LOG.isLoggable(System.Logger.Level.TRACE)) {
      log(request, result, failure);
    }
    return result;
  }

  /**
   * An errno is the caller's business, so DEBUG, one line per ioctl (TRACE for successes), {@code
   * name=value} with numbers in hex; only called once the level is enabled.
   */
  private static void log(long request, int result, ErrnoException failure) {
    Command cmd = Scratch.current().decoded;
    String id =
        cmd == null || cmd.idOffset() < 0 ? "" : " id=" + Integer.toUnsignedString(decodedId());
    if (result >= 0) {
      LOG.log(
          System.Logger.Level.TRACE,
          "ioctl name={0} request=0x{1}{2} result={3}",
          Command.nameOf(request),
          Long.toHexString(request),
          id,
          result);
    } else {
      Errno errno = errnoOf(-result);
      LOG.log(
          System.Logger.Level.DEBUG,
          "ioctl name={0} request=0x{1}{2} errno={3} reason={4}",
          Command.nameOf(request),
          Long.toHexString(request),
          id,
          errno == null ? Integer.toString(-result) : errno.name(),
          failure != null ? failure.detail() : "-");
    }
  }

  private static Errno errnoOf(int number) {
    try {
      return Errno.of(number);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /** The id field of this thread's last decoded struct (after the call), or 0 if none. */
  private static int decodedId() {
    Scratch s = Scratch.current();
    Command cmd = s.decoded;
    return cmd == null || cmd.idOffset() < 0 ? 0 : s.kbuf.get(U32, cmd.idOffset());
  }

  private static int dispatch(
      Context ctx,
      Caller caller,
      long longRequest,
      long arg,
      MemorySegment direct,
      Scratch scratch) {
    scratch.decoded = null;
    // The system call's cmd is an unsigned int, matched as a full 32-bit value; bits above 32 of a
    // C unsigned long (or a sign-extended Java int) never reach the driver
    // (include/uapi/linux/iommufd.h: IOMMUFD_CMD_BASE; main.c: iommufd_fops_ioctl()).
    long request = longRequest & 0xffff_ffffL;
    int nr = (int) (request & 0xff);
    int slot = nr - Command.CMD_BASE;
    int tableLength = ctx.testAbi() ? Command.TEST_TABLE_LENGTH : Command.TABLE_LENGTH;
    if (slot < 0 || slot >= tableLength) {
      // The VFIO type-1 compatibility handler (vfio_compat.c: iommufd_vfio_ioctl()) sees these
      // without the size word being read.
      return VfioDispatcher.ioctl(ctx, caller, request, arg, direct);
    }
    // Ended in ioctl(), whatever happens: ending it in one more call level here cost a heap
    // struct ~25 ns per MAP+UNMAP pair (by all signs the JIT's inlining depth).
    Arg a = scratch.arg.begin(caller.memory(), arg, direct);
    int size = a.readSize();
    Command cmd = Command.inSlot(slot);
    if (cmd == null || cmd.request() != request) {
      return -Errno.ENOTTY.number();
    }
    if (Integer.compareUnsigned(size, cmd.minSize()) < 0) {
      return -Errno.EINVAL.number();
    }
    a.copyIn(size, cmd.ksize());
    scratch.decoded = cmd;
    return switch (cmd) {
      case IOMMU_DESTROY -> destroy(ctx, a);
      case IOMMU_IOAS_ALLOC -> ioasAlloc(ctx, a);
      case IOMMU_IOAS_ALLOW_IOVAS -> allowIovas(ctx, a);
      case IOMMU_IOAS_COPY -> copy(ctx, caller, a);
      case IOMMU_IOAS_IOVA_RANGES -> iovaRanges(ctx, a);
      case IOMMU_IOAS_MAP -> map(ctx, caller, a);
      case IOMMU_IOAS_UNMAP -> unmap(ctx, a);
      case IOMMU_OPTION -> option(ctx, caller, a);
      case IOMMU_VFIO_IOAS -> vfioIoas(ctx, a);
      case IOMMU_HWPT_ALLOC -> HwptIoctls.hwptAlloc(ctx, a);
      case IOMMU_GET_HW_INFO -> HwptIoctls.getHwInfo(ctx, a);
      case IOMMU_HWPT_SET_DIRTY_TRACKING -> HwptIoctls.setDirtyTracking(ctx, a);
      case IOMMU_HWPT_GET_DIRTY_BITMAP -> HwptIoctls.getDirtyBitmap(ctx, caller, a);
      case IOMMU_HWPT_INVALIDATE -> HwptIoctls.invalidate(ctx, a);
      case IOMMU_FAULT_QUEUE_ALLOC -> HwptIoctls.faultQueueAlloc(ctx, a);
      case IOMMU_TEST_CMD -> testCmd(ctx, caller, a);
    };
  }

  private static int destroy(Context ctx, Arg a) {
    ctx.destroy(a.u32(IommuDestroy.ID));
    return 0;
  }

  private static int ioasAlloc(Context ctx, Arg a) {
    ctx.ioas()
        .alloc(
            a.u32(IommuIoasAlloc.FLAGS),
            id -> {
              a.putU32(IommuIoasAlloc.OUT_IOAS_ID, id);
              return a.respond();
            });
    return 0;
  }

  private static int allowIovas(Context ctx, Arg a) {
    long array = a.u64(IommuIoasAllowIovas.ALLOWED_IOVAS);
    ctx.ioas()
        .allowIovas(
            a.u32(IommuIoasAllowIovas.IOAS_ID),
            a.u32(IommuIoasAllowIovas.RESERVED),
            a.u32(IommuIoasAllowIovas.NUM_IOVAS),
            (i, startLast) -> {
              MemorySegment r = a.scratch.range;
              if (!a.memory.read(array + (long) i * IommuIovaRange.SIZE, r)) {
                throw ErrnoException.of(Errno.EFAULT, "allowed_iovas[" + i + "] unreadable");
              }
              startLast[0] = r.get(U64, IommuIovaRange.START);
              startLast[1] = r.get(U64, IommuIovaRange.LAST);
            });
    return 0;
  }

  private static int iovaRanges(Context ctx, Arg a) {
    IovaRanges result =
        ctx.ioas()
            .iovaRanges(a.u32(IommuIoasIovaRanges.IOAS_ID), a.u32(IommuIoasIovaRanges.RESERVED));
    long capacity = Integer.toUnsignedLong(a.u32(IommuIoasIovaRanges.NUM_IOVAS));
    long array = a.u64(IommuIoasIovaRanges.ALLOWED_IOVAS);
    long count = 0;
    MemorySegment r = a.scratch.range;
    for (IovaRange range : result.ranges()) {
      if (count < capacity) {
        r.set(U64, IommuIovaRange.START, range.start());
        r.set(U64, IommuIovaRange.LAST, range.last());
        if (!a.memory.write(array + count * IommuIovaRange.SIZE, r)) {
          return -Errno.EFAULT.number();
        }
      }
      count++;
    }
    a.putU32(IommuIoasIovaRanges.NUM_IOVAS, (int) count);
    a.putU64(IommuIoasIovaRanges.OUT_IOVA_ALIGNMENT, result.alignment());
    if (!a.respond()) {
      return -Errno.EFAULT.number();
    }
    return count > capacity ? -Errno.EMSGSIZE.number() : 0;
  }

  private static int map(Context ctx, Caller caller, Arg a) {
    long iova =
        ctx.ioas()
            .map(
                caller,
                new MapRequest(
                    a.u32(IommuIoasMap.FLAGS),
                    a.u32(IommuIoasMap.IOAS_ID),
                    a.u32(IommuIoasMap.RESERVED),
                    a.u64(IommuIoasMap.USER_VA),
                    a.u64(IommuIoasMap.LENGTH),
                    a.u64(IommuIoasMap.IOVA)));
    a.putU64(IommuIoasMap.IOVA, iova);
    return a.respond() ? 0 : -Errno.EFAULT.number();
  }

  private static int copy(Context ctx, Caller caller, Arg a) {
    long iova =
        ctx.ioas()
            .copy(
                caller,
                new CopyRequest(
                    a.u32(IommuIoasCopy.FLAGS),
                    a.u32(IommuIoasCopy.DST_IOAS_ID),
                    a.u32(IommuIoasCopy.SRC_IOAS_ID),
                    a.u64(IommuIoasCopy.LENGTH),
                    a.u64(IommuIoasCopy.DST_IOVA),
                    a.u64(IommuIoasCopy.SRC_IOVA)));
    a.putU64(IommuIoasCopy.DST_IOVA, iova);
    return a.respond() ? 0 : -Errno.EFAULT.number();
  }

  private static int unmap(Context ctx, Arg a) {
    long unmapped =
        ctx.ioas()
            .unmap(
                a.u32(IommuIoasUnmap.IOAS_ID),
                a.u64(IommuIoasUnmap.IOVA),
                a.u64(IommuIoasUnmap.LENGTH));
    a.putU64(IommuIoasUnmap.LENGTH, unmapped);
    return a.respond() ? 0 : -Errno.EFAULT.number();
  }

  private static int option(Context ctx, Caller caller, Arg a) {
    long val =
        ctx.option(
            caller,
            a.u32(IommuOption.OPTION_ID),
            a.u16(IommuOption.OP),
            a.u16(IommuOption.RESERVED),
            a.u32(IommuOption.OBJECT_ID),
            a.u64(IommuOption.VAL64));
    a.putU64(IommuOption.VAL64, val);
    return a.respondRange(IommuOption.VAL64, 8) ? 0 : -Errno.EFAULT.number();
  }

  private static int vfioIoas(Context ctx, Arg a) {
    int op = a.u16(IommuVfioIoas.OP);
    int id = ctx.vfio().vfioIoas(op, a.u16(IommuVfioIoas.RESERVED), a.u32(IommuVfioIoas.IOAS_ID));
    if (op != IommuVfioIoas.IOMMU_VFIO_IOAS_GET) {
      return 0;
    }
    a.putU32(IommuVfioIoas.IOAS_ID, id);
    return a.respond() ? 0 : -Errno.EFAULT.number();
  }

  /**
   * IOMMU_TEST_CMD (selftest.c: iommufd_test()): {@code __reserved} is not checked; unknown ops
   * EOPNOTSUPP.
   */
  private static int testCmd(Context ctx, Caller caller, Arg a) {
    Selftest t = ctx.selftest();
    int id = a.u32(IommuTestCmd.ID);
    int op = a.u32(IommuTestCmd.OP);
    switch (op) {
      case IommuTestCmd.IOMMU_TEST_OP_ADD_RESERVED ->
          t.addReserved(
              id, a.u64(IommuTestCmd.ADD_RESERVED_START), a.u64(IommuTestCmd.ADD_RESERVED_LENGTH));
      case IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN, IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS -> {
        int devFlags =
            op == IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN
                ? 0
                : a.u32(IommuTestCmd.MOCK_DOMAIN_FLAGS_DEV_FLAGS);
        t.mockDomain(
            id,
            devFlags,
            ids -> {
              a.putU32(IommuTestCmd.MOCK_DOMAIN_OUT_STDEV_ID, ids.stdevId());
              a.putU32(IommuTestCmd.MOCK_DOMAIN_OUT_HWPT_ID, ids.hwptId());
              a.putU32(IommuTestCmd.MOCK_DOMAIN_OUT_IDEV_ID, ids.idevId());
              return a.respond();
            });
      }
      case IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE -> {
        int ptId = t.mockDomainReplace(id, a.u32(IommuTestCmd.MOCK_DOMAIN_REPLACE_PT_ID));
        a.putU32(IommuTestCmd.MOCK_DOMAIN_REPLACE_PT_ID, ptId);
        return a.respond() ? 0 : -Errno.EFAULT.number();
      }
      case IommuTestCmd.IOMMU_TEST_OP_DIRTY -> {
        return HwptIoctls.testDirty(t, caller, a, id);
      }
      case IommuTestCmd.IOMMU_TEST_OP_MD_CHECK_IOTLB -> HwptIoctls.testCheckIotlb(t, a, id);
      case IommuTestCmd.IOMMU_TEST_OP_TRIGGER_IOPF -> HwptIoctls.testTriggerIopf(t, a);
      case IommuTestCmd.IOMMU_TEST_OP_MD_CHECK_MAP ->
          t.checkMap(
              caller,
              id,
              a.u64(IommuTestCmd.CHECK_MAP_IOVA),
              a.u64(IommuTestCmd.CHECK_MAP_LENGTH),
              a.u64(IommuTestCmd.CHECK_MAP_UPTR));
      case IommuTestCmd.IOMMU_TEST_OP_MD_CHECK_REFS ->
          t.checkRefs(
              caller,
              a.u64(IommuTestCmd.CHECK_REFS_LENGTH),
              a.u64(IommuTestCmd.CHECK_REFS_UPTR),
              a.u32(IommuTestCmd.CHECK_REFS_REFS));
      case IommuTestCmd.IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT ->
          t.setTempMemoryLimit(a.u32(IommuTestCmd.MEMORY_LIMIT_LIMIT));
      case IommuTestCmd.IOMMU_TEST_OP_CREATE_ACCESS,
          IommuTestCmd.IOMMU_TEST_OP_DESTROY_ACCESS_PAGES,
          IommuTestCmd.IOMMU_TEST_OP_ACCESS_PAGES,
          IommuTestCmd.IOMMU_TEST_OP_ACCESS_RW,
          IommuTestCmd.IOMMU_TEST_OP_ACCESS_REPLACE_IOAS -> {
        return accessTestCmd(t.accesses(), caller, op, id, a);
      }
      default -> throw ErrnoException.of(Errno.EOPNOTSUPP, "test op " + op);
    }
    return 0;
  }

  /**
   * The access ops of IOMMU_TEST_CMD (selftest.c: iommufd_test_create_access(), ...,
   * iommufd_test_access_replace_ioas()); {@code id} is an fd.
   */
  private static int accessTestCmd(AccessTestCommands t, Caller caller, int op, int id, Arg a) {
    switch (op) {
      case IommuTestCmd.IOMMU_TEST_OP_CREATE_ACCESS ->
          t.createAccess(
              id,
              a.u32(IommuTestCmd.CREATE_ACCESS_FLAGS),
              fd -> {
                a.putU32(IommuTestCmd.CREATE_ACCESS_OUT_ACCESS_FD, fd);
                return a.respond();
              });
      case IommuTestCmd.IOMMU_TEST_OP_DESTROY_ACCESS_PAGES ->
          t.destroyAccessPages(id, a.u32(IommuTestCmd.DESTROY_ACCESS_PAGES_ACCESS_PAGES_ID));
      case IommuTestCmd.IOMMU_TEST_OP_ACCESS_PAGES ->
          t.accessPages(
              caller,
              id,
              a.u32(IommuTestCmd.ACCESS_PAGES_FLAGS),
              a.u64(IommuTestCmd.ACCESS_PAGES_IOVA),
              a.u64(IommuTestCmd.ACCESS_PAGES_LENGTH),
              a.u64(IommuTestCmd.ACCESS_PAGES_UPTR),
              itemId -> {
                a.putU32(IommuTestCmd.ACCESS_PAGES_OUT_ACCESS_PAGES_ID, itemId);
                return a.respond();
              });
      case IommuTestCmd.IOMMU_TEST_OP_ACCESS_RW ->
          t.accessRw(
              caller,
              id,
              a.u64(IommuTestCmd.ACCESS_RW_IOVA),
              a.u64(IommuTestCmd.ACCESS_RW_LENGTH),
              a.u64(IommuTestCmd.ACCESS_RW_UPTR),
              a.u32(IommuTestCmd.ACCESS_RW_FLAGS));
      case IommuTestCmd.IOMMU_TEST_OP_ACCESS_REPLACE_IOAS ->
          t.replaceIoas(id, a.u32(IommuTestCmd.ACCESS_REPLACE_IOAS_IOAS_ID));
      default -> throw new IllegalArgumentException("not an access op: " + op);
    }
    return 0;
  }

  /**
   * The argument of one call: where it lives, and its kernel copy. One per thread, reused by each
   * call on it (a call never starts another on its thread).
   */
  static final class Arg {
    final ArgStruct struct;
    final Scratch scratch;
    final MemorySegment kbuf;
    UserMemory memory;
    long address;

    /** Bytes of the kernel struct that the respond writes back: min(size, ksize). */
    int respondLength;

    Arg(ArgStruct struct, Scratch scratch) {
      this.struct = struct;
      this.scratch = scratch;
      this.kbuf = scratch.kbuf;
    }

    /** Starts a call whose argument is at {@code address}, {@code direct} covering its start. */
    Arg begin(UserMemory memory, long address, MemorySegment direct) {
      this.memory = memory;
      this.address = address;
      this.respondLength = 0;
      struct.begin(memory, address, direct);
      return this;
    }

    /** Ends the call: nothing of the caller's stays reachable from this thread's scratch. */
    void end() {
      memory = null;
      struct.end();
    }

    /** The u32 size word, or EFAULT (main.c: iommufd_fops_ioctl()). */
    int readSize() {
      if (!struct.read(0, scratch.word, 0, Integer.BYTES)) {
        throw ErrnoException.of(
            Errno.EFAULT, "argument at 0x" + Long.toHexString(address) + " unreadable");
      }
      return scratch.word.get(U32, 0);
    }

    /**
     * Zero tail check, then copy min(size, ksize) bytes into the kernel buffer (main.c:
     * iommufd_fops_ioctl()).
     */
    void copyIn(int size, int ksize) {
      long usize = Integer.toUnsignedLong(size);
      if (usize > ksize) {
        checkZeroTail(ksize, usize);
      }
      int n = (int) Math.min(usize, ksize);
      kbuf.fill((byte) 0);
      if (!struct.read(0, kbuf, 0, n)) {
        throw ErrnoException.of(Errno.EFAULT, "argument struct unreadable");
      }
      respondLength = n;
    }

    private void checkZeroTail(long from, long to) {
      long pos = from;
      while (pos != to) {
        // Chunks end at page boundaries, so a fault belongs to exactly one chunk, as in the
        // kernel's word-by-word check: a non-zero byte before an unmapped page is E2BIG.
        long chunk = Math.min(TAIL_CHUNK - ((address + pos) & (TAIL_CHUNK - 1)), to - pos);
        if (!struct.read(pos, scratch.tail, 0, chunk)) {
          throw ErrnoException.of(
              Errno.EFAULT, "struct tail unreadable at 0x" + Long.toHexString(address + pos));
        }
        if (MemorySegment.mismatch(scratch.tail, 0, chunk, ZEROS, 0, chunk) >= 0) {
          throw ErrnoException.of(Errno.E2BIG, "non-zero struct tail");
        }
        pos += chunk;
      }
    }

    int u32(long offset) {
      return kbuf.get(U32, offset);
    }

    int u16(long offset) {
      return Short.toUnsignedInt(kbuf.get(U16, offset));
    }

    long u64(long offset) {
      return kbuf.get(U64, offset);
    }

    void putU32(long offset, int value) {
      kbuf.set(U32, offset, value);
    }

    void putU64(long offset, long value) {
      kbuf.set(U64, offset, value);
    }

    /**
     * The whole kernel struct, truncated to the caller's size (iommufd_private.h:
     * iommufd_ucmd_respond()).
     */
    boolean respond() {
      return respondRange(0, respondLength);
    }

    boolean respondRange(long offset, int length) {
      return struct.write(offset, kbuf, offset, length);
    }
  }
}
