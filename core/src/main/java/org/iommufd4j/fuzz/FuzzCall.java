package org.iommufd4j.fuzz;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One call of a fuzz case, replayable byte for byte: the bytes to store in simulated memory first
 * (the struct, nested arrays), then {@code ioctl(request, arg)}; or, with {@link #CLOSE_FD}, {@code
 * close(arg)} of a descriptor the emulator handed out.
 */
public record FuzzCall(long request, long arg, List<Write> writes) {
  /** Pseudo request: close the descriptor {@code arg}. */
  public static final long CLOSE_FD = -1;

  /** Bytes stored at an address before the call. */
  public record Write(long address, byte[] bytes) {}

  public FuzzCall {
    writes = List.copyOf(writes);
  }

  private static final HexFormat HEX = HexFormat.of();
  private static final Pattern LINE =
      Pattern.compile(
          "\\{\"request\":\"(-?0x[0-9a-f]+|-1)\",\"arg\":\"0x([0-9a-f]+)\",\"writes\":\\[(.*)]}");
  private static final Pattern WRITE =
      Pattern.compile("\\{\"address\":\"0x([0-9a-f]+)\",\"bytes\":\"([0-9a-f]*)\"}");

  /** One JSON line. */
  public String toJson() {
    StringBuilder sb = new StringBuilder();
    sb.append("{\"request\":\"")
        .append(request == CLOSE_FD ? "-1" : "0x" + Long.toHexString(request))
        .append("\",\"arg\":\"0x")
        .append(Long.toHexString(arg))
        .append("\",\"writes\":[");
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
        m.group(1).equals("-1") ? CLOSE_FD : Long.parseUnsignedLong(m.group(1).substring(2), 16);
    List<Write> writes = new ArrayList<>();
    Matcher w = WRITE.matcher(m.group(3));
    while (w.find()) {
      writes.add(new Write(Long.parseUnsignedLong(w.group(1), 16), HEX.parseHex(w.group(2))));
    }
    return new FuzzCall(request, Long.parseUnsignedLong(m.group(2), 16), writes);
  }
}
