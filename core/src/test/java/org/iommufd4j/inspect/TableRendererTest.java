package org.iommufd4j.inspect;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class TableRendererTest {
  private static List<String> section(String table, String title) {
    List<String> lines = table.lines().toList();
    int from = lines.indexOf(title);
    assertThat(from).as("section %s", title).isNotNegative();
    int to = from + 1;
    while (to < lines.size() && !lines.get(to).isEmpty()) {
      to++;
    }
    return lines.subList(from + 1, to);
  }

  @Test
  void everyIoasShowsItsRangesAndAreasWithTheirDetails() {
    String t = Samples.everything().toTable();
    List<String> ioas =
        section(
            t,
            "IOAS 1: alignment 0x1000, huge pages on, domains hwpt 3, "
                + "accesses access 5, 5 areas");
    assertThat(ioas)
        .anySatisfy(l -> assertThat(l).contains("0x1000", "0xffffffff", "~4.00 GiB"))
        .anySatisfy(
            l ->
                assertThat(l)
                    .contains(
                        "0x8000000000000000", "0xffffffffffffffff", "8 EiB", "domain of hwpt 3"))
        .anySatisfy(l -> assertThat(l).contains("0xfee0000000000000", "1 MiB", "device 2"))
        .anySatisfy(l -> assertThat(l).contains("0x100000000", "0x100000fff", "4 KiB", "test"))
        .anySatisfy(
            l ->
                assertThat(l)
                    .containsPattern(
                        "0x1000 +0x1fff +4 KiB +0x7f0000001000 +#1 +0x0 +rw +1 +0 +ok"))
        .anySatisfy(l -> assertThat(l).containsPattern("-w .* unpopulated$"))
        .anySatisfy(l -> assertThat(l).containsPattern("rw +16 +2 +prevent-access$"));
    assertThat(
            section(
                t,
                "IOAS 7: alignment 0x1, huge pages off, domains none, accesses none, " + "0 areas"))
        .containsExactly(
            "  allowed: any IOVA (no ALLOW_IOVAS list)", "  reserved: none", "  areas: none");
  }

  @Test
  void otherSectionsListEveryObject() {
    String t = Samples.everything().toTable();
    assertThat(t.lines().findFirst()).hasValue("iommufd context: open, 7 objects");
    assertThat(section(t, "objects"))
        .hasSize(8)
        .anySatisfy(l -> assertThat(l).containsPattern("^ +3 +HWPT_PAGING +3$"));
    assertThat(section(t, "HWPTs"))
        .anySatisfy(
            l ->
                assertThat(l)
                    .containsPattern(
                        "3 +paging +yes +1 +- +radix +\\[0x0, 0x7fffffffffffffff\\] +4K 2M +42 +- +- +2$"))
        .anySatisfy(
            l ->
                assertThat(l)
                    .containsPattern(
                        "6 +nested +no +1 +3 +selftest-mock-nested +- +- +0 +- +8 +-$"));
    assertThat(section(t, "devices"))
        .anySatisfy(l -> assertThat(l).contains("[0xfee0000000000000, 0xfee00000000fffff]"));
    assertThat(section(t, "accesses"))
        .anySatisfy(l -> assertThat(l).containsPattern("5 +1 +yes +\\[0x500000 \\+0x2000\\]x2$"));
    assertThat(section(t, "fault queues"))
        .anySatisfy(l -> assertThat(l).containsPattern("8 +open +1 +2$"));
    assertThat(section(t, "page sources"))
        .anySatisfy(
            l -> assertThat(l).containsPattern("#2 +0x7f0000100000 +512 +no +42 +1000 +MM +512$"));
    assertThat(t)
        .contains(
            "host (every context on this emulated machine): 262673 frame pins, "
                + "262657 pages charged");
    assertThat(
            section(
                t,
                "host (every context on this emulated machine): 262673 frame pins, "
                    + "262657 pages charged"))
        .anySatisfy(l -> assertThat(l).containsPattern("user +1000 +262145$"));
  }

  @Test
  void vfioDevicesShowTheirFunctionBindingBarsInterruptsAndDma() {
    List<String> vfio = section(Samples.withVfioDevices().toTable(), "VFIO devices");
    assertThat(vfio.getFirst())
        .containsPattern(
            "device +bdf +ids +group +via +hwpt +bars +irq +vectors +eventfds +masked +dma reads"
                + " +read bytes +dma writes +write bytes +faults +last fault +summary$");
    assertThat(vfio)
        .hasSize(3)
        .anySatisfy(
            l ->
                assertThat(l)
                    .containsPattern(
                        "^ +9 +0000:00:04\\.0 +1234:11e8 +0 +cdev +3 +0: mem32 0x100000 +MSI +1"
                            + " +1 +no +3 +12288 +2 +8 +1 +0xdeadb000 +-$"))
        .anySatisfy(
            l ->
                assertThat(l)
                    .containsPattern(
                        "^ +10 +0000:00:05\\.0 +8086:10d3 +1 +group +- +0: mem64 pf 0x4000, 2: io"
                            + " 0x20 +INTX +1 +1 +yes +0 +0 +0 +0 +0 +- +mac 52:54:00:00:05:00,"
                            + " link up$"));
    assertThat(section(Samples.everything().toTable(), "VFIO devices")).containsExactly("  none");
  }

  @Test
  void columnsAreAligned() {
    List<String> areas =
        Samples.everything()
            .toTable()
            .lines()
            .dropWhile(l -> !l.equals("  areas"))
            .skip(1)
            .takeWhile(l -> l.startsWith("    "))
            .toList();
    assertThat(areas).hasSize(6);
    int source = areas.getFirst().indexOf("source");
    assertThat(areas.subList(1, 6))
        .allSatisfy(
            l ->
                assertThat(l.indexOf('#') + 2)
                    .as("right-aligned under 'source': %s", l)
                    .isEqualTo(source + "source".length()));
  }

  @Test
  void emptySectionsSayNone() {
    Snapshot s =
        new Snapshot(
            true,
            true,
            List.of(),
            List.of(),
            List.of(),
            List.of(),
            List.of(),
            List.of(),
            List.of(),
            new Snapshot.HostState(0, 0, List.of()));
    String t = s.toTable();
    assertThat(t).startsWith("iommufd context: closed, torn down, 0 objects");
    assertThat(section(t, "HWPTs")).containsExactly("  none");
  }
}
