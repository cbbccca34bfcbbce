package org.iommufd4j.inspect;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.iommufd4j.IovaRange;
import org.iommufd4j.inspect.Snapshot.AccessPin;
import org.iommufd4j.inspect.Snapshot.AccessState;
import org.iommufd4j.inspect.Snapshot.Account;
import org.iommufd4j.inspect.Snapshot.AreaState;
import org.iommufd4j.inspect.Snapshot.BarState;
import org.iommufd4j.inspect.Snapshot.DeviceState;
import org.iommufd4j.inspect.Snapshot.DmaState;
import org.iommufd4j.inspect.Snapshot.FaultQueueState;
import org.iommufd4j.inspect.Snapshot.HostState;
import org.iommufd4j.inspect.Snapshot.HwptState;
import org.iommufd4j.inspect.Snapshot.IoasState;
import org.iommufd4j.inspect.Snapshot.IrqState;
import org.iommufd4j.inspect.Snapshot.ObjectEntry;
import org.iommufd4j.inspect.Snapshot.PageSourceState;
import org.iommufd4j.inspect.Snapshot.Reserved;
import org.iommufd4j.inspect.Snapshot.VfioState;

/**
 * The JSON form of a {@link Snapshot}, version 1. Field names are the record components' names
 * except where noted; they are stable, and a later version only adds fields. IOVAs, addresses,
 * offsets, alignments and page-size bitmaps are strings of lower-case hex ({@code "0x1000"}),
 * because u64 values do not survive JSON numbers in most readers; ids and counts are numbers; enums
 * are their constant names.
 *
 * {@snippet lang=json :
 * { "format": "iommufd4j-snapshot", "version": 1, "closed": false, "tornDown": false,
 *   "objects": [ {"id": 1, "type": "IOAS", "users": 2}, ... ],
 *   "ioases": [ { "id": 1, "alignment": "0x1000", "hugePages": true,
 *       "allowed": [ {"start": "0x100000000", "last": "0x1ffffffff"} ],
 *       "reserved": [ {"start": "0x0", "last": "0xffffff", "owner": "DOMAIN", "ownerId": 3} ],
 *       "areas": [ {"iova": "0x1000000", "last": "0x100ffff", "userAddress": "0x7f...",
 *                   "pageSource": 1, "pageOffset": "0x0", "readable": true, "writable": true,
 *                   "populated": true, "preventAccess": false, "pinnedPages": 16,
 *                   "accessPins": 0} ],
 *       "domainHwpts": [3], "accesses": [] } ],
 *   "hwpts": [ {"id": 3, "type": "HWPT_PAGING", "automatic": true, "nestParent": false,
 *               "ioas": 1, "parent": 0, "domainModel": "radix",
 *               "aperture": {"start": "0x0", "last": "0xffffffffffff"},
 *               "pageSizes": "0x40201000", "ioPageTableEntries": 3,
 *               "dirtyTrackingCapable": false, "dirtyTracking": false, "fault": 0,
 *               "devices": [2]} ],
 *   "devices": [ {"id": 2, "hwpt": 3, "model": "radix", "aperture": {...}, "pageSizes": "0x...",
 *                 "reservedRegions": [...], "selftest": 0, "flags": 0, "vfio": null} ],
 *   "accesses": [ {"id": 5, "ioas": 1, "pinsPages": true,
 *                  "pins": [ {"iova": "0x1000000", "length": "0x2000", "uses": 1} ]} ],
 *   "faultQueues": [ {"id": 6, "fdOpen": true, "pending": 0, "awaiting": 0} ],
 *   "pageSources": [ {"id": 1, "base": "0x7f...", "pageCount": 16, "writable": true,
 *                     "ownerPid": 42, "ownerUid": 1000, "accounting": "USER",
 *                     "pinnedPages": 16} ],
 *   "host": {"pinnedFrames": 18, "chargedPages": 18,
 *            "accounts": [ {"kind": "USER", "id": 1000, "pages": 18} ]} }
 * }
 *
 * <p>Renamed components: {@code IoasState.domainHwptIds} → {@code domainHwpts}, {@code accessIds} →
 * {@code accesses}; {@code AreaState.pageSourceId} → {@code pageSource}; {@code
 * HwptState.ioasId/parentId/faultId/deviceIds} → {@code ioas/parent/fault/devices}; {@code
 * DeviceState.hwptId/selftestId} → {@code hwpt/selftest}; {@code AccessState.ioasId} → {@code
 * ioas}.
 *
 * <p>A device VFIO bound has {@code vfio} (null for any other; absent in documents written before
 * it was added, read as null):
 *
 * {@snippet lang=json :
 * "vfio": { "bdf": "0000:00:04.0", "vendorId": "0x1234", "deviceId": "0x11e8", "group": 0,
 *           "openedVia": "CDEV",
 *           "bars": [ {"index": 0, "type": "MEM32", "prefetchable": false, "size": "0x100000"} ],
 *           "irqs": {"type": "MSI", "vectors": 1, "eventfds": 1, "masked": false},
 *           "dma": {"reads": 1, "readBytes": 64, "writes": 0, "writeBytes": 0, "faults": 1,
 *                   "lastFaultIova": "0xdead000"} }
 * }
 */
