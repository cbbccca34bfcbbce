package org.iommufd4j.inspect;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import javax.xml.parsers.DocumentBuilderFactory;
import org.iommufd4j.IovaRange;
import org.iommufd4j.inspect.Snapshot.AreaState;
import org.iommufd4j.inspect.Snapshot.IoasState;
import org.iommufd4j.inspect.Snapshot.Reserved;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

/**
 * The SVG at the XML level (always on; {@code SvgChromiumIT} looks at pixels where Chromium is
 * installed): well-formed, every range drawn once with its tag and listed in the key with its hex
 * bounds, the scale monotonic, minimum widths honoured, nothing external.
 */
class SvgRendererTest {
  private static final String SVG_NS = "http://www.w3.org/2000/svg";

  /** A drawn range: its group's attributes and its rectangle. */
  record Drawn(
      String kind, String tag, long start, long last, double x, double width, String text) {}

  static Document parse(String svg) throws Exception {
    DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
    f.setNamespaceAware(true);
    f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
    return f.newDocumentBuilder()
        .parse(new ByteArrayInputStream(svg.getBytes(StandardCharsets.UTF_8)));
  }

  private static List<Element> elements(Node root, String name) {
    NodeList list =
        root instanceof Document d
            ? d.getElementsByTagNameNS(SVG_NS, name)
            : ((Element) root).getElementsByTagNameNS(SVG_NS, name);
    List<Element> out = new ArrayList<>();
    for (int i = 0; i < list.getLength(); i++) {
      out.add((Element) list.item(i));
    }
    return out;
  }

  private static Element panel(Document doc, int ioasId) {
    return elements(doc, "g").stream()
        .filter(g -> g.getAttribute("data-ioas").equals(String.valueOf(ioasId)))
        .findFirst()
        .orElseThrow();
  }

  private static long hex(String s) {
    assertThat(s).startsWith("0x");
    return Long.parseUnsignedLong(s.substring(2), 16);
  }

  static List<Drawn> drawn(Element panel) {
    List<Drawn> out = new ArrayList<>();
    for (Element g : elements(panel, "g")) {
      if (!g.hasAttribute("data-kind")) {
        continue;
      }
      Element rect = elements(g, "rect").getFirst();
      List<Element> texts = elements(g, "text");
      out.add(
          new Drawn(
              g.getAttribute("data-kind"),
              g.getAttribute("data-tag"),
              hex(g.getAttribute("data-start")),
              hex(g.getAttribute("data-last")),
              Double.parseDouble(rect.getAttribute("x")),
              Double.parseDouble(rect.getAttribute("width")),
              texts.isEmpty() ? "" : texts.getFirst().getTextContent()));
    }
    return out;
  }

  private static List<String> keyLines(Element panel, String tag) {
    return elements(panel, "text").stream()
        .filter(
            t -> t.getAttribute("class").equals("key") && t.getAttribute("data-tag").equals(tag))
        .map(Element::getTextContent)
        .toList();
  }

