package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleDescriptor.Exports;
import org.junit.jupiter.api.Test;

/** What a program that puts the core on its module path can reach. */
class ModuleBoundaryTest {
  private static final ModuleDescriptor CORE = Iommufd.class.getModule().getDescriptor();

  @Test
  void theCoreIsTheNamedModuleOrgIommufd4j() {
    assertThat(CORE).as("tests run on the module path").isNotNull();
    assertThat(CORE.name()).isEqualTo("org.iommufd4j");
  }

  @Test
  void onlyTheApiTheByteAbiTheSnapshotsAndTheDeviceSpiAreExported() {
    assertThat(CORE.exports())
        .allMatch(e -> !e.isQualified())
        .extracting(Exports::source)
        .containsExactlyInAnyOrder(
            "org.iommufd4j",
            "org.iommufd4j.uapi",
            "org.iommufd4j.inspect",
            "org.iommufd4j.pci",
            "org.iommufd4j.pci.edu",
            "org.iommufd4j.pci.nvme",
            "org.iommufd4j.pci.virtio");
  }

  @Test
  void theEngineIsNotReachableFromOtherModules() {
    Module core = Iommufd.class.getModule();
    Module other = Object.class.getModule();
    assertThat(core.isExported("org.iommufd4j.engine", other)).isFalse();
    assertThat(core.isExported("org.iommufd4j.memory", other)).isFalse();
    assertThat(core.isExported("org.iommufd4j.uapi", other)).isTrue();
  }
}
