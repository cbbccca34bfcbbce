package org.iommufd4j.inspect;

import static org.iommufd4j.inspect.Format.hex;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.iommufd4j.IovaRange;
import org.iommufd4j.inspect.IovaMap.Item;
import org.iommufd4j.inspect.Snapshot.BarState;
import org.iommufd4j.inspect.Snapshot.BarType;
import org.iommufd4j.inspect.Snapshot.DeviceState;
import org.iommufd4j.inspect.Snapshot.DmaState;
import org.iommufd4j.inspect.Snapshot.HwptState;
import org.iommufd4j.inspect.Snapshot.IoasState;
import org.iommufd4j.inspect.Snapshot.IrqState;
import org.iommufd4j.inspect.Snapshot.IrqType;
import org.iommufd4j.inspect.Snapshot.VfioState;

/**
 * {@link Snapshot#toSvg()}: one panel per IOAS. Lanes from top to bottom: the apertures of the
 * attached domains, the reserved ranges (overlapping ones on extra rows), the allowed ranges, and
 * the areas with the holes (free IOVA) between them, over an {@link IovaAxis} whose ticks carry the
 * hex address of every cut point. Each range is tagged (A1 area, R1 reserved, L1 allowed, P1
 * aperture) and a key under the panel lists its hex bounds, size and details.
 *
 * <p>Under the panels, each device VFIO bound gets a block: its address, ids, group, binding and
 * HWPT, its BARs as boxes, its interrupt state and its DMA with translation faults.
 *
 * <p>Self-contained: no scripts, no external fonts or images. Every range is a {@code <g
 * class="item">} with {@code data-kind}, {@code data-tag}, {@code data-start} and {@code
 * data-last}, so tools and tests can find it.
 */
final class SvgRenderer {
  private static final double LEFT = 104;
  private static final double RIGHT = 24;
  private static final double TARGET_WIDTH = 1120;
  private static final double ROW = 26;
  private static final double ROW_GAP = 5;
  private static final double LANE_GAP = 10;
  private static final double CHAR = 6.7; // advance of an 11 px monospace glyph
  private static final double KEY_LINE = 16;
  private static final double TICK_CHAR = 6.1; // advance of a 10 px monospace glyph
  private static final double TICK_ROW = 13;
  private static final String FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace";

  private final Snapshot snapshot;
  private final StringBuilder body = new StringBuilder();
  private double maxWidth = TARGET_WIDTH + LEFT + RIGHT;

  SvgRenderer(Snapshot snapshot) {
    this.snapshot = snapshot;
  }

