package org.iommufd4j.pci.nvme;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iommufd4j.pci.nvme.NvmeDriver.U32;
import static org.iommufd4j.pci.nvme.NvmeDriver.U64;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.iommufd4j.pci.Bar;
import org.iommufd4j.pci.nvme.NvmeDriver.Cqe;
import org.iommufd4j.pci.nvme.NvmeDriver.Queue;
import org.iommufd4j.pci.nvme.NvmeDriver.Sqe;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The controller's registers and admin commands as a driver sees them. */
class NvmeControllerTest {
  private NvmeDriver d;

  @BeforeEach
  void open() {
    d = new NvmeDriver();
  }

  @AfterEach
  void close() {
    d.close();
  }

  private static String ascii(MemorySegment m, int offset, int length) {
    return new String(
            m.asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII)
        .trim();
  }

  @Test
  void presentsQemusIdentityAndBarLayout() {
    var config = d.function.config();
    assertThat(config.read(0x00, 4)).isEqualTo(0x0010_1b36);
    assertThat(config.read(0x08, 4) >>> 8).isEqualTo(0x010802);
    assertThat(config.read(0x2c, 4)).isEqualTo(0x1100_1af4);
    assertThat(config.read(0x3d, 1)).isEqualTo(1);
    assertThat(config.bars())
        .as("BAR0 with its doorbell page shared")
        .containsExactly(Bar.memory64(0, 0x4000, false).withDoorbells(0x1000, 0x1000));
    assertThat(config.findCapability(0x01)).isNotZero();
    assertThat(config.findCapability(0x10)).isNotZero();
    int msix = config.findCapability(0x11);
    assertThat(config.read(msix + 2, 2) & 0x7ff).isEqualTo(64);
    assertThat(config.read(msix + 4, 4)).isEqualTo(0x2000);
    assertThat(config.read(msix + 8, 4)).isEqualTo(0x3000);
  }

  @Test
  void capabilitiesAndVersionReadAsAdvertised() {
    long cap = d.reg(0x00, 8);
    assertThat(cap & 0xffff).as("MQES").isEqualTo(0x7ff);
    assertThat(cap >>> 16 & 1).as("CQR").isEqualTo(1);
    assertThat(cap >>> 24 & 0xff).as("TO").isEqualTo(0xf);
    assertThat(cap >>> 32 & 0xf).as("DSTRD").isZero();
    assertThat(cap >>> 36 & 1).as("NSSRS").isZero();
    assertThat(cap >>> 37 & 0xff).as("CSS").isEqualTo(1);
    assertThat(cap >>> 48 & 0xf).as("MPSMIN").isZero();
    assertThat(cap >>> 52 & 0xf).as("MPSMAX").isEqualTo(4);
    assertThat(d.reg(0x04, 4)).isEqualTo(cap >>> 32);
    assertThat(d.reg(0x08, 4)).isEqualTo(0x10400);
    assertThat(d.reg(0x1c, 4)).isZero();
    d.reg(0x00, 4, 0);
    d.reg(0x08, 4, 0);
    assertThat(d.reg(0x00, 8)).isEqualTo(cap);
    assertThat(d.reg(0x1000, 4)).as("no doorbell rung yet").isZero();
  }

  @Test
  void enablingSetsReadyAndDisablingClearsItAndTheQueues() {
    d.enable(4);
    assertThat(d.csts()).isEqualTo(1);
    Queue q = d.createQueuePair(1, 8, 0);
    d.disable();
    assertThat(d.csts()).isZero();
    d.enable(4);
    assertThat(d.admin(Sqe.createSq(1, 8, q.sq, 1)).statusCode())
        .as("the CQ went with the reset")
        .isEqualTo(0x100);
  }

  @ParameterizedTest(name = "CC=0x{0} AQA=0x{1}")
  @CsvSource({
    "00460281, 00030003", // MPS 5 (128 KiB) is above MPSMAX
    "00460011, 00030003", // CSS 1 is not offered
    "00460801, 00030003", // AMS weighted round robin is not offered
    "00460001, 00030000", // an admin SQ of one entry
    "00460001, 00000003" // an admin CQ of one entry
  })
  void enablingWithUnsupportedSettingsFails(String cc, String aqa) {
    d.reg(0x24, 4, Long.parseLong(aqa, 16));
    d.reg(0x28, 8, d.allocate(1));
    d.reg(0x30, 8, d.allocate(1));
    d.reg(0x14, 4, Long.parseLong(cc, 16));
    assertThat(d.csts() & 3).as("CFS, not RDY").isEqualTo(2);
    d.disable();
    assertThat(d.csts()).isZero();
  }

