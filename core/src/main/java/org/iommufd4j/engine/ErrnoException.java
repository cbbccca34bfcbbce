package org.iommufd4j.engine;

import org.iommufd4j.Errno;
import org.iommufd4j.IommufdException;

/**
 * An engine failure: an ordinary outcome, so it is built without a stack trace. The byte ABI turns
 * it into {@code -errno}; the typed API rethrows it as an {@link IommufdException} with the
 * caller's stack.
 */
public final class ErrnoException extends IommufdException {
  private static final long serialVersionUID = 1L;

  private ErrnoException(Errno errno, String message) {
    super(errno, message, false);
  }

  /** The exception to throw: {@code throw ErrnoException.of(Errno.EINVAL, "length=0")}. */
  public static ErrnoException of(Errno errno, String message) {
    return new ErrnoException(errno, message);
  }
}
