package org.iommufd4j.bridge;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.iommufd4j.Configuration;

/** What {@code /proc/<pid>} says about a client process; every reader tolerates a vanished pid. */
final class ProcessInfo {
  private ProcessInfo() {}

  /** Field 22 of {@code /proc/<pid>/stat} (start time in clock ticks), or -1. */
  static long startTime(int pid) {
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return Long.parseLong(fields[19]); // field 22 counts from 1 and includes pid and comm
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /** The {@code CapEff} bit mask, or 0. */
  static long effectiveCapabilities(int pid) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
        if (line.startsWith("CapEff:")) {
          return Long.parseUnsignedLong(line.substring(7).trim(), 16);
        }
      }
    } catch (IOException | RuntimeException e) {
      // gone
    }
    return 0;
  }

  /** The soft RLIMIT_MEMLOCK in bytes, {@link Configuration#UNLIMITED}, or the usual 8 MiB. */
  static long memlockLimit(int pid) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/limits"))) {
        if (line.startsWith("Max locked memory")) {
          String soft = line.substring("Max locked memory".length()).trim().split("\\s+")[0];
          return soft.equals("unlimited") ? Configuration.UNLIMITED : Long.parseLong(soft);
        }
      }
    } catch (IOException | RuntimeException e) {
      // gone
    }
    return Configuration.DEFAULT_MEMLOCK_LIMIT;
  }
}