  @Test
  void shutdownNotificationCompletesAndClearsWithShn() {
    d.enable(4);
    d.reg(0x14, 4, d.reg(0x14, 4) | 1 << 14);
    assertThat(d.csts() >>> 2 & 3).isEqualTo(2);
    d.reg(0x14, 4, d.reg(0x14, 4) & ~(3 << 14));
    assertThat(d.csts() >>> 2 & 3).isZero();
  }

  @Test
  void functionLevelResetDisablesTheController() {
    d.enable(4);
    d.function.reset();
    assertThat(d.csts()).isZero();
    assertThat(d.reg(0x14, 4)).isZero();
    assertThat(d.reg(0x28, 8)).isZero();
  }

  @Test
  void identifyControllerDescribesTheController() {
    d.enable(4);
    long buffer = d.allocate(1);
    assertThat(d.admin(Sqe.identify(1, 0, buffer)).status()).isZero();
    MemorySegment id = d.memory(buffer, 4096);
    assertThat(id.get(ValueLayout.JAVA_SHORT_UNALIGNED, 0)).isEqualTo((short) 0x1b36);
    assertThat(ascii(id, 24, 40)).isEqualTo("QEMU NVMe Ctrl");
    assertThat(ascii(id, 4, 20)).isNotEmpty();
    assertThat(id.get(ValueLayout.JAVA_BYTE, 77)).as("MDTS").isEqualTo((byte) 7);
    assertThat(id.get(U32, 80)).as("VER").isEqualTo(0x10400);
    assertThat(id.get(ValueLayout.JAVA_BYTE, 512)).as("SQES").isEqualTo((byte) 0x66);
    assertThat(id.get(ValueLayout.JAVA_BYTE, 513)).as("CQES").isEqualTo((byte) 0x44);
    assertThat(id.get(U32, 516)).as("NN").isEqualTo(1);
    byte[] subnqn = id.asSlice(768, 256).toArray(ValueLayout.JAVA_BYTE);
    int nul = new String(subnqn, StandardCharsets.US_ASCII).indexOf('\0');
    assertThat(nul).as("SUBNQN ends with a NUL").isPositive();
    assertThat(new String(subnqn, 0, nul, StandardCharsets.US_ASCII))
        .isEqualTo("nqn.2019-08.org.qemu:" + NvmeController.SERIAL);
    assertThat(id.get(ValueLayout.JAVA_SHORT_UNALIGNED, 520) & 0xc)
        .as("ONCS DSM, WZ")
        .isEqualTo(0xc);
  }

  @Test
  void identifyNamespaceListAndDescriptorsDescribeNamespaceOne() {
    d.enable(4);
    long buffer = d.allocate(1);
    MemorySegment data = d.memory(buffer, 4096);
    assertThat(d.admin(Sqe.identify(0, 1, buffer)).status()).isZero();
    assertThat(data.get(U64, 0)).as("NSZE").isEqualTo((1 << 20) / 512);
    assertThat(data.get(U32, 128) >>> 16 & 0xff).as("LBADS").isEqualTo(9);

    data.fill((byte) 0x55);
    assertThat(d.admin(Sqe.identify(2, 0, buffer)).status()).isZero();
    assertThat(data.get(U32, 0)).isEqualTo(1);
    assertThat(data.get(U32, 4)).isZero();
    assertThat(d.admin(Sqe.identify(2, 1, buffer)).status()).isZero();
    assertThat(data.get(U32, 0)).as("no NSID above 1").isZero();

    assertThat(d.admin(Sqe.identify(3, 1, buffer)).status()).isZero();
    assertThat(data.get(ValueLayout.JAVA_BYTE, 0)).as("NIDT UUID").isEqualTo((byte) 3);
    assertThat(data.get(ValueLayout.JAVA_BYTE, 1)).isEqualTo((byte) 16);
    assertThat(data.get(ValueLayout.JAVA_BYTE, 20)).as("NIDT CSI").isEqualTo((byte) 4);
  }

