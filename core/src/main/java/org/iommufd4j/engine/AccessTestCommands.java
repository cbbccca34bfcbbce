package org.iommufd4j.engine;

import static org.iommufd4j.Errno.EBADE;
import static org.iommufd4j.Errno.EBADFD;
import static org.iommufd4j.Errno.EFAULT;
import static org.iommufd4j.Errno.ENOENT;
import static org.iommufd4j.Errno.ENOMEM;
import static org.iommufd4j.Errno.EOPNOTSUPP;
import static org.iommufd4j.engine.Unsigned.gt;
import static org.iommufd4j.engine.Unsigned.hex;
import static org.iommufd4j.uapi.IommuTestCmd.MOCK_ACCESS_RW_SLOW_PATH;
import static org.iommufd4j.uapi.IommuTestCmd.MOCK_ACCESS_RW_WRITE;
import static org.iommufd4j.uapi.IommuTestCmd.MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES;
import static org.iommufd4j.uapi.IommuTestCmd.MOCK_FLAGS_ACCESS_SYZ;
import static org.iommufd4j.uapi.IommuTestCmd.MOCK_FLAGS_ACCESS_WRITE;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.function.IntPredicate;

/**
 * The access ops of {@code IOMMU_TEST_CMD} (selftest.c: iommufd_test_create_access(), ...,
 * iommufd_test_access_replace_ioas()), each with its checks in the kernel's order. The {@code id}
 * of ops 6, 7, 8 and 11 is an access fd: anything else, or a closed one, is EBADFD.
 */
public final class AccessTestCommands {
  /** ACCESS_PAGES and ACCESS_RW refuse more (the selftest's guard against huge allocations). */
  static final long MAX_LENGTH = 16L << 20;

  private static final long PAGE_SIZE = PageSource.PAGE_SIZE;

  private final Context ctx;

  AccessTestCommands(Context ctx) {
    this.ctx = ctx;
  }

  /**
   * CREATE_ACCESS (selftest.c: iommufd_test_create_access()): an access on IOAS {@code ioasId} and
   * its fd. {@code respond} writes the fd to the caller and returns false if that faulted (EFAULT,
   * everything undone).
   */
  public int createAccess(int ioasId, int flags, IntPredicate respond) {
    if ((flags & ~MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES) != 0) {
      throw ErrnoException.of(EOPNOTSUPP, "flags=" + hex(flags));
    }
    int fd;
    try {
      fd = ctx.files.reserve();
    } catch (RuntimeException e) {
      throw ErrnoException.of(ENOMEM, "no descriptor for the access fd");
    }
    SelftestAccessFile file = new SelftestAccessFile();
    Access access = null;
    try {
      access =
          Access.create(ctx, (flags & MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES) != 0, file::unmap);
      file.access = access;
      access.attach(ioasId);
      if (!respond.test(fd)) {
        throw ErrnoException.of(EFAULT, "cannot write out_access_fd");
      }
    } catch (RuntimeException e) {
      if (access != null) {
        access.close();
      }
      ctx.files.unreserve(fd);
      throw e;
    }
    ctx.files.install(fd, file);
    return fd;
  }

  /** The access file {@code fd} names; EBADFD for anything else. */
  private SelftestAccessFile lookup(int fd) {
    EmulatedFile f = ctx.files.get(fd);
    if (!(f instanceof SelftestAccessFile file) || file.isReleased()) {
      throw ErrnoException.of(EBADFD, "fd " + fd + " is not an access fd");
    }
    return file;
  }

  /**
   * DESTROY_ACCESS_PAGES (selftest.c: iommufd_test_access_item_destroy()): unpins and forgets item
   * {@code itemId}.
   */
  public void destroyAccessPages(int accessFd, int itemId) {
    SelftestAccessFile file = lookup(accessFd);
    file.lock.lock();
    try {
      SelftestAccessFile.Item item = file.removeItem(itemId);
      if (item == null) {
        throw ErrnoException.of(ENOENT, "no access item " + Integer.toUnsignedString(itemId));
      }
      file.access.unpin(item.iova(), item.length());
    } finally {
      file.lock.unlock();
    }
  }