  String render() {
    double y = 96;
    if (snapshot.ioases().isEmpty()) {
      text(body, LEFT, y + 20, "note", "no IOAS in this context");
      y += 40;
    }
    for (IoasState ioas : snapshot.ioases()) {
      y = panel(ioas, y) + 28;
    }
    y = vfioDevices(y);
    double width = Math.ceil(maxWidth);
    double height = Math.ceil(y);
    StringBuilder svg = new StringBuilder();
    svg.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"")
        .append(num(width))
        .append("\" height=\"")
        .append(num(height))
        .append("\" viewBox=\"0 0 ")
        .append(num(width))
        .append(' ')
        .append(num(height))
        .append("\" font-family=\"")
        .append(FONT)
        .append("\" font-size=\"11\">\n")
        .append("<title>iommufd4j inspect: IOVA spaces</title>\n");
    defs(svg);
    svg.append("<rect class=\"page\" x=\"0\" y=\"0\" width=\"")
        .append(num(width))
        .append("\" height=\"")
        .append(num(height))
        .append("\"/>\n");
    header(svg);
    svg.append(body);
    svg.append("</svg>\n");
    return svg.toString();
  }

  private static void defs(StringBuilder svg) {
    svg.append(
        """
        <defs>
          <pattern id="hatch-domain" width="6" height="6" patternUnits="userSpaceOnUse" \
        patternTransform="rotate(45)">
            <rect width="6" height="6" fill="#e5e7eb"/>
            <line x1="0" y1="0" x2="0" y2="6" stroke="#9ca3af" stroke-width="3"/>
          </pattern>
          <pattern id="hatch-device" width="6" height="6" patternUnits="userSpaceOnUse" \
        patternTransform="rotate(-45)">
            <rect width="6" height="6" fill="#fde68a"/>
            <line x1="0" y1="0" x2="0" y2="6" stroke="#f59e0b" stroke-width="3"/>
          </pattern>
        </defs>
        <style>
          .page { fill: #ffffff; }
          .h1 { font-size: 16px; font-weight: bold; fill: #0f172a; }
          .h2 { font-size: 13px; font-weight: bold; fill: #0f172a; }
          .sub, .note { fill: #475569; }
          .lane { fill: #334155; font-weight: bold; }
          .item rect { stroke: #ffffff; stroke-width: 1; }
          .item text { font-size: 11px; }
          .area-rw rect { fill: #2563eb; } .area-rw text { fill: #ffffff; }
          .area-r rect { fill: #93c5fd; } .area-r text { fill: #0b1f44; }
          .area-w rect { fill: #7c3aed; } .area-w text { fill: #ffffff; }
          .area-none rect { fill: #cbd5e1; } .area-none text { fill: #0f172a; }
          .area-group rect { fill: #1d4ed8; } .area-group text { fill: #ffffff; }
          .unpopulated rect { stroke: #0f172a; stroke-dasharray: 3 2; }
          .prevent-access rect { stroke: #dc2626; stroke-width: 2; }
          .hole rect { fill: #f8fafc; stroke: #94a3b8; stroke-dasharray: 4 3; }
          .hole text { fill: #64748b; }
          .reserved-domain rect { fill: url(#hatch-domain); }
          .reserved-domain text { fill: #111827; }
          .reserved-device rect { fill: url(#hatch-device); }
          .reserved-device text { fill: #451a03; }
          .reserved-test rect { fill: #e9d5ff; stroke: #9333ea; }
          .reserved-test text { fill: #3b0764; }
          .allowed rect { fill: #bbf7d0; stroke: #16a34a; } .allowed text { fill: #14532d; }
          .aperture rect { fill: #e0f2fe; stroke: #0284c7; } .aperture text { fill: #0c4a6e; }
          .axis line { stroke: #64748b; }
          .tick-label { font-size: 10px; fill: #334155; }
          .break rect, .break-band rect { fill: #ffffff; }
          .break polyline { fill: none; stroke: #475569; stroke-width: 1.5; }
          .break text { font-size: 10px; fill: #475569; }
          .key { fill: #1e293b; white-space: pre; }
          .key-head { fill: #64748b; white-space: pre; }
          .bar rect { fill: #fef3c7; stroke: #b45309; } .bar text { fill: #451a03; }
          .bar.io rect { fill: #ede9fe; stroke: #6d28d9; }
          .faults { fill: #b91c1c; font-weight: bold; }
        </style>
        """);
  }

  private void header(StringBuilder svg) {
    int areas = snapshot.ioases().stream().mapToInt(i -> i.areas().size()).sum();
    text(svg, 16, 24, "h1", "iommufd4j inspect: IOVA spaces");
    text(
        svg,
        16,
        42,
        "sub",
        snapshot.ioases().size()
            + " IOAS, "
            + Format.count(areas, "area")
            + ", "
            + Format.count(snapshot.hwpts().size(), "HWPT")
            + ", "
            + Format.count(snapshot.devices().size(), "device")
            + "; host: "
            + Format.count(snapshot.host().pinnedFrames(), "frame pin")
            + ", "
            + Format.count(snapshot.host().chargedPages(), "page")
            + " charged. Widths are not to scale: every "
            + "range is at least "
            + (int) IovaAxis.MIN_WIDTH
            + " px and grows with log(size).");
    String[][] legend = {
      {"area-rw", "area rw"},
      {"area-r", "area r"},
      {"area-w", "area w"},
      {"area-none", "area (no access)"},
      {"area-group", "consecutive areas"},
      {"area-rw unpopulated", "unpopulated"},
      {"area-rw prevent-access", "waits for accesses"},
      {"hole", "hole (free)"},
      {"reserved-domain", "reserved: domain"},
      {"reserved-device", "reserved: device"},
      {"reserved-test", "reserved: test"},
      {"allowed", "allowed"},
      {"aperture", "aperture"}
    };
    double x = 16;
    svg.append("<g class=\"legend\">\n");
    for (String[] l : legend) {
      if (!uses(l[0])) {
        continue; // the key explains only what the picture shows
      }
      svg.append("<g class=\"item ")
          .append(l[0])
          .append("\"><rect x=\"")
          .append(num(x))
          .append("\" y=\"52\" width=\"18\" height=\"12\"/></g>");
      text(svg, x + 22, 62, "sub", l[1]);
      x += 34 + l[1].length() * CHAR;
    }
    if (body.indexOf("<g class=\"break\"") >= 0) {
      svg.append("<g class=\"break\"><rect x=\"")
          .append(num(x))
          .append("\" y=\"50\" " + "width=\"14\" height=\"16\"/>");
      zigzag(svg, x + 2, 50, 66);
      zigzag(svg, x + 12, 50, 66);
      svg.append("</g>");
      text(svg, x + 20, 62, "sub", "cut-out empty stretch");
      x += 20 + 21 * CHAR;
    }
    maxWidth = Math.max(maxWidth, x + RIGHT);
    svg.append("</g>\n");
  }

  /** Whether a drawn range has the legend entry's classes (a modifier such as unpopulated too). */
  private boolean uses(String css) {
    String[] classes = css.split(" ");
    String wanted = classes[classes.length - 1];
    for (int at = body.indexOf("<g class=\"item ");
        at >= 0;
        at = body.indexOf("<g class=\"item ", at + 1)) {
      int from = at + "<g class=\"item ".length();
      List<String> has = List.of(body.substring(from, body.indexOf("\"", from)).split(" "));
      if (has.contains(wanted)) {
        return true;
      }
    }
    return false;
  }

  // ---- one IOAS -------------------------------------------------------------------------------

  private double panel(IoasState ioas, double top) {
    IovaMap map = IovaMap.of(ioas, snapshot.hwpts());
    List<Item> apertures = map.apertures();
    List<Item> reserved = map.reserved();
    List<Item> allowed = map.allowed();
    List<Item> areas = map.areas();
    List<Item> holes = map.holes();

    List<IovaRange> filled = new ArrayList<>();
    for (List<Item> l : List.of(areas, reserved, allowed)) {
      l.forEach(i -> filled.add(new IovaRange(i.start(), i.last())));
    }
    List<IovaRange> outlines = new ArrayList<>();
    apertures.forEach(i -> outlines.add(new IovaRange(i.start(), i.last())));
    IovaAxis axis = new IovaAxis(filled, outlines, TARGET_WIDTH);
    maxWidth = Math.max(maxWidth, LEFT + axis.width() + RIGHT);

    StringBuilder g = body;
    g.append("<g class=\"ioas\" data-ioas=\"").append(ioas.id()).append("\">\n");
    text(g, 16, top, "h2", "IOAS " + ioas.id());
    text(
        g,
        80,
        top,
        "sub",
        "alignment "
            + hex(ioas.alignment())
            + " · huge pages "
            + (ioas.hugePages() ? "on" : "off")
            + " · domains "
            + domains(ioas)
            + " · accesses "
            + (ioas.accessIds().isEmpty()
                ? "none"
                : String.join(", ", ioas.accessIds().stream().map(id -> "access " + id).toList()))
            + " · "
            + Format.count(ioas.areas().size(), "area"));

    double y = top + 14;
    double lanesTop = y;
    StringBuilder lanes = new StringBuilder();
    y = lane(lanes, axis, "apertures", apertures, y, true);
    y = lane(lanes, axis, "reserved", reserved, y, true);
    y = lane(lanes, axis, "allowed", allowed, y, false);
    List<Item> areaLane = new ArrayList<>(holes);
    areaLane.addAll(areas);
    y = lane(lanes, axis, "areas", areaLane, y, false);
    double lanesBottom = y - LANE_GAP;
    // Breaks go under the ranges (their white band shows only where nothing is drawn) and their
    // zigzags over them (an aperture or hole bar crossing a cut-out stretch shows the cut).
    breaks(g, axis, lanesTop, lanesBottom, true);
    g.append(lanes);
    breaks(g, axis, lanesTop, lanesBottom, false);
    y = ticks(g, axis, lanesBottom + 6);
    List<Item> keyed = new ArrayList<>(apertures);
    keyed.addAll(reserved);
    keyed.addAll(allowed);
    keyed.addAll(areas);
    y = key(g, keyed, y + 10);
    g.append("</g>\n");
    return y;
  }

  // ---- VFIO devices ---------------------------------------------------------------------------

  /**
   * One block per device VFIO bound: who it is and where it is bound, its BARs as boxes (widths
   * grow with log(size), as the IOVA ranges do), then its interrupts and its DMA with faults.
   */
  private double vfioDevices(double y) {
    List<DeviceState> vfio = snapshot.devices().stream().filter(d -> d.vfio() != null).toList();
    if (vfio.isEmpty()) {
      return y;
    }
    body.append("<g class=\"vfio-devices\">\n");
    text(body, 16, y, "h2", "VFIO devices");
    y += 22;
    for (DeviceState d : vfio) {
      y = vfioDevice(d, y) + 20;
    }
    body.append("</g>\n");
    return y;
  }

  private double vfioDevice(DeviceState d, double y) {
    VfioState v = d.vfio();
    StringBuilder g = body;
    g.append("<g class=\"vfio-device\" data-device=\"")
        .append(d.id())
        .append("\" data-bdf=\"")
        .append(esc(v.bdf()))
        .append("\">\n");
    String head =
        v.bdf()
            + " "
            + v.ids()
            + " · device "
            + d.id()
            + " · group "
            + v.group()
            + " via "
            + v.openedVia().name().toLowerCase(Locale.ROOT)
            + " · "
            + (d.hwptId() == 0 ? "not attached" : "hwpt " + d.hwptId());
    text(g, 16, y, "lane", head);
    maxWidth = Math.max(maxWidth, 16 + head.length() * CHAR + RIGHT);
    y += 8;
    double x = LEFT;
    text(g, 16, y + ROW / 2 + 4, "lane", "BARs");
    for (BarState b : v.bars()) {
      String type = b.type().name().toLowerCase(Locale.ROOT) + (b.prefetchable() ? " pf" : "");
      String label = "BAR" + b.index() + " " + type + " " + Format.size(Format.unsigned(b.size()));
      double w =
          Math.max(
              label.length() * CHAR + 12, 40 + 12 * Math.log(Math.max(2, b.size())) / Math.log(2));
      g.append("<g class=\"bar")
          .append(b.type() == BarType.IO ? " io" : "")
          .append("\" data-index=\"")
          .append(b.index())
          .append("\" data-size=\"")
          .append(hex(b.size()))
          .append("\"><title>")
          .append(esc("BAR" + b.index() + ": " + type + ", " + hex(b.size()) + " bytes"))
          .append("</title><rect x=\"")
          .append(num(x))
          .append("\" y=\"")
          .append(num(y))
          .append("\" width=\"")
          .append(num(w))
          .append("\" height=\"")
          .append(num(ROW))
          .append("\"/>");
      text(g, x + w / 2, y + ROW / 2 + 4, null, label, "middle");
      g.append("</g>\n");
      x += w + 4;
    }
    if (v.bars().isEmpty()) {
      text(g, LEFT, y + ROW / 2 + 4, "note", "no BARs");
    }
    maxWidth = Math.max(maxWidth, x + RIGHT);
    y += ROW + 18;
    IrqState irqs = v.irqs();
    String irq =
        irqs.type() == IrqType.NONE
            ? "no interrupts enabled"
            : irqs.type()
                + ": "
                + Format.count(irqs.vectors(), "vector")
                + ", "
                + Format.count(irqs.eventfds(), "eventfd")
                + (irqs.masked() ? ", masked" : "");
    g.append("<g class=\"irqs\" data-type=\"").append(irqs.type()).append("\">");
    text(g, 16, y, "lane", "IRQ");
    text(g, LEFT, y, "sub", irq);
    g.append("</g>\n");
    y += KEY_LINE;
    DmaState dma = v.dma();
    g.append("<g class=\"dma\" data-faults=\"").append(dma.faults()).append("\">");
    text(g, 16, y, "lane", "DMA");
    String transfers =
        Format.count(dma.reads(), "read")
            + " ("
            + dma.readBytes()
            + " B), "
            + Format.count(dma.writes(), "write")
            + " ("
            + dma.writeBytes()
            + " B)";
    text(g, LEFT, y, "sub", transfers);
    if (dma.faults() != 0) {
      text(
          g,
          LEFT + (transfers.length() + 2) * CHAR,
          y,
          "faults",
          Format.count(dma.faults(), "translation fault")
              + ", last at "
              + hex(dma.lastFaultIova()));
    }
    g.append("</g>\n");
    g.append("</g>\n");
    return y;
  }

  private String domains(IoasState ioas) {
    if (ioas.domainHwptIds().isEmpty()) {
      return "none";
    }
    List<String> out = new ArrayList<>();
    for (int id : ioas.domainHwptIds()) {
      HwptState h = hwpt(id);
      out.add("hwpt " + id + (h == null ? "" : " (" + h.domainModel() + ")"));
    }
    return String.join(", ", out);
  }

  private HwptState hwpt(int id) {
    for (HwptState h : snapshot.hwpts()) {
      if (h.id() == id) {
        return h;
      }
    }
    return null;
  }

  // ---- drawing --------------------------------------------------------------------------------

  /** Draws a lane's items on as many rows as overlaps need; returns the y below it. */
  private double lane(
      StringBuilder g, IovaAxis axis, String name, List<Item> items, double y, boolean pack) {
    if (items.isEmpty()) {
      return y;
    }
    List<Double> rowEnds = new ArrayList<>();
    List<Integer> rowOf = new ArrayList<>();
    for (Item it : items) {
      double x0 = axis.xOfStart(it.start());
      int row = 0;
      if (pack) {
        while (row < rowEnds.size() && rowEnds.get(row) > x0) {
          row++;
        }
      }
      if (row == rowEnds.size()) {
        rowEnds.add(0.0);
      }
      rowEnds.set(row, axis.xAfter(it.last()));
      rowOf.add(row);
    }
    text(g, 16, y + ROW / 2 + 4, "lane", name);
    for (int k = 0; k < items.size(); k++) {
      item(g, axis, items.get(k), y + rowOf.get(k) * (ROW + ROW_GAP));
    }
    return y + rowEnds.size() * (ROW + ROW_GAP) - ROW_GAP + LANE_GAP;
  }

  private void item(StringBuilder g, IovaAxis axis, Item it, double y) {
    double x0 = LEFT + axis.xOfStart(it.start());
    double w = axis.xAfter(it.last()) - axis.xOfStart(it.start());
    String bounds = hex(it.start()) + " - " + hex(it.last());
    g.append("<g class=\"item ")
        .append(it.css())
        .append("\" data-kind=\"")
        .append(it.kind())
        .append("\" data-tag=\"")
        .append(esc(it.tag()))
        .append("\" data-start=\"")
        .append(hex(it.start()))
        .append("\" data-last=\"")
        .append(hex(it.last()))
        .append("\">")
        .append("<title>")
        .append(
            esc(
                (it.tag().isEmpty() ? "" : it.tag() + " ")
                    + it.kind()
                    + " "
                    + bounds
                    + " ("
                    + Format.size(it.start(), it.last())
                    + "): "
                    + it.detail()))
        .append("</title>");
    g.append("<rect x=\"")
        .append(num(x0))
        .append("\" y=\"")
        .append(num(y))
        .append("\" width=\"")
        .append(num(w))
        .append("\" height=\"")
        .append(num(ROW))
        .append("\"/>");
    double[] room = labelRoom(axis, x0 - LEFT, x0 - LEFT + w);
    String size = Format.size(it.start(), it.last());
    String[] candidates =
        it.tag().isEmpty()
            ? new String[] {"free " + size, "free", ""}
            : new String[] {
              it.tag() + " " + it.label() + " " + size,
              it.tag() + " " + it.label(),
              it.tag() + " " + size,
              it.tag()
            };
    if (!it.tag().isEmpty() && room[1] - room[0] < it.tag().length() * CHAR + 4) {
      room = new double[] {x0 - LEFT, x0 - LEFT + w}; // all cut out: the tag goes anywhere
    }
    int dash = it.tag().indexOf('-');
    if (dash > 0 && it.tag().length() * CHAR + 6 > room[1] - room[0]) {
      candidates[candidates.length - 1] = it.tag().substring(0, dash) + "+"; // A10-A12 -> A10+
    }
    String last = candidates[candidates.length - 1];
    for (String c : candidates) {
      if (c.length() * CHAR + 6 <= room[1] - room[0] || c.equals(last)) {
        if (!c.isEmpty()) {
          text(g, LEFT + (room[0] + room[1]) / 2, y + ROW / 2 + 4, null, c, "middle");
        }
        break;
      }
    }
    g.append("</g>\n");
  }

  /**
   * The part of {@code [x0, x1]} (axis coordinates) best for a label: the widest piece left between
   * the cut-out stretches it crosses.
   */
  private static double[] labelRoom(IovaAxis axis, double x0, double x1) {
    double[] best = {x0, x0};
    double from = x0;
    for (IovaAxis.Segment b : axis.breaks()) {
      if (b.x1() <= x0 || b.x0() >= x1) {
        continue;
      }
      if (b.x0() - from > best[1] - best[0]) {
        best = new double[] {from, b.x0()};
      }
      from = Math.max(from, b.x1());
    }
    if (x1 - from > best[1] - best[0]) {
      best = new double[] {from, x1};
    }
    return best;
  }

  /** The cut-out stretches: their white bands ({@code under}), or zigzags and sizes. */
  private void breaks(StringBuilder g, IovaAxis axis, double top, double bottom, boolean under) {
    for (IovaAxis.Segment s : axis.breaks()) {
      double x0 = LEFT + s.x0() + 10;
      double x1 = LEFT + s.x1() - 10;
      if (under) {
        g.append("<g class=\"break-band\"><rect x=\"")
            .append(num(x0))
            .append("\" y=\"")
            .append(num(top - 3))
            .append("\" width=\"")
            .append(num(x1 - x0))
            .append("\" height=\"")
            .append(num(bottom - top + 6))
            .append("\"/></g>\n");
        continue;
      }
      g.append("<g class=\"break\" data-first=\"0x")
          .append(s.first().toString(16))
          .append("\" data-last=\"0x")
          .append(s.last().toString(16))
          .append("\">")
          .append("<title>")
          .append(
              esc(
                  "cut out: 0x"
                      + s.first().toString(16)
                      + " - 0x"
                      + s.last().toString(16)
                      + " ("
                      + Format.size(s.last().subtract(s.first()).add(BigInteger.ONE))
                      + "), no area, reserved or allowed range"))
          .append("</title>");
      zigzag(g, x0, top - 3, bottom + 3);
      zigzag(g, x1, top - 3, bottom + 3);
      String size = Format.size(s.last().subtract(s.first()).add(BigInteger.ONE));
      double mid = (x0 + x1) / 2;
      double cy = (top + bottom) / 2;
      if (size.length() * 6.1 + 8 <= bottom - top) {
        g.append("<text x=\"")
            .append(num(mid + 3.5))
            .append("\" y=\"")
            .append(num(cy))
            .append("\" text-anchor=\"middle\" transform=\"rotate(-90 ")
            .append(num(mid + 3.5))
            .append(' ')
            .append(num(cy))
            .append(")\">")
            .append(esc(size))
            .append("</text>");
      }
      g.append("</g>\n");
    }
  }

  private static void zigzag(StringBuilder g, double x, double top, double bottom) {
    StringBuilder pts = new StringBuilder();
    boolean left = true;
    for (double y = top; y < bottom; y += 5) {
      pts.append(num(x + (left ? -2 : 2))).append(',').append(num(y)).append(' ');
      left = !left;
    }
    pts.append(num(x + (left ? -2 : 2))).append(',').append(num(bottom));
    g.append("<polyline points=\"").append(pts).append("\"/>");
  }

  /**
   * The axis line and a tick at every cut point with its hex address, written across and centred
   * under the tick; labels that would collide go on the next row down, joined to their tick.
   */
  private double ticks(StringBuilder g, IovaAxis axis, double y) {
    g.append("<g class=\"axis\"><line x1=\"")
        .append(num(LEFT))
        .append("\" y1=\"")
        .append(num(y))
        .append("\" x2=\"")
        .append(num(LEFT + axis.width()))
        .append("\" y2=\"")
        .append(num(y))
        .append("\"/>\n");
    List<Double> rowEnds = new ArrayList<>();
    for (IovaAxis.Tick t : axis.ticks()) {
      double x = LEFT + t.x();
      String label = t.iova().equals(Format.TWO_64) ? "2^64" : "0x" + t.iova().toString(16);
      double w = label.length() * TICK_CHAR;
      double x0 = Math.max(4, x - w / 2);
      int row = 0;
      while (row < rowEnds.size() && rowEnds.get(row) + 6 > x0) {
        row++;
      }
      if (row == rowEnds.size()) {
        rowEnds.add(0.0);
      }
      rowEnds.set(row, x0 + w);
      double ly = y + 16 + row * TICK_ROW;
      g.append("<line class=\"tick\" data-iova=\"")
          .append(label)
          .append("\" x1=\"")
          .append(num(x))
          .append("\" y1=\"")
          .append(num(y))
          .append("\" x2=\"")
          .append(num(x))
          .append("\" y2=\"")
          .append(num(row == 0 ? y + 5 : ly - 9))
          .append("\"/>");
      g.append("<text class=\"tick-label\" x=\"")
          .append(num(x0))
          .append("\" y=\"")
          .append(num(ly))
          .append("\">")
          .append(label)
          .append("</text>\n");
      maxWidth = Math.max(maxWidth, x0 + w + RIGHT);
    }
    g.append("</g>\n");
    return y + 16 + (rowEnds.size() - 1) * TICK_ROW + 4;
  }

  /** The key: one line per tagged range with its hex bounds, size and details. */
  private double key(StringBuilder g, List<Item> items, double y) {
    if (items.isEmpty()) {
      text(
          g,
          LEFT,
          y,
          "key-head",
          "no areas, reserved or allowed ranges: all of the IOVA space " + "is free");
      return y + KEY_LINE;
    }
    String head =
        String.format(
            Locale.ROOT,
            "%-9s %-10s %-18s %-18s %-11s %s",
            "tag",
            "kind",
            "start",
            "last",
            "size",
            "details");
    text(g, LEFT, y, "key-head", head);
    y += KEY_LINE;
    for (Item it : items) {
      String line =
          String.format(
              Locale.ROOT,
              "%-9s %-10s %-18s %-18s %-11s %s",
              it.tag(),
              it.kind(),
              hex(it.start()),
              hex(it.last()),
              Format.size(it.start(), it.last()),
              it.detail());
      g.append("<text class=\"key\" data-tag=\"")
          .append(esc(it.tag()))
          .append("\" x=\"")
          .append(num(LEFT))
          .append("\" y=\"")
          .append(num(y))
          .append("\">")
          .append(esc(line))
          .append("</text>\n");
      maxWidth = Math.max(maxWidth, LEFT + line.length() * CHAR + RIGHT);
      y += KEY_LINE;
    }
    return y;
  }

  // ---- SVG text helpers -----------------------------------------------------------------------

  private static void text(StringBuilder g, double x, double y, String css, String s) {
    text(g, x, y, css, s, null);
  }

  private static void text(
      StringBuilder g, double x, double y, String css, String s, String anchor) {
    g.append("<text");
    if (css != null) {
      g.append(" class=\"").append(css).append('"');
    }
    g.append(" x=\"").append(num(x)).append("\" y=\"").append(num(y)).append('"');
    if (anchor != null) {
      g.append(" text-anchor=\"").append(anchor).append('"');
    }
    g.append('>').append(esc(s)).append("</text>");
  }

  static String esc(String s) {
    return s.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\"", "&quot;");
  }

  private static String num(double v) {
    if (v == Math.rint(v)) {
      return Long.toString((long) v);
    }
    return String.format(Locale.ROOT, "%.2f", v);
  }
}
