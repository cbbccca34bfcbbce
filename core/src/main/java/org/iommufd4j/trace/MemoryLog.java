package org.iommufd4j.trace;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.iommufd4j.inspect.Json;

/**
 * What one call did to user memory and descriptors, in order: every range the engine read (with the
 * bytes, or that it failed), wrote, asked to pin, every descriptor it was given, and for a device
 * call the eventfds it took, the interrupts it signalled and the DMA a model made. Collected for
 * the call the current thread executes ({@link #begin}/{@link #end}), by whatever {@code
 * UserMemory} and file table the front end uses; recorded by {@code exec --record} and compared by
 * {@link Replayer}.
 */
public final class MemoryLog {
  private static final ThreadLocal<MemoryLog> CURRENT = new ThreadLocal<>();
  private static final HexFormat HEX = HexFormat.of();

  /** What an operation was. */
  public enum Kind {
    READ,
    WRITE,
    PINNABLE,
    FD,
    GETFD,
    EVENTFD,
    IRQ,
    DMA;

    /** Whether the operation is on program memory (what a replay maps and seeds). */
    boolean onMemory() {
      return this == READ || this == WRITE || this == PINNABLE;
    }
  }

  /**
   * One operation. READ/WRITE: {@code bytes} are what was read or written (null when it failed);
   * PINNABLE: {@code write} asked for write access; FD: the engine reserved descriptor {@code fd},
   * which became file {@code file}; GETFD: descriptor {@code fd} named file {@code file} (0: none,
   * -1: no descriptor at all); EVENTFD: the eventfd descriptor {@code fd} was taken over ({@code
   * file} its number in the recording, from 1, or -errno); IRQ: vfio-pci signalled the eventfd of
   * IRQ index {@code fd}, vector {@code address}; DMA: the model moved {@code length} bytes at IOVA
   * {@code address}, to memory if {@code write}, {@code ok} unless the IOMMU faulted.
   */
  public record Op(
      Kind kind,
      int pid,
      long address,
      long length,
      boolean write,
      boolean ok,
      byte[] bytes,
      int fd,
      long file) {

    Map<String, Object> toMap() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("op", kind.name().toLowerCase(Locale.ROOT));
      switch (kind) {
        case FD, GETFD, EVENTFD -> {
          m.put("fd", (long) fd);
          m.put(fileKey(kind), file);
        }
        case IRQ -> {
          m.put("index", (long) fd);
          m.put("vector", address);
        }
        case DMA -> {
          m.put("iova", Trace.hex(address));
          m.put("length", length);
          m.put("write", write);
          m.put("ok", ok);
        }
        default -> {
          m.put("pid", (long) pid);
          m.put("address", Trace.hex(address));
          m.put("length", length);
          if (kind == Kind.PINNABLE) {
            m.put("write", write);
          }
          m.put("ok", ok);
          if (bytes != null) {
            m.put("bytes", HEX.formatHex(bytes));
          }
        }
      }
      return m;
    }

    /** The key naming the open file an fd-kind op records: an eventfd's own, or the fd's file. */
    private static String fileKey(Kind kind) {
      return kind == Kind.EVENTFD ? "eventfd" : "file";
    }

    static Op fromMap(Map<?, ?> m) {
      Kind kind = Kind.valueOf(((String) m.get("op")).toUpperCase(Locale.ROOT));
      return switch (kind) {
        case FD, GETFD, EVENTFD ->
            new Op(
                kind,
                0,
                0,
                0,
                false,
                true,
                null,
                ((Long) m.get("fd")).intValue(),
                (Long) m.get(fileKey(kind)));
        case IRQ ->
            new Op(
                kind,
                0,
                (Long) m.get("vector"),
                0,
                false,
                true,
                null,
                ((Long) m.get("index")).intValue(),
                0);
        case DMA ->
            new Op(
                kind,
                0,
                Trace.parseHex((String) m.get("iova")),
                (Long) m.get("length"),
                Boolean.TRUE.equals(m.get("write")),
                Boolean.TRUE.equals(m.get("ok")),
                null,
                0,
                0);
        default -> {
          Object b = m.get("bytes");
          yield new Op(
              kind,
              ((Long) m.get("pid")).intValue(),
              Trace.parseHex((String) m.get("address")),
              (Long) m.get("length"),
              Boolean.TRUE.equals(m.get("write")),
              Boolean.TRUE.equals(m.get("ok")),
              b == null ? null : HEX.parseHex((String) b),
              0,
              0);
        }
      };
    }

    /** Same operation with the same outcome and bytes. */
    boolean sameAs(Op o) {
      return kind == o.kind
          && pid == o.pid
          && address == o.address
          && length == o.length
          && write == o.write
          && ok == o.ok
          && Arrays.equals(bytes, o.bytes)
          && fd == o.fd;
    }

    @Override
    public String toString() {
      return Json.line(toMap());
    }
  }

  private final List<Op> ops = new ArrayList<>();

  /** Starts collecting for the current thread's call; returns the log. */
  public static MemoryLog begin() {
    MemoryLog log = new MemoryLog();
    CURRENT.set(log);
    return log;
  }

  /** Stops collecting on this thread. */
  public static void end() {
    CURRENT.remove();
  }

  /** The log of the call this thread executes, or null when none is being recorded. */
  public static MemoryLog current() {
    return CURRENT.get();
  }

  public synchronized List<Op> ops() {
    return List.copyOf(ops);
  }

  public synchronized void read(int pid, long address, MemorySegment dst, boolean ok) {
    ops.add(
        new Op(
            Kind.READ,
            pid,
            address,
            dst.byteSize(),
            false,
            ok,
            ok ? dst.toArray(ValueLayout.JAVA_BYTE) : null,
            0,
            0));
  }

  public synchronized void write(int pid, long address, MemorySegment src, boolean ok) {
    ops.add(
        new Op(
            Kind.WRITE,
            pid,
            address,
            src.byteSize(),
            false,
            ok,
            src.toArray(ValueLayout.JAVA_BYTE),
            0,
            0));
  }

  public synchronized void pinnable(int pid, long address, long length, boolean write, boolean ok) {
    ops.add(new Op(Kind.PINNABLE, pid, address, length, write, ok, null, 0, 0));
  }

  public synchronized void fd(int fd, long file) {
    ops.add(new Op(Kind.FD, 0, 0, 0, false, true, null, fd, file));
  }

  public synchronized void getFd(int fd, long file) {
    ops.add(new Op(Kind.GETFD, 0, 0, 0, false, true, null, fd, file));
  }

  /** Eventfd {@code fd} was taken over as eventfd {@code eventfd} of the recording, or -errno. */
  public synchronized void eventfd(int fd, long eventfd) {
    ops.add(new Op(Kind.EVENTFD, 0, 0, 0, false, true, null, fd, eventfd));
  }

  /** Notes, in the log of the call this thread executes (if any), an interrupt signalled. */
  public static void irq(int index, int vector) {
    MemoryLog log = current();
    if (log != null) {
      synchronized (log) {
        log.ops.add(new Op(Kind.IRQ, 0, vector, 0, false, true, null, index, 0));
      }
    }
  }

  /** Notes, in the log of the call this thread executes (if any), a model's DMA. */
  public static void dma(long iova, long length, boolean toMemory, boolean ok) {
    MemoryLog log = current();
    if (log != null) {
      synchronized (log) {
        log.ops.add(new Op(Kind.DMA, 0, iova, length, toMemory, ok, null, 0, 0));
      }
    }
  }
}
