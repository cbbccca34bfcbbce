package org.iommufd4j.vfio;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.iommufd4j.Errno;
import org.iommufd4j.engine.Caller;
import org.iommufd4j.engine.ErrnoException;

/** Copies of ioctl arguments in and out of caller memory, failing as the kernel's copies do. */
final class UserArg {
  static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;

  private static final int PAGE_SIZE = 4096;

  private UserArg() {}

  /** copy_from_user() of {@code length} bytes at {@code address}: EFAULT if unreadable. */
  static MemorySegment copyIn(Caller caller, long address, long length) {
    MemorySegment copy = MemorySegment.ofArray(new byte[Math.toIntExact(length)]);
    if (!caller.memory().read(address, copy)) {
      throw ErrnoException.of(Errno.EFAULT, length + " bytes at 0x" + Long.toHexString(address));
    }
    return copy;
  }

  /** copy_to_user(): EFAULT if unwritable. */
  static void copyOut(Caller caller, long address, MemorySegment data) {
    if (!caller.memory().write(address, data)) {
      throw ErrnoException.of(
          Errno.EFAULT, data.byteSize() + " bytes at 0x" + Long.toHexString(address));
    }
  }

  /**
   * strndup_user(address, PAGE_SIZE): the NUL-terminated string at {@code address}; EFAULT if
   * unreadable before its NUL, EINVAL if it has no NUL within a page.
   */
  static String string(Caller caller, long address) {
    byte[] bytes = new byte[PAGE_SIZE];
    int length = 0;
    while (length < PAGE_SIZE) {
      long at = address + length;
      int chunk = (int) Math.min(PAGE_SIZE - length, PAGE_SIZE - (at & (PAGE_SIZE - 1)));
      MemorySegment piece = MemorySegment.ofArray(bytes).asSlice(length, chunk);
      if (!caller.memory().read(at, piece)) {
        throw ErrnoException.of(Errno.EFAULT, "string at 0x" + Long.toHexString(address));
      }
      for (int i = length; i < length + chunk; i++) {
        if (bytes[i] == 0) {
          return new String(bytes, 0, i, java.nio.charset.StandardCharsets.ISO_8859_1);
        }
      }
      length += chunk;
    }
    throw ErrnoException.of(Errno.EINVAL, "no NUL within a page");
  }
}