  @Test
  void everyRangeIsDrawnExactlyOnceWithItsTagAndKeyedWithItsHexBounds() throws Exception {
    Snapshot s = Samples.everything();
    Document doc = parse(s.toSvg());
    assertThat(doc.getDocumentElement().getLocalName()).isEqualTo("svg");
    Element panel = panel(doc, 1);
    List<Drawn> drawn = drawn(panel);
    IoasState ioas = s.ioases().getFirst();

    List<Drawn> areas = drawn.stream().filter(d -> d.kind().equals("area")).toList();
    assertThat(areas)
        .extracting(d -> new IovaRange(d.start(), d.last()))
        .containsExactlyElementsOf(
            ioas.areas().stream().map(a -> new IovaRange(a.iova(), a.last())).toList());
    List<Drawn> reserved = drawn.stream().filter(d -> d.kind().equals("reserved")).toList();
    assertThat(reserved)
        .extracting(d -> new IovaRange(d.start(), d.last()))
        .containsExactlyElementsOf(
            ioas.reserved().stream().map(r -> new IovaRange(r.start(), r.last())).toList());
    List<Drawn> allowed = drawn.stream().filter(d -> d.kind().equals("allowed")).toList();
    assertThat(allowed)
        .extracting(d -> new IovaRange(d.start(), d.last()))
        .containsExactlyElementsOf(ioas.allowed());
    assertThat(drawn.stream().filter(d -> d.kind().equals("aperture")))
        .extracting(d -> new IovaRange(d.start(), d.last()))
        .containsExactly(new IovaRange(0, 0x7fff_ffff_ffff_ffffL));

    for (List<Drawn> kind : List.of(areas, reserved, allowed)) {
      for (Drawn d : kind) {
        assertThat(d.text()).as("label of %s", d).startsWith(d.tag());
        assertThat(keyLines(panel, d.tag()))
            .as("key of %s", d.tag())
            .singleElement()
            .satisfies(
                line ->
                    assertThat(line)
                        .contains(
                            d.kind(),
                            Format.hex(d.start()),
                            Format.hex(d.last()),
                            Format.size(d.start(), d.last())));
      }
    }
    assertThat(drawn.stream().map(Drawn::tag).filter(t -> !t.isEmpty()))
        .as("tags are unique")
        .doesNotHaveDuplicates();
    assertThat(keyLines(panel, "R2").getFirst()).contains("domain of hwpt 3");
    assertThat(keyLines(panel, "R3").getFirst()).contains("device 2");
    assertThat(keyLines(panel, "A3").getFirst()).contains("unpopulated");
    assertThat(keyLines(panel, "A4").getFirst()).contains("prevent-access", "2 access pins");
  }

  @Test
  void holesFillExactlyTheAllowedSpaceThatIsNeitherAnAreaNorReserved() throws Exception {
    Snapshot s = Samples.everything();
    IoasState ioas = s.ioases().getFirst();
    assertThat(ioas.allowed()).containsExactly(new IovaRange(0x1000, 0xffff_ffffL));
    List<Drawn> drawn = drawn(panel(parse(s.toSvg()), 1));
    List<IovaRange> holes =
        drawn.stream()
            .filter(d -> d.kind().equals("hole"))
            .map(d -> new IovaRange(d.start(), d.last()))
            .toList();
    List<IovaRange> used = new ArrayList<>();
    ioas.areas().forEach(a -> used.add(new IovaRange(a.iova(), a.last())));
    for (Reserved r : ioas.reserved()) {
      used.add(new IovaRange(r.start(), r.last()));
    }
    // Walk the allowed range: every address is in a hole or in something used, never both, and
    // no hole reaches outside it (ALLOW_IOVAS forbids the rest).
    List<IovaRange> all = new ArrayList<>(holes);
    all.addAll(used);
    all.sort(Comparator.comparing(r -> new BigInteger(Long.toUnsignedString(r.start()))));
    BigInteger covered = BigInteger.valueOf(0x1000);
    for (IovaRange r : all) {
      BigInteger start = new BigInteger(Long.toUnsignedString(r.start()));
      if (start.compareTo(BigInteger.valueOf(0xffff_ffffL)) > 0) {
        break;
      }
      assertThat(start).as("gap before %s", r).isLessThanOrEqualTo(covered);
      covered = covered.max(new BigInteger(Long.toUnsignedString(r.last())).add(BigInteger.ONE));
    }
    assertThat(covered).isGreaterThan(BigInteger.valueOf(0xffff_ffffL));
    for (IovaRange h : holes) {
      assertThat(used)
          .noneMatch(
              u ->
                  Long.compareUnsigned(u.start(), h.last()) <= 0
                      && Long.compareUnsigned(h.start(), u.last()) <= 0);
      assertThat(Long.compareUnsigned(h.start(), 0x1000)).as("%s", h).isGreaterThanOrEqualTo(0);
      assertThat(Long.compareUnsigned(h.last(), 0xffff_ffffL)).as("%s", h).isLessThanOrEqualTo(0);
    }
    assertThat(holes)
        .contains(new IovaRange(0x2000, 0xf_ffff))
        .doesNotContain(new IovaRange(0, 0xfff));
    List<IovaRange> emptyIoas =
        drawn(panel(parse(s.toSvg()), 7)).stream()
            .filter(d -> d.kind().equals("hole"))
            .map(d -> new IovaRange(d.start(), d.last()))
            .toList();
    assertThat(emptyIoas)
        .as("no ALLOW_IOVAS list: all of the space is free")
        .containsExactly(new IovaRange(0, -1L));
  }

