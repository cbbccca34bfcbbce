package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;

/** Assertions on ioctl results and {@link IommufdException}s that name the errno on failure. */
final class ErrnoAssertions {
  private ErrnoAssertions() {}

  /** "0" or "-ENAME" for an ioctl result, so that failures read like strace. */
  static String describe(int rc) {
    if (rc >= 0) {
      return Integer.toString(rc);
    }
    try {
      return "-" + Errno.of(-rc).name();
    } catch (IllegalArgumentException e) {
      return Integer.toString(rc);
    }
  }

  /** The ioctl returned {@code -expected}. */
  static void assertErrno(int rc, Errno expected) {
    assertThat(describe(rc)).as("ioctl result").isEqualTo("-" + expected.name());
  }

  /** The ioctl returned 0. */
  static void assertOk(int rc) {
    assertThat(describe(rc)).as("ioctl result").isEqualTo("0");
  }

  /** The call throws an {@link IommufdException} with {@code expected}. */
  static void assertFails(Errno expected, ThrowingCallable call) {
    assertThatThrownBy(call)
        .isInstanceOf(IommufdException.class)
        .extracting(e -> ((IommufdException) e).errno())
        .as("errno")
        .isEqualTo(expected);
  }
}