public final class JsonFormat {
  /** The {@code format} field's value. */
  public static final String FORMAT = "iommufd4j-snapshot";

  /** The {@code version} this code writes and reads. */
  public static final int VERSION = 1;

  private JsonFormat() {}

  // ---- writing --------------------------------------------------------------------------------

  static String write(Snapshot s) {
    Map<String, Object> root = new LinkedHashMap<>();
    root.put("format", FORMAT);
    root.put("version", (long) VERSION);
    root.put("closed", s.closed());
    root.put("tornDown", s.tornDown());
    root.put(
        "objects",
        list(s.objects(), o -> obj("id", o.id(), "type", o.type().name(), "users", o.users())));
    root.put("ioases", list(s.ioases(), JsonFormat::ioas));
    root.put("hwpts", list(s.hwpts(), JsonFormat::hwpt));
    root.put(
        "devices",
        list(
            s.devices(),
            d ->
                obj(
                    "id",
                    d.id(),
                    "hwpt",
                    d.hwptId(),
                    "model",
                    d.model(),
                    "aperture",
                    range(d.aperture()),
                    "pageSizes",
                    hex(d.pageSizes()),
                    "reservedRegions",
                    list(d.reservedRegions(), JsonFormat::range),
                    "selftest",
                    d.selftestId(),
                    "flags",
                    d.flags(),
                    "vfio",
                    d.vfio() == null ? null : vfio(d.vfio()))));
    root.put(
        "accesses",
        list(
            s.accesses(),
            a ->
                obj(
                    "id",
                    a.id(),
                    "ioas",
                    a.ioasId(),
                    "pinsPages",
                    a.pinsPages(),
                    "pins",
                    list(
                        a.pins(),
                        p ->
                            obj(
                                "iova",
                                hex(p.iova()),
                                "length",
                                hex(p.length()),
                                "uses",
                                p.uses())))));
    root.put(
        "faultQueues",
        list(
            s.faultQueues(),
            f ->
                obj(
                    "id",
                    f.id(),
                    "fdOpen",
                    f.fdOpen(),
                    "pending",
                    f.pending(),
                    "awaiting",
                    f.awaiting())));
    root.put(
        "pageSources",
        list(
            s.pageSources(),
            p ->
                obj(
                    "id",
                    p.id(),
                    "base",
                    hex(p.base()),
                    "pageCount",
                    p.pageCount(),
                    "writable",
                    p.writable(),
                    "ownerPid",
                    p.ownerPid(),
                    "ownerUid",
                    p.ownerUid(),
                    "accounting",
                    p.accounting().name(),
                    "pinnedPages",
                    p.pinnedPages())));
    HostState h = s.host();
    root.put(
        "host",
        obj(
            "pinnedFrames",
            h.pinnedFrames(),
            "chargedPages",
            h.chargedPages(),
            "accounts",
            list(
                h.accounts(),
                a -> obj("kind", a.kind().name(), "id", a.id(), "pages", a.pages()))));
    return Json.print(root);
  }

