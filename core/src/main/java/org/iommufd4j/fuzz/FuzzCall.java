package org.iommufd4j.fuzz;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One call of a fuzz case, replayable byte for byte: the bytes to store in simulated memory first
 * (the struct, nested arrays), then the call on descriptor {@code fd}: {@code ioctl(fd, request,
 * arg)}, or one of the pseudo requests for the other system calls a VFIO program makes.
 *
 * @param fd the descriptor called: {@link #IOMMUFD} (the case's iommufd), or one the emulator
 *     handed out (a VFIO group or device file, an access fd)
 * @param offset the file offset of {@link #PREAD}, {@link #PWRITE} and {@link #MMAP}
 * @param count the byte count of {@link #PREAD} and {@link #PWRITE}, the length of {@link #MMAP}
 */
public record FuzzCall(
    long request, long arg, List<Write> writes, int fd, long offset, long count) {
  /** The case's iommufd (also the container its VFIO groups are set to). */
  public static final int IOMMUFD = 3;

  /** Pseudo request: close the descriptor {@code arg}. */
  public static final long CLOSE_FD = -1;

  /** Pseudo request: open {@code /dev/vfio/devices/vfio<arg>}; answers the descriptor. */
  public static final long OPEN_CDEV = -2;

  /** Pseudo request: open {@code /dev/vfio/<arg>}; answers the descriptor. */
  public static final long OPEN_GROUP = -3;

  /** Pseudo request: {@code pread(fd, arg, count, offset)}. */
  public static final long PREAD = -4;

  /** Pseudo request: {@code pwrite(fd, arg, count, offset)}. */
  public static final long PWRITE = -5;

  /**
   * Pseudo request: the checks of {@code mmap(NULL, count, arg & 0xffffffff, arg >>> 32, fd,
   * offset)}.
   */
  public static final long MMAP = -6;

  /** Bytes stored at an address before the call. */
  public record Write(long address, byte[] bytes) {}

  public FuzzCall {
    writes = List.copyOf(writes);
  }

  /** {@code ioctl(IOMMUFD, request, arg)}, or {@link #CLOSE_FD}. */
  public FuzzCall(long request, long arg, List<Write> writes) {
    this(request, arg, writes, IOMMUFD, 0, 0);
  }

  /** Whether the request is one of the pseudo requests (a system call other than ioctl). */
  public boolean isPseudo() {
    return request < 0;
  }

  private static final HexFormat HEX = HexFormat.of();
  private static final Pattern LINE =
      Pattern.compile(
          "\\{\"request\":\"(0x[0-9a-f]+|-[0-9])\",\"arg\":\"0x([0-9a-f]+)\""
              + "(?:,\"fd\":(-?[0-9]+))?(?:,\"offset\":\"0x([0-9a-f]+)\")?"
              + "(?:,\"count\":\"0x([0-9a-f]+)\")?,\"writes\":\\[(.*)]}");
  private static final Pattern WRITE =
      Pattern.compile("\\{\"address\":\"0x([0-9a-f]+)\",\"bytes\":\"([0-9a-f]*)\"}");

  /** One JSON line; {@code fd}, {@code offset} and {@code count} appear when they matter. */
  public String toJson() {
    StringBuilder sb = new StringBuilder();
    sb.append("{\"request\":\"")
        .append(isPseudo() ? Long.toString(request) : "0x" + Long.toHexString(request))
        .append("\",\"arg\":\"0x")
        .append(Long.toHexString(arg))
        .append('"');
    if (fd != IOMMUFD) {
      sb.append(",\"fd\":").append(fd);
    }
    if (offset != 0) {
      sb.append(",\"offset\":\"0x").append(Long.toHexString(offset)).append('"');
    }
    if (count != 0) {
      sb.append(",\"count\":\"0x").append(Long.toHexString(count)).append('"');
    }
    sb.append(",\"writes\":[");
    for (int i = 0; i < writes.size(); i++) {
      Write w = writes.get(i);
      sb.append(i == 0 ? "" : ",")
          .append("{\"address\":\"0x")
          .append(Long.toHexString(w.address()))
          .append("\",\"bytes\":\"")
          .append(HEX.formatHex(w.bytes()))
          .append("\"}");
    }
    return sb.append("]}").toString();
  }

  /** Parses a line written by {@link #toJson()}. */
  public static FuzzCall fromJson(String line) {
    Matcher m = LINE.matcher(line.strip());
    if (!m.matches()) {
      throw new IllegalArgumentException("not a fuzz call: " + line);
    }
    long request =
        m.group(1).startsWith("-")
            ? Long.parseLong(m.group(1))
            : Long.parseUnsignedLong(m.group(1).substring(2), 16);
    List<Write> writes = new ArrayList<>();
    Matcher w = WRITE.matcher(m.group(6));
    while (w.find()) {
      writes.add(new Write(Long.parseUnsignedLong(w.group(1), 16), HEX.parseHex(w.group(2))));
    }
    return new FuzzCall(
        request,
        Long.parseUnsignedLong(m.group(2), 16),
        writes,
        m.group(3) == null ? IOMMUFD : Integer.parseInt(m.group(3)),
        m.group(4) == null ? 0 : Long.parseUnsignedLong(m.group(4), 16),
        m.group(5) == null ? 0 : Long.parseUnsignedLong(m.group(5), 16));
  }
}
