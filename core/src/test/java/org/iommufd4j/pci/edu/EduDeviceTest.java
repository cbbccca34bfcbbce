package org.iommufd4j.pci.edu;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.math.BigInteger;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.iommufd4j.EmulatedDevice;
import org.iommufd4j.Ioas;
import org.iommufd4j.IommuFaultException;
import org.iommufd4j.Iommufd;
import org.iommufd4j.Protection;
import org.iommufd4j.pci.DmaPort;
import org.iommufd4j.pci.ExecutorClock;
import org.iommufd4j.pci.PciFunction;
import org.iommufd4j.pci.RecordingSink;
import org.iommufd4j.pci.VirtualClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** QEMU's edu as a program sees it through BAR0, with DMA through an emulated IOMMU. */
class EduDeviceTest {
  private static final long SEED = Long.getLong("seed", 1234);
  private static final int COMMAND = 0x04;
  private static final int MSI_FLAGS = 0x42;

  private EduRig rig;
  private Arena arena;
  private Iommufd iommufd;
  private Ioas ioas;
  private EmulatedDevice iommuPort;
  private VirtualClock clock;
  private RecordingSink sink;
  private PciFunction edu;
  private EduDevice model;

  @BeforeEach
  void open() {
    rig = new EduRig();
    arena = rig.arena;
    iommufd = rig.iommufd;
    ioas = rig.ioas;
    iommuPort = rig.iommuPort;
    clock = rig.clock;
    sink = rig.sink;
    edu = rig.edu;
    model = (EduDevice) edu.model();
    edu.config().write(COMMAND, 2, 0x6); // memory decode and bus mastering, as a driver does
  }

  @AfterEach
  void close() {
    rig.close();
  }

  private long read(long offset) {
    return edu.barRead(0, offset, 4);
  }

  private void write(long offset, long value) {
    edu.barWrite(0, offset, 4, value);
  }

