package org.iommufd4j.engine;

import java.util.ArrayList;
import java.util.List;

/** Test-only view of the areas of one IOAS, read under its lock. */
public final class IoasAreas {
  private IoasAreas() {}

  /** One area: inclusive IOVA range, protection (READ 1, WRITE 2) and byte offset in its source. */
  public record View(long iova, long last, int prot, long sourceOffset) {
    @Override
    public String toString() {
      return String.format("[0x%x, 0x%x] prot=%d", iova, last, prot);
    }
  }

  /** The areas of IOAS {@code ioasId}, ascending. */
  public static List<View> of(Context ctx, int ioasId) {
    IoasObject ioas = ctx.ioas(ioasId);
    ioas.lock.lock();
    try {
      List<View> out = new ArrayList<>();
      for (Area a : ioas.iopt.areas) {
        out.add(new View(a.iova, a.last, a.prot(), a.pagesOffset()));
      }
      return out;
    } finally {
      ioas.lock.unlock();
    }
  }
}