  @Test
  void theLegendExplainsOnlyWhatThePictureShows() throws Exception {
    Document many = parse(Samples.manyAreas(3).toSvg());
    List<String> legend =
        elements(many.getDocumentElement(), "g").stream()
            .filter(g -> g.getAttribute("class").equals("legend"))
            .findFirst()
            .map(g -> elements(g, "text").stream().map(Element::getTextContent).toList())
            .orElseThrow();
    assertThat(legend)
        .contains("area rw", "hole (free)")
        .doesNotContain("reserved: domain", "reserved: device", "allowed", "aperture");
    Document all = parse(Samples.everything().toSvg());
    List<String> full =
        elements(all.getDocumentElement(), "g").stream()
            .filter(g -> g.getAttribute("class").equals("legend"))
            .findFirst()
            .map(g -> elements(g, "text").stream().map(Element::getTextContent).toList())
            .orElseThrow();
    assertThat(full)
        .contains(
            "reserved: domain",
            "reserved: device",
            "reserved: test",
            "allowed",
            "aperture",
            "unpopulated",
            "waits for accesses");
  }

  @Test
  void tickLabelsReadAcrossAndNeverOverlapOnARow() throws Exception {
    Element panel = panel(parse(Samples.everything().toSvg()), 1);
    List<Element> labels =
        elements(panel, "text").stream()
            .filter(t -> t.getAttribute("class").equals("tick-label"))
            .toList();
    assertThat(labels).isNotEmpty().noneMatch(t -> t.hasAttribute("transform"));
    Map<String, List<double[]>> rows = new HashMap<>();
    for (Element t : labels) {
      double x = Double.parseDouble(t.getAttribute("x"));
      rows.computeIfAbsent(t.getAttribute("y"), y -> new ArrayList<>())
          .add(new double[] {x, x + t.getTextContent().length() * 6.1});
    }
    for (List<double[]> row : rows.values()) {
      row.sort(Comparator.comparingDouble(r -> r[0]));
      for (int k = 1; k < row.size(); k++) {
        assertThat(row.get(k)[0]).isGreaterThanOrEqualTo(row.get(k - 1)[1]);
      }
    }
  }

  @Test
  void accessesAreNamedAsObjectsNotCounted() throws Exception {
    Element panel = panel(parse(Samples.everything().toSvg()), 1);
    assertThat(panel.getTextContent()).contains("accesses access 5");
  }

