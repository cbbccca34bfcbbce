package org.iommufd4j;

import java.util.Objects;

/**
 * The one exception type of the typed API: an ioctl failed with {@link #errno()}, exactly as the
 * kernel would have failed it. The message names the values involved ({@code iova=0x1000
 * length=0x2000}).
 */
public class IommufdException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final Errno errno;
  private final String detail;

  public IommufdException(Errno errno, String message) {
    this(errno, message, true);
  }

  /**
   * For the engine, where errors are ordinary outcomes (QEMU probes with EINVAL, fuzzing makes
   * millions): {@code stackTrace = false} builds the exception without walking the stack.
   */
  protected IommufdException(Errno errno, String message, boolean stackTrace) {
    super(errno.name() + ": " + message, null, false, stackTrace);
    this.errno = Objects.requireNonNull(errno);
    this.detail = message;
  }

  /** What the system call would have set {@code errno} to. */
  public Errno errno() {
    return errno;
  }

  /** The message without the errno name. */
  public String detail() {
    return detail;
  }
}