  private static Map<String, Object> ioas(IoasState i) {
    return obj(
        "id",
        i.id(),
        "alignment",
        hex(i.alignment()),
        "hugePages",
        i.hugePages(),
        "allowed",
        list(i.allowed(), JsonFormat::range),
        "reserved",
        list(
            i.reserved(),
            r ->
                obj(
                    "start",
                    hex(r.start()),
                    "last",
                    hex(r.last()),
                    "owner",
                    r.owner().name(),
                    "ownerId",
                    r.ownerId())),
        "areas",
        list(
            i.areas(),
            a ->
                obj(
                    "iova",
                    hex(a.iova()),
                    "last",
                    hex(a.last()),
                    "userAddress",
                    hex(a.userAddress()),
                    "pageSource",
                    a.pageSourceId(),
                    "pageOffset",
                    hex(a.pageOffset()),
                    "readable",
                    a.readable(),
                    "writable",
                    a.writable(),
                    "populated",
                    a.populated(),
                    "preventAccess",
                    a.preventAccess(),
                    "pinnedPages",
                    a.pinnedPages(),
                    "accessPins",
                    a.accessPins())),
        "domainHwpts",
        ints(i.domainHwptIds()),
        "accesses",
        ints(i.accessIds()));
  }

  private static Map<String, Object> hwpt(HwptState h) {
    return obj(
        "id",
        h.id(),
        "type",
        h.type().name(),
        "automatic",
        h.automatic(),
        "nestParent",
        h.nestParent(),
        "ioas",
        h.ioasId(),
        "parent",
        h.parentId(),
        "domainModel",
        h.domainModel(),
        "aperture",
        range(h.aperture()),
        "pageSizes",
        hex(h.pageSizes()),
        "ioPageTableEntries",
        h.ioPageTableEntries(),
        "dirtyTrackingCapable",
        h.dirtyTrackingCapable(),
        "dirtyTracking",
        h.dirtyTracking(),
        "fault",
        h.faultId(),
        "devices",
        ints(h.deviceIds()));
  }

  private static Map<String, Object> vfio(VfioState v) {
    IrqState irqs = v.irqs();
    DmaState dma = v.dma();
    return obj(
        "bdf",
        v.bdf(),
        "vendorId",
        hex(v.vendorId()),
        "deviceId",
        hex(v.deviceId()),
        "group",
        v.group(),
        "openedVia",
        v.openedVia().name(),
        "summary",
        v.summary(),
        "bars",
        list(
            v.bars(),
            b ->
                obj(
                    "index",
                    b.index(),
                    "type",
                    b.type().name(),
                    "prefetchable",
                    b.prefetchable(),
                    "size",
                    hex(b.size()))),
        "irqs",
        obj(
            "type",
            irqs.type().name(),
            "vectors",
            irqs.vectors(),
            "eventfds",
            irqs.eventfds(),
            "masked",
            irqs.masked()),
        "dma",
        obj(
            "reads",
            dma.reads(),
            "readBytes",
            dma.readBytes(),
            "writes",
            dma.writes(),
            "writeBytes",
            dma.writeBytes(),
            "faults",
            dma.faults(),
            "lastFaultIova",
            hex(dma.lastFaultIova())));
  }