  @Test
  void identifiesAsVersionOneAndInvertsTheLivenessValue() {
    assertThat(read(0x00)).isEqualTo(0x010000edL);
    assertThat(read(0x04)).isZero();
    write(0x04, 0x1234_5678L);
    assertThat(read(0x04)).isEqualTo(0xedcb_a987L);
    write(0x00, 0);
    assertThat(read(0x00)).isEqualTo(0x010000edL);
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2})
  void accessesNarrowerThanFourBytesNeverReachEduAndReadZero(int size) {
    write(0x04, 0);
    for (long offset : new long[] {0x00, 0x04, 0x08, 0x20, 0x24, 0x80, 0x98, 0x100}) {
      assertThat(edu.barRead(0, offset, size)).as("offset 0x%x", offset).isZero();
    }
    edu.barWrite(0, 0x04, size, 0);
    edu.barWrite(0, 0x08, size, 5);
    edu.barWrite(0, 0x80, size, 5);
    assertThat(read(0x04)).isEqualTo(0xffff_ffffL);
    assertThat(read(0x20)).isZero();
    assertThat(read(0x80)).isZero();
  }

  @Test
  void eightByteAccessesBelow0x80ReadAllOnesAndAreIgnored() {
    write(0x04, 0);
    for (long offset : new long[] {0x00, 0x08, 0x20, 0x60}) {
      assertThat(edu.barRead(0, offset, 8)).as("offset 0x%x", offset).isEqualTo(-1L);
    }
    edu.barWrite(0, 0x08, 8, 5);
    edu.barWrite(0, 0x60, 8, 1);
    assertThat(read(0x20)).isZero();
    assertThat(read(0x24)).isZero();
  }

  @Test
  void unalignedAccessesNeverReachEdu() {
    assertThat(edu.barRead(0, 0x02, 4)).isZero();
    assertThat(edu.barRead(0, 0x84, 8)).isZero();
    edu.barWrite(0, 0x06, 4, 0); // would be the liveness register's upper half
    assertThat(read(0x04)).isZero();
  }

  @Test
  void dmaRegistersTakeFourAndEightByteAccesses() {
    edu.barWrite(0, 0x80, 8, 0x1_2345_6789L);
    assertThat(edu.barRead(0, 0x80, 8)).isEqualTo(0x1_2345_6789L);
    assertThat(edu.barRead(0, 0x80, 4)).isEqualTo(0x2345_6789L);
    edu.barWrite(0, 0x80, 4, 0xaaaa_bbbbL);
    assertThat(edu.barRead(0, 0x80, 8))
        .as("a 4-byte write replaces all 64 bits")
        .isEqualTo(0xaaaa_bbbbL);
    assertThat(edu.barRead(0, 0x84, 4)).as("the high half is no register").isEqualTo(0xffff_ffffL);
  }

  @Test
  void writeOnlyUnknownAndBufferOffsetsReadAllOnes() {
    for (long offset :
        new long[] {
          0x0c,
          0x10,
          0x28,
          0x60,
          0x64,
          0x7c,
          0xa0,
          0x100,
          EduDevice.DMA_START,
          EduDevice.DMA_START + 8,
          (1 << 20) - 4
        }) {
      assertThat(read(offset)).as("offset 0x%x", offset).isEqualTo(0xffff_ffffL);
    }
    assertThat(edu.barRead(0, 1 << 20, 4)).as("past the BAR").isEqualTo(0xffff_ffffL);
  }

  @Test
  void factorialIsComputingUntilTheClockRunsThenHoldsTheResult() {
    write(0x08, 5);
    assertThat(read(0x20) & 0x01).isEqualTo(1);
    assertThat(read(0x08)).as("the argument, while computing").isEqualTo(5);
    clock.runPending();
    assertThat(read(0x20) & 0x01).isZero();
    assertThat(read(0x08)).isEqualTo(120);
    assertThat(sink.take()).isEmpty();
  }

  @Test
  void factorialsOfZeroToFortyAndRandomArgumentsAreUnsigned32BitProducts() {
    SplittableRandom random = new SplittableRandom(SEED);
    long[] args =
        IntStream.concat(
                IntStream.rangeClosed(0, 40), IntStream.generate(random::nextInt).limit(20))
            .asLongStream()
            .map(v -> v & 0xffff_ffffL)
            .toArray();
    for (long n : args) {
      write(0x08, n);
      clock.runPending();
      assertThat(read(0x08)).as("%d! (seed %d)", n, SEED).isEqualTo(u32Factorial(n));
    }
    assertThat(read(0x08)).isNotNegative();
  }

  @Test
  void factorialShortcutAgreesWithTheLoopItReplaces() {
    for (int n = 0; n < 200; n++) {
      assertThat(EduDevice.factorial(n) & 0xffff_ffffL).isEqualTo(u32Factorial(n));
    }
  }

  private static long u32Factorial(long n) {
    BigInteger f = BigInteger.ONE;
    for (long i = 2; i <= Math.min(n, 40); i++) {
      f = f.multiply(BigInteger.valueOf(i));
    }
    return n > 40 ? 0 : f.longValue() & 0xffff_ffffL;
  }

  @Test
  void aFactorialWriteWhileComputingIsIgnored() {
    write(0x08, 4);
    write(0x08, 6);
    clock.runPending();
    assertThat(read(0x08)).isEqualTo(24);
  }

  @Test
  void computingBitIsReadOnlyAndTheInterruptBitSticks() {
    write(0x20, 0x01);
    assertThat(read(0x20)).isZero();
    write(0x20, 0xff);
    assertThat(read(0x20)).isEqualTo(0x80);
    write(0x20, 0x7f);
    assertThat(read(0x20)).isZero();
  }

  @Test
  void factorialRaisesInterruptOneWhenAsked() {
    write(0x20, 0x80);
    write(0x08, 3);
    assertThat(sink.take()).isEmpty();
    clock.runPending();
    assertThat(read(0x24)).isEqualTo(0x1);
    assertThat(sink.take()).containsExactly("intx+");
    write(0x64, 0x1);
    assertThat(read(0x24)).isZero();
    assertThat(sink.take()).containsExactly("intx-");
    assertThat(read(0x20)).isEqualTo(0x80);
  }

  @Test
  void raisedInterruptsStayUntilEveryBitIsAcknowledged() {
    write(0x60, 0x5);
    assertThat(read(0x24)).isEqualTo(0x5);
    assertThat(sink.take()).containsExactly("intx+");
    write(0x64, 0x1);
    assertThat(read(0x24)).isEqualTo(0x4);
    assertThat(sink.take()).isEmpty();
    write(0x64, 0x4);
    assertThat(read(0x24)).isZero();
    assertThat(sink.take()).containsExactly("intx-");
    assertThat(edu.interrupts().intxLevel()).isFalse();
  }

  @Test
  void intxDisableHidesThePinButStatusStillShowsIt() {
    edu.config().write(COMMAND, 2, 0x406);
    write(0x60, 0x2);
    assertThat(sink.take()).isEmpty();
    assertThat(edu.config().read(0x06, 2) & 0x08).as("STATUS.INTERRUPT").isEqualTo(0x08);
    edu.config().write(COMMAND, 2, 0x006);
    assertThat(sink.take()).containsExactly("intx+");
    write(0x64, 0x2);
    assertThat(sink.take()).containsExactly("intx-");
    assertThat(edu.config().read(0x06, 2) & 0x08).isZero();
  }

  @Test
  void withMsiEnabledEveryRaiseSendsVectorZero() {
    edu.config().write(MSI_FLAGS, 2, 0x1);
    write(0x60, 0x1);
    write(0x60, 0x2);
    write(0x64, 0x3);
    assertThat(sink.take()).containsExactly("msi 0", "msi 0");
    assertThat(read(0x24)).isZero();
  }

  @Test
  void dmaMovesBytesBetweenTheProgramsMemoryAndTheBufferAfter100Milliseconds() {
    MemorySegment memory = arena.allocate(8192, 4096);
    for (int i = 0; i < 100; i++) {
      memory.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 7 + 1));
    }
    long iova = ioas.mapFixed(0x10_0000L, memory, Protection.READ_WRITE).iova();

    write(0x80, iova);
    write(0x88, EduDevice.DMA_START + 16);
    write(0x90, 100);
    write(0x98, 0x1);
    assertThat(read(0x98)).isEqualTo(0x1);
    clock.advance(Duration.ofMillis(99));
    assertThat(read(0x98)).as("still running after 99 ms").isEqualTo(0x1);
    clock.advance(Duration.ofMillis(1));
    assertThat(read(0x98)).isZero();
    assertThat(
            MemorySegment.ofArray(model.dmaBuffer())
                .asSlice(16, 100)
                .mismatch(memory.asSlice(0, 100)))
        .isEqualTo(-1);

    write(0x80, EduDevice.DMA_START + 16);
    write(0x88, iova + 4096);
    write(0x90, 100);
    write(0x98, 0x1 | 0x2 | 0x4);
    clock.advance(Duration.ofMillis(100));
    assertThat(memory.asSlice(4096, 100).mismatch(memory.asSlice(0, 100))).isEqualTo(-1);
    assertThat(read(0x24)).isEqualTo(0x100);
    assertThat(sink.take()).containsExactly("intx+");
    assertThat(model.dmaFaults()).isEmpty();
  }

  @Test
  void dmaToAnUnmappedIovaIsRecordedAndTheDeviceCarriesOn() {
    write(0x80, EduDevice.DMA_START);
    write(0x88, 0x20_0000L);
    write(0x90, 64);
    write(0x98, 0x1 | 0x2 | 0x4);
    clock.advance(Duration.ofMillis(100));
    assertThat(read(0x98)).isEqualTo(0x6);
    assertThat(read(0x24)).isEqualTo(0x100);
    assertThat(model.dmaFaults())
        .singleElement()
        .satisfies(
            f -> {
              assertThat(f.iova()).isEqualTo(0x20_0000L);
              assertThat(f.getCause())
                  .isInstanceOfSatisfying(
                      IommuFaultException.class,
                      c -> assertThat(c.reason()).isEqualTo(IommuFaultException.Reason.NOT_MAPPED));
            });
    write(0x08, 4);
    clock.runPending();
    assertThat(read(0x08)).isEqualTo(24);
  }

  @Test
  void busAddressesAreMaskedTo28BitsByDefault() {
    MemorySegment memory = arena.allocate(4096, 4096);
    ioas.mapFixed(0x3000, memory, Protection.READ_WRITE);
    write(0x80, EduDevice.DMA_START);
    edu.barWrite(0, 0x88, 8, 0x7_1000_3010L);
    write(0x90, 16);
    memory.fill((byte) 0x55);
    write(0x98, 0x3);
    clock.advance(Duration.ofMillis(100));
    assertThat(model.dmaFaults()).isEmpty();
    assertThat(memory.get(ValueLayout.JAVA_BYTE, 0x10)).isZero();
    assertThat(memory.get(ValueLayout.JAVA_BYTE, 0x20)).isEqualTo((byte) 0x55);
  }

  @Test
  void aWiderDmaMaskReachesIovasAbove256Mib() {
    MemorySegment memory = arena.allocate(4096, 4096);
    memory.fill((byte) 0x3c);
    ioas.mapFixed(0x1000_0000L, memory, Protection.READ);
    PciFunction fn =
        PciFunction.create(
            p -> new EduDevice(p, (1L << 32) - 1), DmaPort.of(iommuPort), clock, sink);
    fn.config().write(COMMAND, 2, 0x4);
    fn.barWrite(0, 0x80, 4, 0x1000_0000L);
    fn.barWrite(0, 0x88, 4, EduDevice.DMA_START);
    fn.barWrite(0, 0x90, 4, 32);
    fn.barWrite(0, 0x98, 4, 0x1);
    clock.advance(Duration.ofMillis(100));
    assertThat(((EduDevice) fn.model()).dmaFaults()).isEmpty();
    assertThat(((EduDevice) fn.model()).dmaBuffer()[31]).isEqualTo((byte) 0x3c);
  }

  @Test
  void dmaRegistersIgnoreWritesWhileATransferRuns() {
    write(0x80, 0x1000);
    write(0x88, EduDevice.DMA_START);
    write(0x90, 8);
    write(0x98, 0x1);
    write(0x80, 0x2000);
    write(0x88, 0);
    write(0x90, 99);
    write(0x98, 0x7);
    assertThat(new long[] {read(0x80), read(0x88), read(0x90), read(0x98)})
        .containsExactly(0x1000, EduDevice.DMA_START, 8, 0x1);
    write(0x98, 0x0);
    assertThat(read(0x98)).as("a command without the start bit is ignored").isEqualTo(0x1);
  }

  @Test
  void transfersLeavingTheBufferMoveNothingButComplete() {
    MemorySegment memory = arena.allocate(8192, 4096);
    memory.fill((byte) 0x11);
    long iova = ioas.map(memory, Protection.READ_WRITE).iova();
    write(0x80, iova);
    write(0x88, EduDevice.DMA_START + 4000);
    write(0x90, 200);
    write(0x98, 0x5);
    clock.advance(Duration.ofMillis(100));
    assertThat(read(0x98)).isEqualTo(0x4);
    assertThat(read(0x24)).isEqualTo(0x100);
    assertThat(model.dmaBuffer()).containsOnly(0);
    assertThat(model.dmaFaults()).isEmpty();
  }

  @Test
  void withoutBusMasteringDmaFaults() {
    edu.config().write(COMMAND, 2, 0x2);
    MemorySegment memory = arena.allocate(4096, 4096);
    long iova = ioas.map(memory, Protection.READ_WRITE).iova();
    write(0x80, iova);
    write(0x88, EduDevice.DMA_START);
    write(0x90, 8);
    write(0x98, 0x1);
    clock.advance(Duration.ofMillis(100));
    assertThat(model.dmaFaults())
        .singleElement()
        .satisfies(f -> assertThat(f.getMessage()).contains("bus mastering"));
  }

  /**
   * Random register traffic (offsets, widths and values, with the clock running now and then)
   * against a reference written from edu.rst: the registers, and the INTx pin following the
   * interrupt status.
   */
  @Test
  void randomRegisterTrafficMatchesTheSpecification() {
    SplittableRandom random = new SplittableRandom(SEED);
    long[] offsets = {0x00, 0x04, 0x08, 0x20, 0x24, 0x60, 0x64, 0x80, 0x88, 0x90, 0x98, 0x84};
    int[] sizes = {1, 2, 4, 4, 4, 8};
    long liveness = 0;
    long factorial = 0;
    long status = 0;
    long irq = 0;
    long[] dma = new long[3];
    for (int step = 0; step < 3000; step++) {
      long offset = offsets[random.nextInt(offsets.length)];
      int size = sizes[random.nextInt(sizes.length)];
      long value = random.nextInt(4) == 0 ? random.nextInt(40) : random.nextLong();
      if (offset == 0x98) {
        value &= ~1L; // never start a transfer: commands without the start bit are ignored
      }
      long sized = size == 8 ? value : value & ((1L << (8 * size)) - 1);
      String where =
          "step "
              + step
              + " offset 0x"
              + Long.toHexString(offset)
              + " size "
              + size
              + " (seed "
              + SEED
              + ")";
      boolean reaches = size >= 4 && offset % size == 0;
      boolean valid = reaches && (offset < 0x80 ? size == 4 : size == 4 || size == 8);
      if (random.nextBoolean()) {
        edu.barWrite(0, offset, size, value);
        if (valid) {
          switch ((int) offset) {
            case 0x04 -> liveness = ~sized & 0xffff_ffffL;
            case 0x08 -> {
              if ((status & 1) == 0) {
                factorial = sized;
                status |= 1;
              }
            }
            case 0x20 -> status = (status & 1) | (sized & 0x80);
            case 0x60 -> irq |= sized;
            case 0x64 -> irq &= ~sized;
            case 0x80, 0x88, 0x90 -> dma[(int) (offset - 0x80) / 8] = sized;
            default -> {}
          }
          irq &= 0xffff_ffffL;
        }
      } else {
        long expected =
            switch ((int) offset) {
              case 0x00 -> 0x010000edL;
              case 0x04 -> liveness;
              case 0x08 -> factorial;
              case 0x20 -> status;
              case 0x24 -> irq;
              case 0x80, 0x88, 0x90 -> dma[(int) (offset - 0x80) / 8];
              case 0x98 -> 0;
              default -> -1L;
            };
        long mask = size == 8 ? -1L : (1L << (8 * size)) - 1;
        assertThat(edu.barRead(0, offset, size))
            .as(where)
            .isEqualTo(!reaches ? 0 : valid ? expected & mask : mask);
      }
      if (random.nextInt(8) == 0) {
        clock.runPending();
        if ((status & 1) != 0) {
          factorial = u32Factorial(factorial);
          status &= ~1;
          if ((status & 0x80) != 0) {
            irq |= 1;
          }
        }
      }
      assertThat(edu.interrupts().intxLevel()).as(where).isEqualTo(irq != 0);
    }
  }

  @Test
  void configSpaceIsQemusEdu() {
    var c = edu.config();
    assertThat(c.size()).isEqualTo(256);
    assertThat(c.read(0x00, 4)).isEqualTo(0x11e8_1234);
    assertThat(c.read(0x08, 4)).as("class 00ff, revision 0x10").isEqualTo(0x00ff_0010);
    assertThat(c.read(0x2c, 4)).isEqualTo(0x1100_1af4);
    assertThat(c.read(0x0e, 1)).isZero();
    assertThat(c.read(0x3d, 1)).isEqualTo(1);
    assertThat(c.read(0x06, 2)).isEqualTo(0x0010);
    assertThat(c.read(0x34, 1)).isEqualTo(0x40);
    assertThat(c.read(0x40, 4)).as("MSI, last, 64-bit, 1 vector").isEqualTo(0x0080_0005);
    assertThat(c.findCapability(0x05)).isEqualTo(0x40);
    assertThat(c.findCapability(0x11)).isZero();
    assertThat(c.read(0x10, 4))
        .as("BAR0 at the firmware's address, 32-bit memory")
        .isEqualTo(0xfc00_0000);
    c.write(0x10, 4, -1);
    assertThat(c.read(0x10, 4)).as("sized: 1 MiB").isEqualTo(0xfff0_0000);
    for (int bar = 1; bar < 6; bar++) {
      c.write(0x10 + 4 * bar, 4, -1);
      assertThat(c.read(0x10 + 4 * bar, 4)).isZero();
    }
  }

  @Test
  void resetKeepsEdusRegistersLikeQemu() {
    write(0x04, 0);
    write(0x60, 0x8);
    edu.reset();
    assertThat(read(0x04)).isEqualTo(0xffff_ffffL);
    assertThat(read(0x24)).isEqualTo(0x8);
    assertThat(edu.config().read(COMMAND, 2)).as("the PCI core's state is reset").isZero();
    assertThat(edu.config().read(0x10, 4)).isEqualTo(0xfc00_0000);
  }

  @Test
  void onARealClockAPollingProgramSeesTheFactorialFinish() throws Exception {
    try (ExecutorClock real = new ExecutorClock("edu-test")) {
      PciFunction fn = PciFunction.create(EduDevice::new, DmaPort.of(iommuPort), real, sink);
      fn.barWrite(0, 0x08, 4, 10);
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while ((fn.barRead(0, 0x20, 4) & 1) != 0 && System.nanoTime() < deadline) {
        Thread.onSpinWait();
      }
      assertThat(fn.barRead(0, 0x08, 4)).isEqualTo(3_628_800L);
    }
  }
}
