package org.iommufd4j.bench;

/** JVM flags every fork gets: FFM without warnings, and JMH's Unsafe use on JDK 25. */
final class BenchConfig {
  static final String NATIVE_ACCESS = "--enable-native-access=ALL-UNNAMED";
  static final String UNSAFE = "--sun-misc-unsafe-memory-access=allow";

  /**
   * A buffer address for mappings: nothing reads it while no domain is attached (ioas.c:
   * iommufd_ioas_map()).
   */
  static final long USER_VA = 0x7f00_0000_0000L;

  private BenchConfig() {}
}
