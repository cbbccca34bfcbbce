package org.iommufd4j.inspect;

import static org.iommufd4j.inspect.Format.hex;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.iommufd4j.IovaRange;
import org.iommufd4j.inspect.Snapshot.AreaState;
import org.iommufd4j.inspect.Snapshot.HwptState;
import org.iommufd4j.inspect.Snapshot.IoasState;
import org.iommufd4j.inspect.Snapshot.Reserved;

/**
 * What the picture of one IOVA space shows, before any geometry: the ranges of each lane as tagged
 * {@link Item}s (P1.. apertures of the attached domains, R1.. reserved ranges, L1.. allowed ranges,
 * A1.. areas) and the holes, the free IOVA that is neither an area nor reserved. More than {@link
 * #MAX_AREA_ITEMS} areas are drawn in groups of consecutive areas.
 */
record IovaMap(
    List<Item> apertures,
    List<Item> reserved,
    List<Item> allowed,
    List<Item> areas,
    List<Item> holes) {
  /** More areas than this in one IOAS are drawn in groups of consecutive areas. */
  static final int MAX_AREA_ITEMS = 100;

  /**
   * One drawn range.
   *
   * @param kind {@code aperture}, {@code reserved}, {@code allowed}, {@code area}, {@code
   *     area-group} or {@code hole}
   * @param tag short name shown on the picture and in the key; empty for holes
   * @param css the classes that pick its colours
   * @param label a few words for the picture
   * @param detail everything else, for the key and the tooltip
   */
  record Item(
      String kind, String tag, long start, long last, String css, String label, String detail) {}

  static IovaMap of(IoasState ioas, List<HwptState> hwpts) {
    List<Item> reserved = reserved(ioas);
    List<Item> areas = areas(ioas);
    List<Item> allowed = allowed(ioas);
    return new IovaMap(
        apertures(ioas, hwpts), reserved, allowed, areas, holes(areas, reserved, allowed));
  }

  private static List<Item> apertures(IoasState ioas, List<HwptState> hwpts) {
    List<Item> out = new ArrayList<>();
    for (int id : ioas.domainHwptIds()) {
      HwptState h = hwpts.stream().filter(x -> x.id() == id).findFirst().orElse(null);
      if (h == null || h.aperture() == null) {
        continue;
      }
      IovaRange a = h.aperture();
      out.add(
          new Item(
              "aperture",
              "P" + (out.size() + 1),
              a.start(),
              a.last(),
              "aperture",
              "hwpt " + id + " aperture",
              h.domainModel()
                  + " domain, page sizes "
                  + Format.pageSizes(h.pageSizes())
                  + ", "
                  + h.ioPageTableEntries()
                  + " entries"));
    }
    return out;
  }

  private static List<Item> reserved(IoasState ioas) {
    List<Item> out = new ArrayList<>();
    for (Reserved r : ioas.reserved()) {
      out.add(
          new Item(
              "reserved",
              "R" + (out.size() + 1),
              r.start(),
              r.last(),
              "reserved-" + r.owner().name().toLowerCase(Locale.ROOT),
              r.ownerName(),
              "reserved by " + r.ownerName()));
    }
    return out;
  }

  private static List<Item> allowed(IoasState ioas) {
    List<Item> out = new ArrayList<>();
    for (IovaRange r : ioas.allowed()) {
      out.add(
          new Item(
              "allowed",
              "L" + (out.size() + 1),
              r.start(),
              r.last(),
              "allowed",
              "allowed",
              "ALLOW_IOVAS range"));
    }
    return out;
  }

  private static List<Item> areas(IoasState ioas) {
    List<AreaState> all = ioas.areas();
    List<Item> out = new ArrayList<>();
    if (all.size() <= MAX_AREA_ITEMS) {
      for (AreaState a : all) {
        String css =
            switch (a.protection()) {
                  case "rw" -> "area-rw";
                  case "r-" -> "area-r";
                  case "-w" -> "area-w";
                  default -> "area-none";
                }
                + (a.populated() ? "" : " unpopulated")
                + (a.preventAccess() ? " prevent-access" : "");
        String tag = "A" + (out.size() + 1);
        out.add(
            new Item(
                "area",
                tag,
                a.iova(),
                a.last(),
                css,
                a.protection(),
                a.protection()
                    + ", source #"
                    + a.pageSourceId()
                    + " + "
                    + hex(a.pageOffset())
                    + ", user address "
                    + hex(a.userAddress())
                    + ", "
                    + a.pinnedPages()
                    + " pinned pages, "
                    + a.accessPins()
                    + " access pins"
                    + (a.populated() ? "" : ", unpopulated")
                    + (a.preventAccess() ? ", prevent-access" : "")));
      }
      return out;
    }
    int per = (all.size() + MAX_AREA_ITEMS - 1) / MAX_AREA_ITEMS;
    for (int from = 0; from < all.size(); from += per) {
      int to = Math.min(all.size(), from + per) - 1;
      String tag = "A" + (from + 1) + (to > from ? "-A" + (to + 1) : "");
      out.add(
          new Item(
              "area-group",
              tag,
              all.get(from).iova(),
              all.get(to).last(),
              "area-group",
              (to - from + 1) + " areas",
              (to - from + 1)
                  + " consecutive areas (more than "
                  + MAX_AREA_ITEMS
                  + " areas: drawn in groups)"));
    }
    return out;
  }

  /**
   * The free IOVA: inside the allowed ranges (all of the space when ALLOW_IOVAS set none), and
   * neither an area nor reserved.
   */
  private static List<Item> holes(List<Item> areas, List<Item> reserved, List<Item> allowed) {
    List<Item> used = new ArrayList<>(areas);
    used.addAll(reserved);
    used.sort((a, b) -> Long.compareUnsigned(a.start, b.start));
    List<BigInteger[]> space = new ArrayList<>();
    if (allowed.isEmpty()) {
      space.add(new BigInteger[] {BigInteger.ZERO, Format.TWO_64.subtract(BigInteger.ONE)});
    }
    for (Item a : allowed) {
      space.add(new BigInteger[] {Format.unsigned(a.start), Format.unsigned(a.last)});
    }
    List<Item> out = new ArrayList<>();
    for (BigInteger[] range : space) {
      BigInteger next = range[0]; // first address of the range not known to be used
      for (Item u : used) {
        BigInteger s = Format.unsigned(u.start).max(range[0]);
        BigInteger last = Format.unsigned(u.last).min(range[1]);
        if (s.compareTo(last) > 0) {
          continue; // outside this range
        }
        if (s.compareTo(next) > 0) {
          out.add(hole(next, s.subtract(BigInteger.ONE)));
        }
        next = next.max(last.add(BigInteger.ONE));
      }
      if (next.compareTo(range[1]) <= 0) {
        out.add(hole(next, range[1]));
      }
    }
    return out;
  }

  private static Item hole(BigInteger start, BigInteger last) {
    return new Item(
        "hole", "", start.longValue(), last.longValue(), "hole", "free", "hole: free IOVA");
  }
}
