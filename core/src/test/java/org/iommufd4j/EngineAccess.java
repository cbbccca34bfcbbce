package org.iommufd4j;

import java.util.List;
import org.iommufd4j.engine.Context;

/** Test-only access to the package-private parts of {@link EmulatedIommufd}. */
public final class EngineAccess {
  private EngineAccess() {}

  /** The engine context behind an emulated {@link Iommufd}. */
  public static Context context(Iommufd iommufd) {
    return ((EmulatedIommufd) iommufd).context();
  }

  /** The engine's invariant violations (the kernel's WARN_ONs); empty when all hold. */
  public static List<String> checkInvariants(Iommufd iommufd) {
    return ((EmulatedIommufd) iommufd).checkInvariants();
  }
}
