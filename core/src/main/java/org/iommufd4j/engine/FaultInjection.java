package org.iommufd4j.engine;

import org.iommufd4j.Errno;

/**
 * Fault injection at every allocation, lookup, pin and accounting point of the engine, as the
 * kernel's {@code fail-nth} (selftest.c: iommufd_should_fail()): a thread arms a countdown, every
 * point that thread evaluates counts down, and the n-th fails with the errno the kernel reports
 * there. A failed operation must leave the state exactly as before; the fault sweep checks it.
 *
 * <p>Costs one volatile read per point while no thread has ever armed it.
 */
public final class FaultInjection {
  /** The points, with the errno the kernel reports when its counterpart fails. */
  public enum Site {
    /** Looking an object up by id. */
    LOOKUP(Errno.ENOENT),
    /** Allocating an object, an area or a batch. */
    ALLOC(Errno.ENOMEM),
    /** Pinning user pages. */
    PIN(Errno.EFAULT),
    /** Charging newly pinned pages to RLIMIT_MEMLOCK. */
    CHARGE(Errno.ENOMEM),
    /** Mapping into a (mock) domain. */
    DOMAIN_MAP(Errno.ENOENT),
    /** Storing pinned frames for an access. */
    ACCESS_STORE(Errno.EINVAL),
    /** An access's single-page read or write. */
    ACCESS_RW(Errno.EINVAL),
    /** Applying a device's reserved regions on attach. */
    RESERVED_REGIONS(Errno.EINVAL);

    final Errno errno;

    Site(Errno errno) {
      this.errno = errno;
    }

    public Errno errno() {
      return errno;
    }
  }

  private static volatile boolean everArmed;

  /** Per thread: {remaining countdown, fired (1) or not (0)}. */
  private static final ThreadLocal<int[]> STATE = ThreadLocal.withInitial(() -> new int[2]);

  private FaultInjection() {}

  /** Arms this thread: the {@code n}-th point it evaluates from now fails; 0 disarms. */
  public static void arm(int n) {
    if (n < 0) {
      throw new IllegalArgumentException("n=" + n);
    }
    everArmed = true;
    int[] s = STATE.get();
    s[0] = n;
    s[1] = 0;
  }

  /** Points left before the armed failure (0 once it fired or when disarmed). */
  public static int remaining() {
    return everArmed ? STATE.get()[0] : 0;
  }

  /** Whether the armed failure fired since {@link #arm}. */
  public static boolean fired() {
    return everArmed && STATE.get()[1] != 0;
  }

  /** Evaluates a point: throws the site's errno if this is the armed n-th evaluation. */
  static void check(Site site) {
    if (!everArmed) {
      return;
    }
    int[] s = STATE.get();
    if (s[0] > 0 && --s[0] == 0) {
      s[1] = 1;
      throw ErrnoException.of(site.errno, "fault injected at " + site);
    }
  }
}
