package org.iommufd4j;

import java.util.List;
import java.util.Objects;
import org.iommufd4j.engine.Context;

/**
 * A read-only window into an emulated {@link Iommufd} for test tools (the JUnit extension, an
 * {@code inspect} command): the state dump of {@link Context#describe()}, the engine's invariant
 * check, and what a leak check counts. <b>Internal:</b> no compatibility promise. Every method
 * works after {@link Iommufd#close()} too and throws {@link IllegalArgumentException} for an
 * {@code Iommufd} that is not emulated.
 */
public final class EmulatorInternals {
  private EmulatorInternals() {}

  /** Whether {@code iommufd} is an embedded emulator (the methods below need one). */
  public static boolean isEmulated(Iommufd iommufd) {
    return Objects.requireNonNull(iommufd, "iommufd") instanceof EmulatedIommufd;
  }

  private static EmulatedIommufd emulated(Iommufd iommufd) {
    if (!(Objects.requireNonNull(iommufd, "iommufd") instanceof EmulatedIommufd e)) {
      throw new IllegalArgumentException("not an emulated Iommufd: " + iommufd);
    }
    return e;
  }

  /**
   * The whole state as text (objects, each IOAS's alignment, allowed and reserved ranges with
   * owners, areas with their page sources and protection, HWPTs, the host's pins and charges):
   * {@link Context#describe()}. For another backend, one line saying there is no such state.
   */
  public static String describe(Iommufd iommufd) {
    return isEmulated(iommufd) ? emulated(iommufd).context().describe()
        : iommufd + ": no emulator state to show\n";
  }

  /** Every broken engine invariant across the context; empty when all hold. */
  public static List<String> checkInvariants(Iommufd iommufd) {
    return emulated(iommufd).checkInvariants();
  }

  /** Objects in the context's table (0 once it is torn down). */
  public static int objectCount(Iommufd iommufd) {
    return emulated(iommufd).context().objectCount();
  }

  /**
   * Whether the context is gone: closed, and no access or fault fd holds it any more (spec
   * §2.8).
   */
  public static boolean isTornDown(Iommufd iommufd) {
    return emulated(iommufd).context().isTornDown();
  }

  /** Pins of every frame on the context's emulated machine (shared unless {@code privateHost}). */
  public static long pinnedPages(Iommufd iommufd) {
    return emulated(iommufd).context().host().totalPins();
  }

  /** Pages charged to any memory-lock account of the context's emulated machine. */
  public static long chargedPages(Iommufd iommufd) {
    return emulated(iommufd).context().host().totalCharged();
  }
}
