/**
 * The JUnit 5 extension for tests of iommufd users: it builds on the core's exports only (the typed
 * API and the snapshots), which this module being named makes the compiler check.
 */
module org.iommufd4j.junit {
  requires transitive org.iommufd4j;
  requires transitive org.junit.jupiter.api;
  requires org.junit.platform.commons;

  exports org.iommufd4j.junit;
}
