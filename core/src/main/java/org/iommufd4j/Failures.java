package org.iommufd4j;

/** A system call's {@code -errno} as the typed API's exception. */
final class Failures {
  private Failures() {}

  /** The constant for {@code number}, or EIO for one {@link Errno} does not know. */
  static Errno errnoOrEio(int number) {
    try {
      return Errno.of(number);
    } catch (IllegalArgumentException e) {
      return Errno.EIO;
    }
  }

  /**
   * Returns {@code result} if it is no error; else throws the exception for {@code -result}, its
   * message naming the call.
   */
  static long check(long result, String call) {
    if (result >= 0) {
      return result;
    }
    int number = (int) -result;
    Errno errno = errnoOrEio(number);
    throw new IommufdException(
        errno, errno.number() == number ? call : call + " (errno " + number + ", reported as EIO)");
  }
}