  @ParameterizedTest(name = "CNS {0} NSID 0x{1} -> status 0x{2}")
  @CsvSource({
    "0, 0, 00b",
    "0, 2, 00b",
    "0, ffffffff, 00b",
    "3, 0, 00b",
    "3, 2, 00b",
    "2, fffffffe, 00b",
    "2, ffffffff, 00b",
    "4, 1, 002",
    "10, 0, 002",
    "ff, 0, 002"
  })
  void identifyRejectsBadNamespacesAndStructures(String cns, String nsid, String status) {
    d.enable(4);
    Cqe c =
        d.admin(
            Sqe.identify(
                Integer.parseInt(cns, 16), Integer.parseUnsignedInt(nsid, 16), d.allocate(1)));
    assertThat(c.statusCode()).isEqualTo(Integer.parseInt(status, 16));
    assertThat(c.status() >>> 14).as("DNR").isEqualTo(1);
  }

  @Test
  void adminDataFollowsPrp1AndPrp2WithTheirOffsetChecks() {
    d.enable(4);
    long pages = d.allocate(3);
    // Identify's 4 KiB from the middle of a page: the first half at PRP1, the rest at PRP2
    Sqe split = Sqe.identify(1, 0, pages + 0x800).prp2(pages + 2 * 4096);
    assertThat(d.admin(split).status()).isZero();
    assertThat(d.memory(pages + 0x800, 2).get(ValueLayout.JAVA_SHORT_UNALIGNED, 0))
        .as("VID at PRP1")
        .isEqualTo((short) 0x1b36);
    assertThat(ascii(d.memory(pages + 0x800 + 768, 21), 0, 21)).isEqualTo("nqn.2019-08.org.qemu:");
    assertThat(d.memory(pages + 2 * 4096, 2).get(ValueLayout.JAVA_SHORT_UNALIGNED, 0))
        .as("PSD0's maximum power, byte 2048 of the structure: at PRP2")
        .isEqualTo((short) 0x9c4);
    assertThat(d.memory(pages + 0x1000, 0x800).toArray(ValueLayout.JAVA_BYTE))
        .as("nothing between")
        .containsOnly(0);
    assertThat(d.admin(Sqe.identify(1, 0, pages + 2)).statusCode())
        .as("PRP1 not dword aligned")
        .isEqualTo(0x013);
    assertThat(d.admin(Sqe.identify(1, 0, pages + 0x800).prp2(pages + 0x1200)).statusCode())
        .as("PRP2 not page aligned")
        .isEqualTo(0x013);
    assertThat(d.admin(Sqe.getLog(0x02, 512, pages + 0xf00).prp2(pages + 0x1004)).statusCode())
        .as("a log page's PRP2 too")
        .isEqualTo(0x013);
  }

