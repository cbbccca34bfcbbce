package org.iommufd4j;

/**
 * The Linux (x86-64) errno values that iommufd and this emulator report. One vocabulary for the
 * engine, the byte ABI, the typed API, the bridge and the kernel backend; {@link #number()} is the
 * value a system call would leave in {@code errno}.
 */
public enum Errno {
  EPERM(1),
  ENOENT(2),
  ESRCH(3),
  EINTR(4),
  EIO(5),
  ENXIO(6),
  E2BIG(7),
  EBADF(9),
  EAGAIN(11),
  ENOMEM(12),
  EACCES(13),
  EFAULT(14),
  EBUSY(16),
  EEXIST(17),
  ENODEV(19),
  EINVAL(22),
  ENOTTY(25),
  ENOSPC(28),
  ESPIPE(29),
  ERANGE(34),
  EDEADLK(35),
  ENOSYS(38),
  EBADE(52),
  EOVERFLOW(75),
  EBADFD(77),
  EMSGSIZE(90),
  EOPNOTSUPP(95),
  EADDRINUSE(98);

  private static final Errno[] BY_NUMBER = new Errno[128];

  static {
    for (Errno e : values()) {
      BY_NUMBER[e.number] = e;
    }
  }

  private final int number;

  Errno(int number) {
    this.number = number;
  }

  /** The positive errno number, e.g. 17 for {@link #EEXIST}. */
  public int number() {
    return number;
  }

  /**
   * The constant for a positive errno number.
   *
   * @throws IllegalArgumentException if the number is not one this enum knows
   */
  public static Errno of(int number) {
    Errno e = number > 0 && number < BY_NUMBER.length ? BY_NUMBER[number] : null;
    if (e == null) {
      throw new IllegalArgumentException("unknown errno " + number);
    }
    return e;
  }
}
