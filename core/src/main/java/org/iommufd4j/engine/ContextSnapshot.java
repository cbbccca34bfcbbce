package org.iommufd4j.engine;

import java.util.ArrayList;
import java.util.List;
import org.iommufd4j.IovaRange;

/**
 * What a context holds at one moment, as plain values: its objects, and for each IOAS its areas,
 * reserved ranges (with their owners) and allowed ranges; plus the machine's pins and the
 * caller's memory-lock charges. {@link #toTable()} is the compact text dump that failing tests
 * print; tools (an {@code inspect} command, JSON, pictures) can build on the same records.
 *
 * @param pinnedPages the sum of every frame's pin count on the context's host
 * @param lockedPagesUser pages charged to the caller's user (USER accounting)
 * @param lockedPagesProcess pages charged to the caller's process (MM accounting)
 */
public record ContextSnapshot(boolean closed, boolean tornDown, List<ObjectRow> objects,
    List<IoasRow> ioases, long pinnedPages, long lockedPagesUser, long lockedPagesProcess) {

  public ContextSnapshot {
    objects = List.copyOf(objects);
    ioases = List.copyOf(ioases);
  }

  /** One object of the table: its id, type and a short description. */
  public record ObjectRow(int id, ObjectType type, String detail) {}

  /** One IOAS with its IOVA space. */
  public record IoasRow(int id, long alignment, boolean hugePages, int domains, int accesses,
      List<AreaRow> areas, List<ReservedRow> reserved, List<IovaRange> allowed) {
    public IoasRow {
      areas = List.copyOf(areas);
      reserved = List.copyOf(reserved);
      allowed = List.copyOf(allowed);
    }
  }

  /**
   * One area: {@code [iova, last]} showing the owner's memory from {@code userVa}.
   *
   * @param prot {@code r}, {@code w}, {@code rw} or {@code -}
   */
  public record AreaRow(long iova, long last, long userVa, String prot) {
    public long length() {
      return last - iova + 1;
    }
  }

  /** One reserved range and who reserved it ({@code hwpt 3}, {@code device 2}, {@code test}). */
  public record ReservedRow(long start, long last, String owner) {}

  /** Builds the snapshot; takes each IOAS's lock in turn, never two at once. */
  static ContextSnapshot of(Context ctx, Caller caller) {
    List<IommufdObject> all = ctx.table.snapshot();
    List<ObjectRow> objects = new ArrayList<>();
    List<IoasRow> ioases = new ArrayList<>();
    for (IommufdObject o : all) {
      objects.add(new ObjectRow(o.id(), o.type(), detail(o)));
      if (o instanceof IoasObject ioas) {
        ioases.add(ioasRow(ioas, all));
      }
    }
    Host host = ctx.host();
    return new ContextSnapshot(ctx.isClosed(), ctx.isTornDown(), objects, ioases,
        host.totalPins(), caller == null ? 0 : host.lockedPagesOfUser(caller.uid()),
        caller == null ? 0 : host.lockedPagesOfProcess(caller.pid()));
  }

  private static String detail(IommufdObject o) {
    if (o instanceof HwPagetable h) {
      return "ioas=" + h.ioas.id() + (h.auto ? " auto" : "");
    }
    if (o instanceof Device d) {
      HwPagetable h = d.attached;
      return h == null ? "detached" : "hwpt=" + h.id();
    }
    return "";
  }

  private static IoasRow ioasRow(IoasObject ioas, List<IommufdObject> all) {
    ioas.lock.lock();
    try {
      IoPagetable iopt = ioas.iopt;
      List<AreaRow> areas = new ArrayList<>();
      iopt.areas.forEach(a -> areas.add(new AreaRow(a.iova, a.last, a.userAddress(),
          prot(a.prot()))));
      List<ReservedRow> reserved = new ArrayList<>();
      for (ReservedRanges.Range r : iopt.reserved.ranges()) {
        reserved.add(new ReservedRow(r.start(), r.last(), owner(r.owner(), all)));
      }
      return new IoasRow(ioas.id(), iopt.align(), iopt.hugePages(), iopt.domains.size(),
          iopt.accesses().size(), areas, reserved, iopt.allowedRanges());
    } finally {
      ioas.lock.unlock();
    }
  }

  private static String prot(int prot) {
    return switch (prot & (Area.PROT_READ | Area.PROT_WRITE)) {
      case Area.PROT_READ -> "r";
      case Area.PROT_WRITE -> "w";
      case Area.PROT_READ | Area.PROT_WRITE -> "rw";
      default -> "-";
    };
  }

  private static String owner(Object owner, List<IommufdObject> all) {
    if (owner instanceof IommufdObject o) {
      return o.type().name().toLowerCase(java.util.Locale.ROOT) + " " + o.id();
    }
    for (IommufdObject o : all) {
      if (o instanceof HwPagetable h && h.domain == owner) {
        return "hwpt " + h.id();
      }
    }
    return owner instanceof Domain ? "domain" : String.valueOf(owner);
  }

  // ---- text ------------------------------------------------------------------------------

  /** The compact table: objects, then each IOAS's areas, reserved and allowed ranges. */
  public String toTable() {
    StringBuilder out = new StringBuilder();
    out.append("iommufd context: ").append(objects.size()).append(" objects")
        .append(closed ? (tornDown ? ", closed" : ", closed but held (an access fd is open)") : "")
        .append("; pinned pages=").append(pinnedPages)
        .append(", locked pages user=").append(lockedPagesUser)
        .append(" process=").append(lockedPagesProcess).append('\n');
    if (!objects.isEmpty()) {
      out.append(String.format("  %5s  %-12s %s%n", "id", "type", "detail"));
      for (ObjectRow o : objects) {
        out.append(String.format("  %5d  %-12s %s", o.id(), o.type(), o.detail()).stripTrailing())
            .append('\n');
      }
    }
    for (IoasRow r : ioases) {
      out.append("IOAS ").append(r.id()).append(": alignment=").append(hex(r.alignment()))
          .append(" hugePages=").append(r.hugePages()).append(" domains=").append(r.domains())
          .append(" accesses=").append(r.accesses()).append(" areas=").append(r.areas().size())
          .append('\n');
      for (AreaRow a : r.areas()) {
        out.append(String.format("  area      %-18s .. %-18s length=%s user_va=%s %s%n",
            hex(a.iova()), hex(a.last()), hex(a.length()), hex(a.userVa()), a.prot()));
      }
      for (ReservedRow v : r.reserved()) {
        out.append(String.format("  reserved  %-18s .. %-18s owner=%s%n", hex(v.start()),
            hex(v.last()), v.owner()));
      }
      for (IovaRange v : r.allowed()) {
        out.append(String.format("  allowed   %-18s .. %s%n", hex(v.start()), hex(v.last())));
      }
    }
    return out.toString();
  }

  private static String hex(long v) {
    return "0x" + Long.toHexString(v);
  }
}