  @Test
  void unknownAdminOpcodesAndSglsAndFusedCommandsAreRefused() {
    d.enable(4);
    assertThat(d.admin(new Sqe(0x7f)).statusCode()).isEqualTo(0x001);
    assertThat(d.admin(new Sqe(0x80)).statusCode()).isEqualTo(0x001);
    assertThat(d.admin(Sqe.identify(1, 0, d.allocate(1)).dw(0, 0x06 | 1 << 14)).statusCode())
        .as("PSDT: admin commands take PRPs only")
        .isEqualTo(0x002);
    assertThat(d.admin(Sqe.identify(1, 0, d.allocate(1)).dw(0, 0x06 | 1 << 8)).statusCode())
        .as("FUSE")
        .isEqualTo(0x002);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
    "CQ id 0, 0, 8, 0, 3, 0, 101",
    "CQ id above the allocated queues, 65, 8, 0, 3, 0, 101",
    "CQ of one entry, 1, 1, 0, 3, 0, 102",
    "CQ above MQES, 1, 2049, 0, 3, 0, 102",
    "CQ not page aligned, 1, 8, 0x200, 3, 0, 013",
    "CQ vector without MSI-X, 1, 8, 0, 3, 1, 108",
    "CQ not physically contiguous, 1, 8, 0, 2, 0, 002",
  })
  void createCqRejectsBadArguments(
      String what, int id, int size, String offset, int flags, int vector, String status) {
    d.enable(4);
    long base = d.allocate(9) + Long.decode(offset);
    Sqe create = Sqe.createCq(id, size, base, vector).dw(11, flags | vector << 16);
    assertThat(d.admin(create).statusCode()).isEqualTo(Integer.parseInt(status, 16));
  }

  @Test
  void createCqRejectsAVectorBeyondTheMsixTableAndATakenId() {
    d.enable(4);
    d.enableMsix();
    assertThat(d.admin(Sqe.createCq(1, 8, d.allocate(1), 65)).statusCode()).isEqualTo(0x108);
    assertThat(d.admin(Sqe.createCq(1, 8, d.allocate(1), 64)).statusCode()).isZero();
    assertThat(d.admin(Sqe.createCq(1, 8, d.allocate(1), 0)).statusCode()).isEqualTo(0x101);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
    "SQ on CQ 0, 1, 8, 0, 1, 0, 100",
    "SQ on a CQ that does not exist, 1, 8, 0, 1, 2, 100",
    "SQ on a CQ id above the allocated queues, 1, 8, 0, 1, 65, 100",
    "SQ id 0, 0, 8, 0, 1, 1, 101",
    "SQ id above the allocated queues, 65, 8, 0, 1, 1, 101",
    "SQ of one entry, 1, 1, 0, 1, 1, 102",
    "SQ above MQES, 1, 2049, 0, 1, 1, 102",
    "SQ not page aligned, 1, 8, 0x40, 1, 1, 013",
    "SQ not physically contiguous, 1, 8, 0, 0, 1, 002",
  })
  void createSqRejectsBadArguments(
      String what, int id, int size, String offset, int flags, int cqid, String status) {
    d.enable(4);
    assertThat(d.admin(Sqe.createCq(1, 8, d.allocate(1), 0)).status()).isZero();
    long base = d.allocate(33) + Long.decode(offset);
    Sqe create = Sqe.createSq(id, size, base, cqid).dw(11, flags | cqid << 16);
    assertThat(d.admin(create).statusCode()).isEqualTo(Integer.parseInt(status, 16));
  }

  @Test
  void queuesAreDeletedSqFirstAndIdsAreChecked() {
    d.enable(4);
    d.createQueuePair(1, 8, 0);
    assertThat(d.admin(Sqe.createSq(1, 8, d.allocate(1), 1)).statusCode())
        .as("taken")
        .isEqualTo(0x101);
    assertThat(d.admin(new Sqe(0x04).dw(10, 1)).statusCode()).as("CQ with an SQ").isEqualTo(0x10c);
    assertThat(d.admin(new Sqe(0x00).dw(10, 0)).statusCode()).as("admin SQ").isEqualTo(0x101);
    assertThat(d.admin(new Sqe(0x04).dw(10, 0)).statusCode()).as("admin CQ").isEqualTo(0x101);
    assertThat(d.admin(new Sqe(0x00).dw(10, 2)).statusCode()).isEqualTo(0x101);
    assertThat(d.admin(new Sqe(0x00).dw(10, 1)).status()).isZero();
    assertThat(d.admin(new Sqe(0x00).dw(10, 1)).statusCode()).as("twice").isEqualTo(0x101);
    assertThat(d.admin(new Sqe(0x04).dw(10, 1)).status()).isZero();
    assertThat(d.admin(new Sqe(0x04).dw(10, 1)).statusCode()).isEqualTo(0x101);
  }

  @Test
  void numberOfQueuesIsQemusAndFixedOnceQueuesExist() {
    d.enable(4);
    Cqe set = d.admin(Sqe.setFeatures(0x07, 3 | 3 << 16));
    assertThat(set.status()).isZero();
    assertThat(set.dw0()).isEqualTo(63 | 63 << 16);
    assertThat(d.admin(Sqe.getFeatures(0x07, 0)).dw0()).isEqualTo(63 | 63 << 16);
    assertThat(d.admin(Sqe.setFeatures(0x07, 0xffff)).statusCode()).isEqualTo(0x002);
    d.createQueuePair(1, 8, 0);
    assertThat(d.admin(Sqe.setFeatures(0x07, 3 | 3 << 16)).statusCode())
        .as("command sequence error")
        .isEqualTo(0x00c);
  }

  @ParameterizedTest(name = "feature 0x{0} = 0x{1}")
  @CsvSource({"01, 00000703", "02, 00000000", "06, 00000001", "08, 00000a05", "0b, 00000102"})
  void featuresReadBackWhatWasSetAndTheirDefaultsBySelect(String fid, String value) {
    d.enable(4);
    int f = Integer.parseInt(fid, 16);
    int v = Integer.parseInt(value, 16);
    int dflt = d.admin(Sqe.getFeatures(f, 1)).dw0();
    assertThat(d.admin(Sqe.setFeatures(f, v)).status()).isZero();
    assertThat(d.admin(Sqe.getFeatures(f, 0)).dw0()).isEqualTo(v);
    assertThat(d.admin(Sqe.getFeatures(f, 1)).dw0()).as("default").isEqualTo(dflt);
    assertThat(d.admin(Sqe.getFeatures(f, 2)).dw0()).as("saved is default").isEqualTo(dflt);
    Cqe caps = d.admin(Sqe.getFeatures(f, 3));
    assertThat(caps.dw0()).as("changeable, not saveable").isEqualTo(4);
    assertThat(d.admin(Sqe.setFeatures(f, v).dw(10, f | 1 << 31)).statusCode()).isEqualTo(0x10d);
    d.disable();
    d.enable(4);
    assertThat(d.admin(Sqe.getFeatures(f, 0)).dw0()).as("after a reset").isEqualTo(dflt);
  }

  @Test
  void featuresRejectWhatTheControllerLacks() {
    d.enable(4);
    assertThat(d.admin(Sqe.setFeatures(0x02, 1)).statusCode()).as("power state 1").isEqualTo(0x002);
    assertThat(d.admin(Sqe.setFeatures(0x04, 1 << 16 | 300)).statusCode())
        .as("sensor 1")
        .isEqualTo(0x002);
    assertThat(d.admin(Sqe.setFeatures(0x09, 65)).statusCode()).as("vector 65").isEqualTo(0x002);
    assertThat(d.admin(Sqe.setFeatures(0x0c, 0)).statusCode()).as("APST").isEqualTo(0x002);
    assertThat(d.admin(Sqe.getFeatures(0x0c, 0)).statusCode()).isEqualTo(0x002);
    assertThat(d.admin(Sqe.getFeatures(0x0c, 3)).statusCode()).isEqualTo(0x002);
    assertThat(d.admin(Sqe.getFeatures(0x01, 4)).statusCode()).as("SEL 4").isEqualTo(0x002);
  }

  @Test
  void temperatureThresholdsAndInterruptVectorConfigurationAreKeptApart() {
    d.enable(4);
    assertThat(d.admin(Sqe.getFeatures(0x04, 0)).dw0()).isEqualTo(0x157);
    assertThat(d.admin(Sqe.setFeatures(0x04, 1 << 20 | 200)).status()).isZero();
    assertThat(d.admin(Sqe.getFeatures(0x04, 0).dw(11, 1 << 20)).dw0()).isEqualTo(200);
    assertThat(d.admin(Sqe.getFeatures(0x04, 0)).dw0()).isEqualTo(0x157);
    assertThat(d.admin(Sqe.setFeatures(0x09, 5 | 1 << 16)).status()).isZero();
    assertThat(d.admin(Sqe.getFeatures(0x09, 0).dw(11, 5)).dw0()).isEqualTo(5 | 1 << 16);
    assertThat(d.admin(Sqe.getFeatures(0x09, 0).dw(11, 6)).dw0()).isEqualTo(6);
  }

  @Test
  void logPagesHaveTheirSizesAndRejectBadIdsAndOffsets() {
    d.enable(4);
    long buffer = d.allocate(1);
    MemorySegment data = d.memory(buffer, 4096);
    assertThat(d.admin(Sqe.getLog(0x03, 512, buffer)).status()).isZero();
    assertThat(data.get(ValueLayout.JAVA_BYTE, 0)).as("AFI").isEqualTo((byte) 1);
    assertThat(ascii(data, 8, 8)).isEqualTo("1.0");
    assertThat(d.admin(Sqe.getLog(0x02, 512, buffer)).status()).isZero();
    assertThat(data.get(ValueLayout.JAVA_SHORT_UNALIGNED, 1)).as("kelvin").isEqualTo((short) 0x143);
    assertThat(data.get(ValueLayout.JAVA_BYTE, 3)).as("spare").isEqualTo((byte) 100);
    data.fill((byte) 0x55);
    assertThat(d.admin(Sqe.getLog(0x01, 256, buffer)).status()).isZero();
    assertThat(data.asSlice(0, 256).toArray(ValueLayout.JAVA_BYTE)).containsOnly(0);
    assertThat(d.admin(Sqe.getLog(0x04, 512, buffer)).statusCode()).isEqualTo(0x109);
    assertThat(d.admin(Sqe.getLog(0xc0, 512, buffer)).statusCode()).isEqualTo(0x109);
    assertThat(d.admin(Sqe.getLog(0x02, 4, buffer).dw(12, 2)).statusCode())
        .as("LPO unaligned")
        .isEqualTo(0x002);
    assertThat(d.admin(Sqe.getLog(0x02, 4, buffer).dw(12, 516)).statusCode())
        .as("past the log")
        .isEqualTo(0x002);
    assertThat(d.admin(Sqe.getLog(0x02, 4, buffer).dw(12, 512)).status()).as("at its end").isZero();
    data.fill((byte) 0);
    assertThat(d.admin(Sqe.getLog(0x02, 4, buffer).dw(12, 0)).status()).isZero();
    assertThat(data.get(U32, 0) >>> 8 & 0xffff).as("offset 0, 4 bytes").isEqualTo(0x143);
    assertThat(data.get(U32, 4)).as("nothing past 4 bytes").isZero();
  }

  @Test
  void asyncEventRequestsAreHeldUpToTheLimitAndReportATemperatureOverThreshold() {
    d.enable(8);
    for (int i = 0; i < 4; i++) {
      d.admin.submit(new Sqe(0x0c));
    }
    d.settle();
    assertThat(d.admin.reap()).as("held").isEmpty();
    assertThat(d.admin(new Sqe(0x0c)).statusCode()).isEqualTo(0x105);
    assertThat(d.admin(Sqe.setFeatures(0x0b, 0x02)).status()).isZero();
    d.admin.submit(Sqe.setFeatures(0x04, 0x100)); // below the composite temperature
    d.settle();
    List<Cqe> done = d.admin.reap();
    assertThat(done).hasSize(2);
    Cqe event = done.get(1);
    assertThat(event.status()).isZero();
    assertThat(event.dw0()).as("SMART, temperature threshold, log 2").isEqualTo(0x02_01_01);
    long buffer = d.allocate(1);
    assertThat(d.admin(Sqe.getLog(0x02, 512, buffer).dw(10, 0x02 | 1 << 15 | 127 << 16)).status())
        .isZero();
    assertThat(d.memory(buffer, 1).get(ValueLayout.JAVA_BYTE, 0))
        .as("critical warning")
        .isEqualTo((byte) 2);
    d.admin.submit(Sqe.getLog(0x02, 512, buffer));
    d.settle();
    done = d.admin.reap();
    assertThat(done)
        .as("read without RAE: the condition persists and is reported again")
        .hasSize(2);
    assertThat(done.get(1).dw0()).isEqualTo(0x02_01_01);
  }

  @Test
  void abortOfAHeldEventRequestCompletesItAsAborted() {
    d.enable(4);
    int aer = d.admin.submit(new Sqe(0x0c));
    d.settle();
    d.admin.submit(new Sqe(0x08).dw(10, aer << 16));
    d.settle();
    List<Cqe> done = d.admin.reap();
    assertThat(done).hasSize(2);
    assertThat(done.get(0).status()).isZero();
    assertThat(done.get(0).dw0() & 1).as("aborted").isZero();
    assertThat(done.get(1).cid()).isEqualTo(aer);
    assertThat(done.get(1).statusCode()).isEqualTo(0x007);
    Cqe none = d.admin(new Sqe(0x08).dw(10, 1 | 7 << 16));
    assertThat(none.status()).isZero();
    assertThat(none.dw0() & 1).as("not aborted").isEqualTo(1);
  }

  @Test
  void invalidDoorbellWritesRaiseErrorEvents() {
    d.enable(4);
    d.admin.submit(new Sqe(0x0c));
    d.settle();
    d.reg(0x1000 + 8 * 5, 4, 1); // SQ 5 does not exist
    d.settle();
    List<Cqe> done = d.admin.reap();
    assertThat(done).hasSize(1);
    assertThat(done.get(0).dw0())
        .as("error, invalid doorbell register, log 1")
        .isEqualTo(0x01_00_00);
    d.admin.submit(new Sqe(0x0c));
    long buffer = d.allocate(1);
    d.admin.submit(Sqe.getLog(0x01, 256, buffer));
    d.settle();
    assertThat(d.admin.reap()).hasSize(1);
    d.reg(0x1000, 4, 4); // the admin SQ has 4 entries: 4 is no tail
    d.settle();
    done = d.admin.reap();
    assertThat(done).hasSize(1);
    assertThat(done.get(0).dw0()).as("error, invalid doorbell value, log 1").isEqualTo(0x01_01_00);
    assertThat(d.csts()).isEqualTo(1);
  }
}
