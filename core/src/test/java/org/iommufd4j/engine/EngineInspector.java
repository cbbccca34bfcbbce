package org.iommufd4j.engine;

import java.util.ArrayList;
import java.util.List;

/**
 * Test-only window into a {@link Context}: reads the state of every IOAS so a differential test can
 * compare it with a reference model. It lives in the engine's package (test sources) and uses the
 * package-private fields directly, so the main code needs no inspection API beyond {@code
 * ObjectTable#snapshot()}.
 */
public final class EngineInspector {
  private EngineInspector() {}

  /** One area as the engine holds it; {@code source} is the page source object (its identity). */
  public record AreaView(
      long iova,
      long last,
      int prot,
      Object source,
      long sourceBase,
      boolean sourceWritable,
      long sourceOffset) {}

  /** A reserved range (start, last inclusive). */
  public record RangeView(long start, long last) {}

  /** Everything of one IOAS that the model also knows. */
  public record IoasView(
      int id,
      List<AreaView> areas,
      List<RangeView> reserved,
      List<RangeView> allowed,
      boolean hugePages,
      long align) {}

  /** The published IOASes of {@code ctx}, ascending by id. */
  public static List<IoasView> ioases(Context ctx) {
    List<IoasView> out = new ArrayList<>();
    for (IommufdObject o : ctx.table.snapshot()) {
      if (o instanceof IoasObject ioas) {
        ioas.lock.lock();
        try {
          out.add(view(ioas));
        } finally {
          ioas.lock.unlock();
        }
      }
    }
    return out;
  }

  /** Ids of every published object, ascending. */
  public static List<Integer> objectIds(Context ctx) {
    List<Integer> ids = new ArrayList<>();
    for (IommufdObject o : ctx.table.snapshot()) {
      ids.add(o.id);
    }
    return ids;
  }

  private static IoasView view(IoasObject ioas) {
    IoPagetable iopt = ioas.iopt;
    List<AreaView> areas = new ArrayList<>(iopt.areas.size());
    for (Area a : iopt.areas) {
      PageSource p = a.pagesForReading();
      areas.add(
          new AreaView(
              a.iova, a.last, a.prot(), a.sourceIdentity(), p.base, p.writable, a.pagesOffset()));
    }
    List<RangeView> reserved = new ArrayList<>();
    for (ReservedRanges.Range r : iopt.reserved.ranges()) {
      reserved.add(new RangeView(r.start(), r.last()));
    }
    List<RangeView> allowed = new ArrayList<>();
    iopt.allowedRanges().forEach(r -> allowed.add(new RangeView(r.start(), r.last())));
    return new IoasView(ioas.id, areas, reserved, allowed, iopt.hugePages(), iopt.align());
  }
}
