package org.iommufd4j.bridge;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

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

  /**
   * Waits up to {@code millis} for process {@code pid} to have exited (gone, or a zombie): true if
   * it has. A process whose last thread with a channel ended may live on.
   */
  static boolean awaitExit(int pid, long millis) {
    long deadline = System.nanoTime() + millis * 1_000_000;
    while (true) {
      String state = state(pid);
      if (state == null || state.equals("Z") || state.equals("X")) {
        return true;
      }
      if (System.nanoTime() > deadline) {
        return false;
      }
      try {
        Thread.sleep(1);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
  }

  /**
   * Whether {@code [address, address + length)} of process {@code pid} lies in shared mappings
   * ({@code s} in {@code /proc/<pid>/maps}): memory other processes may see too.
   */
  static boolean sharedMapping(int pid, long address, long length) {
    long end = address + length;
    long covered = address;
    for (Mapping m : maps(pid)) {
      if (Long.compareUnsigned(m.start(), covered) <= 0
          && Long.compareUnsigned(covered, m.end()) < 0) {
        if (!m.shared()) {
          return false;
        }
        covered = m.end();
        if (Long.compareUnsigned(covered, end) >= 0) {
          return true;
        }
      }
    }
    return false;
  }

  /** One line of {@code /proc/<pid>/maps}: {@code [start, end)} at file {@code offset}. */
  record Mapping(long start, long end, long offset, boolean shared, boolean writable) {}

  /** The mappings of process {@code pid}, in address order; empty if it is gone or not ours. */
  static List<Mapping> maps(int pid) {
    List<Mapping> list = new ArrayList<>();
    try {
      for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/maps"))) {
        String[] f = line.split("\\s+", 6);
        int dash = f[0].indexOf('-');
        list.add(
            new Mapping(
                Long.parseUnsignedLong(f[0], 0, dash, 16),
                Long.parseUnsignedLong(f[0], dash + 1, f[0].length(), 16),
                Long.parseUnsignedLong(f[2], 16),
                f[1].charAt(3) == 's',
                f[1].charAt(1) == 'w'));
      }
    } catch (IOException | RuntimeException e) {
      // gone or not ours
    }
    return list;
  }

  /** Field 3 of {@code /proc/<pid>/stat}, or null if there is no such process. */
  private static String state(int pid) {
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      return stat.substring(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }
}