  @Test
  void theScaleIsMonotonicAndEveryRangeIsAtLeastTheMinimumWidth() throws Exception {
    Document doc = parse(Samples.everything().toSvg());
    for (int ioas : new int[] {1, 7}) {
      Element panel = panel(doc, ioas);
      List<Element> ticks =
          elements(panel, "line").stream()
              .filter(l -> l.getAttribute("class").equals("tick"))
              .toList();
      assertThat(ticks.getFirst().getAttribute("data-iova")).isEqualTo("0x0");
      assertThat(ticks.getLast().getAttribute("data-iova")).isEqualTo("2^64");
      for (int i = 1; i < ticks.size(); i++) {
        double prev = Double.parseDouble(ticks.get(i - 1).getAttribute("x1"));
        double here = Double.parseDouble(ticks.get(i).getAttribute("x1"));
        assertThat(here - prev)
            .as(
                "tick %s after %s",
                ticks.get(i).getAttribute("data-iova"), ticks.get(i - 1).getAttribute("data-iova"))
            .isGreaterThanOrEqualTo(IovaAxis.MIN_WIDTH - 0.01);
        if (i < ticks.size() - 1) {
          assertThat(
                  Long.compareUnsigned(
                      hex(ticks.get(i - 1).getAttribute("data-iova")),
                      hex(ticks.get(i).getAttribute("data-iova"))))
              .isNegative();
        }
      }
      List<Drawn> drawn = drawn(panel);
      for (Drawn a : drawn) {
        assertThat(a.width())
            .as("width of %s", a)
            .isGreaterThanOrEqualTo(IovaAxis.MIN_WIDTH - 0.01);
        for (Drawn b : drawn) {
          if (Long.compareUnsigned(a.start(), b.start()) < 0) {
            assertThat(a.x()).as("%s left of %s", a, b).isLessThan(b.x());
          }
          if (Long.compareUnsigned(a.last(), b.last()) < 0) {
            assertThat(a.x() + a.width())
                .as("%s ends before %s", a, b)
                .isLessThan(b.x() + b.width());
          }
        }
      }
    }
  }

  @Test
  void aTinyAndAHugeRangeInOneIoasAreBothReadable() throws Exception {
    List<Drawn> drawn = drawn(panel(parse(Samples.everything().toSvg()), 1));
    Drawn tiny = drawn.stream().filter(d -> d.tag().equals("A1")).findFirst().orElseThrow();
    Drawn huge = drawn.stream().filter(d -> d.tag().equals("R2")).findFirst().orElseThrow();
    assertThat(huge.last() - huge.start() + 1).isEqualTo(1L << 63);
    assertThat(tiny.last() - tiny.start() + 1).isEqualTo(4096);
    assertThat(tiny.width()).isGreaterThanOrEqualTo(IovaAxis.MIN_WIDTH);
    assertThat(huge.width())
        .isGreaterThan(tiny.width())
        .as("log-compressed: not 2^51 times wider")
        .isLessThan(tiny.width() * 40);
    assertThat(huge.text()).contains("R2", "domain of hwpt 3", "8 EiB");
  }

  @Test
  void longEmptyStretchesAreCutOutWithAMarkerAndTheirSize() throws Exception {
    Document doc = parse(Samples.everything().toSvg());
    List<Element> breaks =
        elements(panel(doc, 1), "g").stream()
            .filter(g -> g.getAttribute("class").equals("break"))
            .toList();
    // [0x1_0000_1000, 2^63 - 1]: empty between the test reserved range and the domain's
    assertThat(breaks)
        .anySatisfy(
            b -> {
              assertThat(b.getAttribute("data-first")).isEqualTo("0x100001000");
              assertThat(b.getAttribute("data-last")).isEqualTo("0x7fffffffffffffff");
              assertThat(elements(b, "polyline")).hasSize(2);
            });
    List<Element> emptyIoas =
        elements(panel(doc, 7), "g").stream()
            .filter(g -> g.getAttribute("class").equals("break"))
            .toList();
    assertThat(emptyIoas)
        .singleElement()
        .satisfies(
            b -> {
              assertThat(b.getAttribute("data-first")).isEqualTo("0x0");
              assertThat(b.getAttribute("data-last")).isEqualTo("0xffffffffffffffff");
              assertThat(b.getTextContent()).contains("16 EiB");
            });
  }

