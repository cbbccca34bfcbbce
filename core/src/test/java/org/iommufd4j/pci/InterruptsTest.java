package org.iommufd4j.pci;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The PCI rules between a model's interrupts and what leaves the device. */
class InterruptsTest {
  private final RecordingSink sink = new RecordingSink();

  /** A function with bus mastering on, so that its messages can leave it. */
  private PciFunction function(ConfigSpace config) {
    PciFunction fn =
        PciFunction.create(p -> new FixedDevice(config), new NoDma(), new VirtualClock(), sink);
    fn.config().write(0x04, 2, 0x4);
    return fn;
  }

  @Test
  void aMessageSentWithBusMasteringOffIsLost() {
    PciFunction fn = function(ConfigSpace.builder(1, 2).msi(1, false, false).build());
    fn.config().write(0x42, 2, 0x1);
    fn.config().write(0x04, 2, 0);
    fn.interrupts().msi(0);
    fn.config().write(0x04, 2, 0x4);
    assertThat(sink.take()).isEmpty();
    fn.interrupts().msi(0);
    assertThat(sink.take()).containsExactly("msi 0");
  }

  @Test
  void aNewRouteHearsAnAssertedPinAndTheOldOneNothingMore() {
    PciFunction fn = function(ConfigSpace.builder(1, 2).interruptPin(1).build());
    fn.interrupts().raiseIntx();
    RecordingSink next = new RecordingSink();
    assertThat(fn.interrupts().route(next)).isSameAs(sink);
    fn.interrupts().lowerIntx();
    assertThat(sink.take()).containsExactly("intx+");
    assertThat(next.take()).containsExactly("intx+", "intx-");
  }

  @Test
  void maskingAnMsixVectorHoldsItsMessageUntilUnmasked() {
    ConfigSpace c =
        ConfigSpace.builder(1, 2).bar(Bar.memory32(0, 4096)).msix(4, 0, 0, 0, 0x800).build();
    PciFunction fn = function(c);
    int msix = c.findCapability(0x11);
    c.write(msix + 2, 2, 0x8000);
    fn.interrupts().maskMsixVector(1, false);
    fn.interrupts().msi(1);
    fn.interrupts().maskMsixVector(1, true);
    fn.interrupts().msi(1);
    assertThat(sink.take()).containsExactly("msix 1");
    fn.interrupts().maskMsixVector(1, false);
    assertThat(sink.take()).containsExactly("msix 1");
  }

  @Test
  void intxIsALevelThatOnlyChangesOnEdges() {
    PciFunction fn = function(ConfigSpace.builder(1, 2).interruptPin(1).build());
    fn.interrupts().raiseIntx();
    fn.interrupts().raiseIntx();
    fn.interrupts().lowerIntx();
    assertThat(sink.take()).containsExactly("intx+", "intx-");
  }

  @Test
  void aDeviceWithoutAPinSendsNoIntx() {
    PciFunction fn = function(ConfigSpace.builder(1, 2).build());
    fn.interrupts().raiseIntx();
    assertThat(sink.take()).isEmpty();
    assertThat(fn.config().read(0x06, 2) & 0x08).isZero();
  }

  @Test
  void messagesGoNowhereUntilMsiIsEnabledAndOnlyWithinTheEnabledVectors() {
    PciFunction fn = function(ConfigSpace.builder(1, 2).msi(4, false, false).build());
    fn.interrupts().msi(0);
    assertThat(sink.take()).isEmpty();
    fn.config().write(0x42, 2, 0x1 | 0x10); // enable 2 of 4
    fn.interrupts().msi(1);
    fn.interrupts().msi(2);
    assertThat(sink.take()).containsExactly("msi 1");
  }

  @Test
  void aMaskedMsiVectorIsPendingAndSentWhenUnmasked() {
    PciFunction fn = function(ConfigSpace.builder(1, 2).msi(2, true, true).build());
    fn.config().write(0x42, 2, 0x11);
    fn.config().write(0x50, 4, 0x2); // mask vector 1
    fn.interrupts().msi(1);
    fn.interrupts().msi(0);
    assertThat(sink.take()).containsExactly("msi 0");
    assertThat(fn.config().read(0x54, 4)).as("pending").isEqualTo(0x2);
    fn.config().write(0x54, 4, 0);
    assertThat(fn.config().read(0x54, 4)).as("pending bits are read-only").isEqualTo(0x2);
    fn.config().write(0x50, 4, 0);
    assertThat(sink.take()).containsExactly("msi 1");
    assertThat(fn.config().read(0x54, 4)).isZero();
  }

  @Test
  void msixVectorsStartMaskedAndTheTableLivesInItsBar() {
    ConfigSpace c =
        ConfigSpace.builder(1, 2)
            .bar(Bar.memory32(1, 8192))
            .msix(3, 1, 0x1000, 1, 0x1800)
            .msi(1, true, false)
            .build();
    PciFunction fn = function(c);
    int msix = c.findCapability(0x11);
    c.write(msix + 2, 2, 0x8000);
    assertThat(fn.interrupts().msiEnabled()).isTrue();
    fn.interrupts().msi(2);
    assertThat(sink.take()).isEmpty();
    assertThat(fn.barRead(1, 0x1800, 8)).as("PBA").isEqualTo(0x4);
    assertThat(fn.barRead(1, 0x1000 + 2 * 16 + 12, 4)).isEqualTo(1);
    fn.barWrite(1, 0x1000 + 2 * 16, 8, 0xfee0_0000L);
    fn.barWrite(1, 0x1000 + 2 * 16 + 12, 4, 0);
    assertThat(sink.take()).containsExactly("msix 2");
    assertThat(fn.barRead(1, 0x1800, 8)).isZero();
    assertThat(fn.barRead(1, 0x1000 + 2 * 16, 8)).isEqualTo(0xfee0_0000L);
    c.write(msix + 2, 2, 0xc000); // function mask
    fn.interrupts().msi(2);
    assertThat(sink.take()).isEmpty();
    c.write(msix + 2, 2, 0x8000);
    assertThat(sink.take()).containsExactly("msix 2");
    assertThat(((FixedDevice) fn.model()).writes).as("the model never saw the table").isZero();
  }

  @Test
  void enablingMsiDropsAnAssertedPinAndMoreVectorsThanCapableMeansAll() {
    PciFunction fn =
        function(ConfigSpace.builder(1, 2).interruptPin(1).msi(4, false, false).build());
    fn.interrupts().raiseIntx();
    fn.config().write(0x42, 2, 0x1 | 0x50); // enable, asking for 32 vectors
    assertThat(sink.take()).containsExactly("intx+", "intx-");
    assertThat(fn.interrupts().intxLevel()).isFalse();
    assertThat(fn.config().read(0x42, 2) & 0x70).as("4 vectors").isEqualTo(0x20);
  }

  @Test
  void resetDeassertsIntx() {
    PciFunction fn = function(ConfigSpace.builder(1, 2).interruptPin(2).build());
    fn.interrupts().raiseIntx();
    fn.reset();
    assertThat(sink.take()).containsExactly("intx+", "intx-");
    assertThat(((FixedDevice) fn.model()).resets).isEqualTo(1);
  }
}
