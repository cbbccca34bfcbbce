package org.iommufd4j.pci.virtio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.iommufd4j.pci.ExecutorClock;
import org.junit.jupiter.api.Test;

/**
 * The TAP backend against the kernel's own network stack, in a network namespace of the test's own
 * (skipped where none can be made): the host's interfaces are never touched.
 */
class TapBackendTest {
  private static final byte[] OUR_MAC = HexFormat.ofDelimiter(":").parseHex("52:54:00:00:04:00");
  private static final byte[] TAP_ADDRESS = {10, 11, 12, 1};
  private static final byte[] OUR_ADDRESS = {10, 11, 12, 2};
  private static final short ETHERTYPE_ARP = 0x0806;

  @Test
  void theKernelBehindATapAnswersAnArpRequestTheDriverSent() throws Exception {
    List<byte[]> replies =
        NetNamespace.run(
            ns -> {
              try (ExecutorClock clock = new ExecutorClock("virtio-tap-test");
                  VirtioRig rig = new VirtioRig(clock);
                  NetBackend tap = NetBackend.tap("vtap0")) {
                ns.ip("link", "set", "vtap0", "up");
                ns.ip("addr", "add", "10.11.12.1/24", "dev", "vtap0");
                LegacyDriver d = rig.nic(tap).driver();
                d.init(-1, 3);
                for (int i = 0; i < 64; i++) {
                  d.giveBuffer(0, 2048);
                }
                d.notify(0);
                d.send(1, arpRequest());
                d.notify(1);
                List<byte[]> arps = new ArrayList<>();
                long deadline = System.nanoTime() + 10_000_000_000L;
                while (arps.isEmpty() && System.nanoTime() < deadline) {
                  Thread.sleep(10);
                  for (byte[] f : d.receive(0)) { // the kernel's IPv6 chatter, and the reply
                    if (ByteBuffer.wrap(f).getShort(12) == ETHERTYPE_ARP) {
                      arps.add(f);
                    }
                  }
                }
                return arps;
              }
            });
    assertThat(replies).hasSize(1);
    ByteBuffer reply = ByteBuffer.wrap(replies.getFirst());
    assertThat(slice(reply, 0, 6)).as("to our MAC").isEqualTo(OUR_MAC);
    assertThat(reply.getShort(20)).as("ARP reply").isEqualTo((short) 2);
    assertThat(slice(reply, 28, 4)).as("sender IP").isEqualTo(TAP_ADDRESS);
    assertThat(slice(reply, 32, 6)).as("target MAC").isEqualTo(OUR_MAC);
    assertThat(slice(reply, 38, 4)).as("target IP").isEqualTo(OUR_ADDRESS);
  }

  @Test
  void aTapTheKernelRefusesFailsWithTheReason() throws Exception {
    String message =
        NetNamespace.run(
            ns -> {
              NetNamespace.dropNetAdmin();
              try (NetBackend tap = NetBackend.tap("vtap1")) {
                return "made " + tap;
              } catch (UncheckedIOException e) {
                return e.getMessage();
              }
            });
    assertThat(message)
        .isEqualTo(
            "backend=tap: the kernel refused tap 'vtap1' (TUNSETIFF): EPERM (Operation not"
                + " permitted); making a tap needs CAP_NET_ADMIN");
  }

  @Test
  void aMissingCloneDeviceOrABadNameIsSaidClearly() {
    assertThatThrownBy(() -> new TapBackend("/nonexistent/net/tun", "vtap2"))
        .isInstanceOf(UncheckedIOException.class)
        .hasMessage(
            "backend=tap: cannot open /nonexistent/net/tun: ENOENT (No such file or directory)");
    for (String bad : List.of("a/b", "sixteen-chars-xx", "a b", "..", "tap:0")) {
      assertThatThrownBy(() -> NetBackend.tap(bad))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageStartingWith("ifname=" + bad + " is not an interface name");
    }
  }

  /** Who has 10.11.12.1? Tell 10.11.12.2 (our MAC). */
  private static byte[] arpRequest() {
    ByteBuffer f = ByteBuffer.allocate(60); // padded to Ethernet's minimum
    f.put(new byte[] {-1, -1, -1, -1, -1, -1}).put(OUR_MAC).putShort(ETHERTYPE_ARP);
    f.putShort((short) 1).putShort((short) 0x0800).put((byte) 6).put((byte) 4).putShort((short) 1);
    f.put(OUR_MAC).put(OUR_ADDRESS).put(new byte[6]).put(TAP_ADDRESS);
    return f.array();
  }

  private static byte[] slice(ByteBuffer b, int at, int length) {
    byte[] out = new byte[length];
    b.get(at, out);
    return out;
  }
}
