package org.iommufd4j.junit;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.iommufd4j.Configuration;
import org.iommufd4j.DomainModel;

/**
 * How {@link IommufdExtension} sets up the emulated {@code Iommufd} it injects. Put it on the test
 * class, a test method, or the injected parameter or field; the nearest one wins (parameter or
 * field, then method, then class). Parameters and fields with different configurations in one test
 * get different contexts.
 */
@Documented
@Inherited
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD, ElementType.PARAMETER, ElementType.FIELD})
public @interface IommufdConfig {
  /** RLIMIT_MEMLOCK in bytes, or {@link Configuration#UNLIMITED} (-1). Default 8 MiB. */
  long memlockLimit() default Configuration.DEFAULT_MEMLOCK_LIMIT;

  /** Whether {@code IOMMU_TEST_CMD} exists (a kernel with {@code IOMMUFD_TEST}). */
  boolean testAbi() default true;

  /** Whether the caller holds CAP_IPC_LOCK (nothing is charged against the limit). */
  boolean capIpcLock() default false;

  /** Whether the caller holds CAP_SYS_RESOURCE (needed to change the RLIMIT mode). */
  boolean capSysResource() default true;

  /** Whether the context was opened as {@code /dev/vfio/vfio}. */
  boolean vfioContainer() default false;

  /** The IOMMU behind injected {@code EmulatedDevice}s (and an injected {@code DomainModel}). */
  Model domainModel() default Model.VTD;

  /** Whether to run the engine's invariant checker after the test. */
  boolean checkInvariants() default true;

  /**
   * Whether to fail the test when closing the context left anything behind: objects (an access or
   * fault fd still open keeps the context alive), pinned pages, or memory-lock charges.
   */
  boolean checkLeaks() default true;

  /**
   * Whether the test may end with objects it created still alive, devices attached or pages pinned
   * (closing the context would clean them up, as the kernel does at close). By default that fails
   * the test, with the state in the message.
   */
  boolean allowLeftovers() default false;

  /** The emulated IOMMU hardware models. */
  enum Model {
    /** {@link DomainModel#vtd()}: 48-bit aperture, 4K/2M/1G pages, the x86 MSI window reserved. */
    VTD,
    /** {@link DomainModel#selftestMock()}: the kernel selftests' mock IOMMU. */
    SELFTEST_MOCK;

    DomainModel domainModel() {
      return this == VTD ? DomainModel.vtd() : DomainModel.selftestMock();
    }
  }
}