  @Test
  void manyAreasAreDrawnInGroupsThatCoverThemAll() throws Exception {
    Snapshot s = Samples.manyAreas(250);
    List<Drawn> drawn = drawn(panel(parse(s.toSvg()), 1));
    List<Drawn> groups = drawn.stream().filter(d -> d.kind().equals("area-group")).toList();
    assertThat(groups).hasSizeLessThanOrEqualTo(IovaMap.MAX_AREA_ITEMS);
    assertThat(drawn).noneMatch(d -> d.kind().equals("area"));
    List<AreaState> areas = s.ioases().getFirst().areas();
    assertThat(groups.getFirst().start()).isEqualTo(areas.getFirst().iova());
    assertThat(groups.getLast().last()).isEqualTo(areas.getLast().last());
    assertThat(groups.getFirst().tag()).isEqualTo("A1-A3");
    assertThat(groups.getLast().tag()).isEqualTo("A250");
  }

  @Test
  void theSvgIsSelfContained() throws Exception {
    String svg = Samples.everything().toSvg();
    assertThat(svg)
        .doesNotContain(
            "<script", "href", "@import", "@font-face", "http://www.w3" + ".org/1999/xlink")
        .doesNotContainPattern("url\\((?!#)");
    Document doc = parse(svg);
    assertThat(elements(doc, "style")).hasSize(1);
    assertThat(doc.getDocumentElement().getAttribute("viewBox")).matches("0 0 \\d+ \\d+");
  }

  @Test
  void anEmptyContextIsAValidPictureSayingSo() throws Exception {
    Snapshot s =
        new Snapshot(
            false,
            false,
            List.of(),
            List.of(),
            List.of(),
            List.of(),
            List.of(),
            List.of(),
            List.of(),
            new Snapshot.HostState(0, 0, List.of()));
    String svg = s.toSvg();
    parse(svg);
    assertThat(svg).contains("no IOAS in this context");
  }

  @Test
  void eachVfioDeviceIsABlockWithItsBarsInterruptsAndDma() throws Exception {
    Document doc = parse(Samples.withVfioDevices().toSvg());
    List<Element> blocks =
        elements(doc, "g").stream().filter(g -> g.hasAttribute("data-bdf")).toList();
    assertThat(blocks)
        .extracting(g -> g.getAttribute("data-device") + " " + g.getAttribute("data-bdf"))
        .containsExactly("9 0000:00:04.0", "10 0000:00:05.0");
    Element edu = blocks.get(0);
    assertThat(edu.getTextContent())
        .contains(
            "0000:00:04.0 1234:11e8 · device 9 · group 0 via cdev · hwpt 3",
            "BAR0 mem32 1 MiB",
            "MSI: 1 vector, 1 eventfd",
            "3 reads (12288 B), 2 writes (8 B)",
            "1 translation fault, last at 0xdeadb000");
    Element other = blocks.get(1);
    assertThat(other.getTextContent())
        .contains("group 1 via group · not attached", "INTX: 1 vector, 1 eventfd, masked")
        .doesNotContain("translation fault");
    List<Element> bars =
        elements(other, "g").stream()
            .filter(g -> g.getAttribute("class").startsWith("bar"))
            .toList();
    assertThat(bars)
        .extracting(g -> g.getAttribute("data-index") + " " + g.getAttribute("data-size"))
        .containsExactly("0 0x4000", "2 0x20");
    double firstEnd =
        Double.parseDouble(elements(bars.get(0), "rect").getFirst().getAttribute("x"))
            + Double.parseDouble(elements(bars.get(0), "rect").getFirst().getAttribute("width"));
    assertThat(Double.parseDouble(elements(bars.get(1), "rect").getFirst().getAttribute("x")))
        .as("BARs side by side")
        .isGreaterThan(firstEnd);
    assertThat(Samples.everything().toSvg()).doesNotContain("VFIO devices");
  }

  @Test
  void textIsEscaped() throws Exception {
    assertThat(SvgRenderer.esc("a<b & \"c\">")).isEqualTo("a&lt;b &amp; &quot;c&quot;&gt;");
  }
}