  private static Map<String, Object> obj(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      Object v = kv[i + 1];
      m.put((String) kv[i], v instanceof Integer n ? (Object) n.longValue() : v);
    }
    return m;
  }

  private static <T> List<Object> list(List<T> items, Function<T, Object> f) {
    List<Object> out = new ArrayList<>(items.size());
    items.forEach(t -> out.add(f.apply(t)));
    return out;
  }

  private static List<Object> ints(List<Integer> ids) {
    return list(ids, Integer::longValue);
  }

  private static Object range(IovaRange r) {
    return r == null ? null : obj("start", hex(r.start()), "last", hex(r.last()));
  }

  private static String hex(long v) {
    return Format.hex(v);
  }

  // ---- reading --------------------------------------------------------------------------------

  static Snapshot read(String text) {
    Node root = new Node(Json.parse(text), "$");
    if (!FORMAT.equals(root.str("format"))) {
      throw new IllegalArgumentException(
          "not an iommufd4j snapshot (format is not \"" + FORMAT + "\")");
    }
    long version = root.num("version");
    if (version != VERSION) {
      throw new IllegalArgumentException("snapshot version " + version + ", this reads " + VERSION);
    }
    return new Snapshot(
        root.bool("closed"),
        root.bool("tornDown"),
        root.list(
            "objects",
            o ->
                new ObjectEntry(
                    o.i("id"), Snapshot.ObjectType.valueOf(o.str("type")), o.i("users"))),
        root.list("ioases", JsonFormat::readIoas),
        root.list("hwpts", JsonFormat::readHwpt),
        root.list(
            "devices",
            d ->
                new DeviceState(
                    d.i("id"),
                    d.i("hwpt"),
                    d.str("model"),
                    d.range("aperture"),
                    d.hex("pageSizes"),
                    d.list("reservedRegions", Node::asRange),
                    d.i("selftest"),
                    d.i("flags"),
                    d.has("vfio") && d.node("vfio").value() != null
                        ? readVfio(d.node("vfio"))
                        : null)),
        root.list(
            "accesses",
            a ->
                new AccessState(
                    a.i("id"),
                    a.i("ioas"),
                    a.bool("pinsPages"),
                    a.list(
                        "pins",
                        p -> new AccessPin(p.hex("iova"), p.hex("length"), p.num("uses"))))),
        root.list(
            "faultQueues",
            f -> new FaultQueueState(f.i("id"), f.bool("fdOpen"), f.i("pending"), f.i("awaiting"))),
        root.list(
            "pageSources",
            p ->
                new PageSourceState(
                    p.i("id"),
                    p.hex("base"),
                    p.num("pageCount"),
                    p.bool("writable"),
                    p.i("ownerPid"),
                    p.i("ownerUid"),
                    Snapshot.Accounting.valueOf(p.str("accounting")),
                    p.num("pinnedPages"))),
        readHost(root.node("host")));
  }

  private static IoasState readIoas(Node i) {
    return new IoasState(
        i.i("id"),
        i.hex("alignment"),
        i.bool("hugePages"),
        i.list("allowed", Node::asRange),
        i.list(
            "reserved",
            r ->
                new Reserved(
                    r.hex("start"),
                    r.hex("last"),
                    Snapshot.OwnerKind.valueOf(r.str("owner")),
                    r.i("ownerId"))),
        i.list(
            "areas",
            a ->
                new AreaState(
                    a.hex("iova"),
                    a.hex("last"),
                    a.hex("userAddress"),
                    a.i("pageSource"),
                    a.hex("pageOffset"),
                    a.bool("readable"),
                    a.bool("writable"),
                    a.bool("populated"),
                    a.bool("preventAccess"),
                    a.num("pinnedPages"),
                    a.num("accessPins"))),
        i.list("domainHwpts", Node::asInt),
        i.list("accesses", Node::asInt));
  }

  private static HwptState readHwpt(Node h) {
    return new HwptState(
        h.i("id"),
        Snapshot.ObjectType.valueOf(h.str("type")),
        h.bool("automatic"),
        h.bool("nestParent"),
        h.i("ioas"),
        h.i("parent"),
        h.str("domainModel"),
        h.range("aperture"),
        h.hex("pageSizes"),
        h.num("ioPageTableEntries"),
        h.bool("dirtyTrackingCapable"),
        h.bool("dirtyTracking"),
        h.i("fault"),
        h.list("devices", Node::asInt));
  }

  private static VfioState readVfio(Node v) {
    Node irqs = v.node("irqs");
    Node dma = v.node("dma");
    return new VfioState(
        v.str("bdf"),
        Math.toIntExact(v.hex("vendorId")),
        Math.toIntExact(v.hex("deviceId")),
        v.i("group"),
        Snapshot.OpenPath.valueOf(v.str("openedVia")),
        v.list(
            "bars",
            b ->
                new BarState(
                    b.i("index"),
                    Snapshot.BarType.valueOf(b.str("type")),
                    b.bool("prefetchable"),
                    b.hex("size"))),
        new IrqState(
            Snapshot.IrqType.valueOf(irqs.str("type")),
            irqs.i("vectors"),
            irqs.i("eventfds"),
            irqs.bool("masked")),
        new DmaState(
            dma.num("reads"),
            dma.num("readBytes"),
            dma.num("writes"),
            dma.num("writeBytes"),
            dma.num("faults"),
            dma.hex("lastFaultIova")),
        v.has("summary") ? v.str("summary") : ""); // documents from before it have none
  }

  private static HostState readHost(Node h) {
    return new HostState(
        h.num("pinnedFrames"),
        h.num("chargedPages"),
        h.list(
            "accounts",
            a ->
                new Account(
                    Snapshot.AccountKind.valueOf(a.str("kind")), a.i("id"), a.num("pages"))));
  }

  /** A parsed value and where it sits in the document, for error messages. */
  private record Node(Object value, String path) {
    private Object field(String name) {
      if (!(value instanceof Map<?, ?> m)) {
        throw new IllegalArgumentException(path + " is not an object");
      }
      if (!m.containsKey(name)) {
        throw new IllegalArgumentException(path + "." + name + " is missing");
      }
      return m.get(name);
    }

    private <T> T typed(String name, Class<T> type) {
      Object v = field(name);
      if (!type.isInstance(v)) {
        throw new IllegalArgumentException(path + "." + name + " is not a " + type.getSimpleName());
      }
      return type.cast(v);
    }

    boolean has(String name) {
      return value instanceof Map<?, ?> m && m.containsKey(name);
    }

    Node node(String name) {
      return new Node(field(name), path + "." + name);
    }

    String str(String name) {
      return typed(name, String.class);
    }

    boolean bool(String name) {
      return typed(name, Boolean.class);
    }

    long num(String name) {
      return typed(name, Long.class);
    }

    int i(String name) {
      return Math.toIntExact(num(name));
    }

    long hex(String name) {
      return parseHex(str(name), path + "." + name);
    }

    IovaRange range(String name) {
      Object v = field(name);
      return v == null ? null : node(name).asRange();
    }

    IovaRange asRange() {
      return new IovaRange(hex("start"), hex("last"));
    }

    int asInt() {
      if (!(value instanceof Long l)) {
        throw new IllegalArgumentException(path + " is not a number");
      }
      return Math.toIntExact(l);
    }

    <T> List<T> list(String name, Function<Node, T> f) {
      List<?> items = typed(name, List.class);
      List<T> out = new ArrayList<>(items.size());
      for (int k = 0; k < items.size(); k++) {
        out.add(f.apply(new Node(items.get(k), path + "." + name + "[" + k + "]")));
      }
      return out;
    }

    private static long parseHex(String s, String where) {
      if (!s.startsWith("0x") || s.length() < 3 || s.length() > 18) {
        throw new IllegalArgumentException(where + " is not a hex u64: " + s);
      }
      try {
        return Long.parseUnsignedLong(s.substring(2), 16);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(where + " is not a hex u64: " + s);
      }
    }
  }
}
