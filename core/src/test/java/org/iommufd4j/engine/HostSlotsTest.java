package org.iommufd4j.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.iommufd4j.memory.SimulatedMemory;
import org.iommufd4j.memory.UserMemory;
import org.junit.jupiter.api.Test;

/**
 * A host names the pages of each address space by a slot in the top 8 bits of their emulated
 * physical addresses. A long-running server sees far more than 255 processes: slots of address
 * spaces with nothing pinned are reused, those with pins never alias.
 */
class HostSlotsTest {
  private static final long VA = 0x7f00_0000_0000L;

  @Test
  void aThousandAddressSpacesOneAfterAnotherNeverAliasAPinnedOne() {
    Host host = new Host();
    UserMemory pinned = SimulatedMemory.create();
    host.pinFrames(pinned, VA, 4, 1);
    long pinnedPa = host.physicalAddress(pinned, VA);
    for (int i = 0; i < 1_000; i++) {
      UserMemory m = SimulatedMemory.create();
      long pa = host.physicalAddress(m, VA);
      assertThat(pa).as("address space %d", i).isNotEqualTo(pinnedPa);
      assertThat(host.memoryOf(pa)).isSameAs(m);
      assertThat(host.pinCount(m, VA)).isZero();
    }
    assertThat(host.addressSpaces()).isLessThanOrEqualTo(255);
    assertThat(host.physicalAddress(pinned, VA))
        .as("a pinned space keeps its slot")
        .isEqualTo(pinnedPa);
    assertThat(host.pinCount(pinned, VA)).isEqualTo(1);
  }

  @Test
  void whenEveryAddressSpaceHasPinnedPagesANewOneIsEnomem() {
    Host host = new Host();
    List<UserMemory> spaces = new ArrayList<>();
    Set<Long> addresses = new HashSet<>();
    for (int i = 0; i < 255; i++) {
      UserMemory m = SimulatedMemory.create();
      host.pinFrames(m, VA, 1, 1);
      spaces.add(m);
      addresses.add(host.physicalAddress(m, VA));
    }
    assertThat(addresses).as("distinct frames").hasSize(255);
    UserMemory late = SimulatedMemory.create();
    assertThatThrownBy(() -> host.physicalAddress(late, VA))
        .isInstanceOfSatisfying(
            ErrnoException.class, e -> assertThat(e.errno()).isEqualTo(org.iommufd4j.Errno.ENOMEM));
    host.pinFrames(spaces.get(17), VA, 1, -1); // one lets go
    long pa = host.physicalAddress(late, VA);
    assertThat(host.memoryOf(pa)).isSameAs(late);
    assertThat(addresses)
        .as("the others keep theirs")
        .contains(host.physicalAddress(spaces.get(3), VA));
  }
}
