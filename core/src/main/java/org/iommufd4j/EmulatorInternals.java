package org.iommufd4j;

import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.iommufd4j.engine.ContextSnapshot;

/**
 * A read-only window into an emulated {@link Iommufd} for test tools (the JUnit extension, an
 * {@code inspect} command): its state as values, a printable table, and the engine's invariant
 * check. <b>Internal:</b> the snapshot types live in the engine package and carry no
 * compatibility promise.
 */
public final class EmulatorInternals {
  private EmulatorInternals() {}

  /** Whether {@code iommufd} is an embedded emulator (the methods below need one). */
  public static boolean isEmulated(Iommufd iommufd) {
    return Objects.requireNonNull(iommufd, "iommufd") instanceof EmulatedIommufd;
  }

  /**
   * The emulated context's objects, IOVA spaces, the host's pins and the caller's memory-lock
   * charges; empty for other backends. Works after {@link Iommufd#close()} too.
   */
  public static Optional<ContextSnapshot> snapshot(Iommufd iommufd) {
    if (!(Objects.requireNonNull(iommufd, "iommufd") instanceof EmulatedIommufd e)) {
      return Optional.empty();
    }
    return Optional.of(e.context().snapshot(e.caller()));
  }

  /** {@link ContextSnapshot#toTable()} of the context, or one line saying there is none. */
  public static String describe(Iommufd iommufd) {
    return snapshot(iommufd).map(ContextSnapshot::toTable)
        .orElse(iommufd + ": no emulator state to show\n");
  }

  /**
   * Every broken engine invariant across the context's IOASes; empty when all hold.
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
