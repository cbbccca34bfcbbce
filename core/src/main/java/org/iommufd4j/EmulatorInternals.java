package org.iommufd4j;

import java.util.List;
import java.util.Objects;

/**
 * What test tools (the JUnit extension) need from an emulated {@link Iommufd} beyond the public
 * API: the engine's invariant checker. The state itself is public: {@link Iommufd#inspect()}.
 * <b>Internal:</b> no compatibility promise.
 */
public final class EmulatorInternals {
  private EmulatorInternals() {}

  /** Whether {@code iommufd} is an embedded emulator. */
  public static boolean isEmulated(Iommufd iommufd) {
    return Objects.requireNonNull(iommufd, "iommufd") instanceof EmulatedIommufd;
  }

  /**
   * Every broken engine invariant across the context; empty when all hold. Works after {@link
   * Iommufd#close()} too.
   *
   * @throws IllegalArgumentException if {@code iommufd} is not emulated
   */
  public static List<String> checkInvariants(Iommufd iommufd) {
    if (!(Objects.requireNonNull(iommufd, "iommufd") instanceof EmulatedIommufd e)) {
      throw new IllegalArgumentException("not an emulated Iommufd: " + iommufd);
    }
    return e.checkInvariants();
  }
}