  /**
   * ACCESS_PAGES (selftest.c: iommufd_test_access_pages()): pins a range, optionally checks it is
   * the caller's memory at {@code uptr} (EBADE otherwise), records it as a new item. {@code
   * respond} writes the item id and returns false if that faulted (EFAULT; the item is gone again
   * but its id stays used).
   */
  public int accessPages(
      Caller caller,
      int accessFd,
      int flags,
      long iova,
      long length,
      long uptr,
      IntPredicate respond) {
    if (gt(length, MAX_LENGTH)) {
      throw ErrnoException.of(ENOMEM, "length=" + hex(length));
    }
    if ((flags & ~(MOCK_FLAGS_ACCESS_WRITE | MOCK_FLAGS_ACCESS_SYZ)) != 0) {
      throw ErrnoException.of(EOPNOTSUPP, "flags=" + hex(flags));
    }
    SelftestAccessFile file = lookup(accessFd);
    Access access = file.access;
    if (!access.needsPinPages()) {
      throw ErrnoException.of(EOPNOTSUPP, "access fd " + accessFd + " does not pin pages");
    }
    if ((flags & MOCK_FLAGS_ACCESS_SYZ) != 0) {
      iova = access.syzIova(iova);
    }
    file.lock.lock();
    try {
      long[] frames = access.pin(iova, length, (flags & MOCK_FLAGS_ACCESS_WRITE) != 0);
      boolean keep = false;
      try {
        if (uptr != 0) {
          checkPages(caller, uptr - (iova & (PAGE_SIZE - 1)), frames);
        }
        SelftestAccessFile.Item item = new SelftestAccessFile.Item(file.nextItemId(), iova, length);
        file.addItem(item);
        if (!respond.test(item.id())) {
          file.removeItem(item.id());
          throw ErrnoException.of(EFAULT, "cannot write out_access_pages_id");
        }
        keep = true;
        return item.id();
      } finally {
        if (!keep) {
          access.unpin(iova, length);
        }
      }
    } finally {
      file.lock.unlock();
    }
  }

  /**
   * Pinned page k is the caller's page at {@code uptr + k * 4096} (selftest.c:
   * iommufd_test_access_pages()).
   */
  private void checkPages(Caller caller, long uptr, long[] frames) {
    for (int k = 0; k < frames.length; k++) {
      long page = (uptr + k * PAGE_SIZE) & -PAGE_SIZE;
      if (!caller.memory().isPinnable(page, PAGE_SIZE, false)) {
        throw ErrnoException.of(EFAULT, "cannot resolve user page at " + hex(page));
      }
      if (ctx.host.physicalAddress(caller.memory(), page) != frames[k]) {
        throw ErrnoException.of(EBADE, "pinned page " + k + " is not the page at " + hex(page));
      }
    }
  }

  /**
   * ACCESS_RW (selftest.c: iommufd_test_access_rw()): reads or writes {@code length} bytes between
   * {@code uptr} and the IOAS.
   */
  public void accessRw(Caller caller, int accessFd, long iova, long length, long uptr, int flags) {
    if (gt(length, MAX_LENGTH)) {
      throw ErrnoException.of(ENOMEM, "length=" + hex(length));
    }
    if ((flags & ~(MOCK_ACCESS_RW_WRITE | MOCK_ACCESS_RW_SLOW_PATH | MOCK_FLAGS_ACCESS_SYZ)) != 0) {
      throw ErrnoException.of(EOPNOTSUPP, "flags=" + hex(flags));
    }
    SelftestAccessFile file = lookup(accessFd);
    boolean write = (flags & MOCK_ACCESS_RW_WRITE) != 0;
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment buffer = arena.allocate(Math.max(length, 1), 8).asSlice(0, length);
      if (write && !caller.memory().read(uptr, buffer)) {
        throw ErrnoException.of(EFAULT, "cannot read " + hex(length) + " bytes at " + hex(uptr));
      }
      if ((flags & MOCK_FLAGS_ACCESS_SYZ) != 0) {
        iova = file.access.syzIova(iova);
      }
      file.access.rw(iova, buffer, write, (flags & MOCK_ACCESS_RW_SLOW_PATH) != 0);
      if (!write && !caller.memory().write(uptr, buffer)) {
        throw ErrnoException.of(EFAULT, "cannot write " + hex(length) + " bytes at " + hex(uptr));
      }
    }
  }

  /**
   * ACCESS_REPLACE_IOAS (selftest.c: iommufd_test_access_replace_ioas()): the access moves; its
   * items are dropped by the callback.
   */
  public void replaceIoas(int accessFd, int ioasId) {
    lookup(accessFd).access.replace(ioasId);
  }
}
