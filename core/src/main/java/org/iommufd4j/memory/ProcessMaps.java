package org.iommufd4j.memory;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.BufferedReader;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import org.iommufd4j.Errno;
import org.iommufd4j.kernel.LibC;

/**
 * Whether VMAs of another process cover a range with the needed permissions, as {@code
 * /proc/PID/maps} reports them. Used where {@code madvise} cannot reach: another process.
 *
 * <p>Asks the kernel one VMA at a time with the {@code PROCMAP_QUERY} ioctl (Linux 6.11+), and
 * parses the text of the file on older kernels (ENOTTY).
 *
 * <p>Limits, compared to pin_user_pages: pages are not faulted in, so a page that would SIGBUS (a
 * file mapping past the end of its file) counts as pinnable; VM_IO/VM_PFNMAP mappings (such as
 * {@code [vvar]}) look like ordinary readable VMAs; FOLL_LONGTERM restrictions (writable pins of
 * page-cache files, fsdax) are not modelled.
 */
final class ProcessMaps {
  /**
   * {@code _IOWR('f', 17, struct procmap_query)}, 104 bytes (include/uapi/linux/fs.h, Linux 6.11).
   */
  static final long PROCMAP_QUERY = 0xC068_6611L;

  static final int PROCMAP_QUERY_SIZE = 104;
  static final long QUERY_FLAGS_OFFSET = 8;
  static final long QUERY_ADDR_OFFSET = 16;
  static final long VMA_START_OFFSET = 24;
  static final long VMA_END_OFFSET = 32;
  static final long VMA_FLAGS_OFFSET = 40;
  static final long PROCMAP_QUERY_VMA_READABLE = 0x01;
  static final long PROCMAP_QUERY_VMA_WRITABLE = 0x02;

  private ProcessMaps() {}

  /**
   * Whether VMAs of process {@code pid} cover {@code [start, end)} without a hole, each readable
   * (or writable when {@code write}). Also false when the process is gone or its maps are not ours
   * to read.
   *
   * @param end exclusive, unsigned, greater than {@code start}
   */
  static boolean covers(int pid, long start, long end, boolean write) {
    int fd = LibC.open("/proc/" + pid + "/maps", LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
    if (fd < 0) {
      return false;
    }
    try {
      int result = coversByQuery(fd, start, end, write);
      if (result == -Errno.ENOTTY.number()) {
        return coversByText(pid, start, end, write);
      }
      return result == 1;
    } finally {
      LibC.close(fd);
    }
  }

  /** /proc/self/maps, opened once: PROCMAP_QUERY is stateless, so one fd serves every thread. */
  private static final class SelfMaps {
    static final int FD = LibC.open("/proc/self/maps", LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
  }

  /**
   * {@link #covers} for this process through a descriptor kept open: one ioctl per VMA, a few
   * microseconds for a range of any size.
   *
   * @return 1 if covered, 0 if not, -ENOTTY if the kernel has no PROCMAP_QUERY (or the maps file
   *     could not be opened)
   */
  static int coversSelf(long start, long end, boolean write) {
    return SelfMaps.FD < 0 ? -Errno.ENOTTY.number() : coversByQuery(SelfMaps.FD, start, end, write);
  }

  /**
   * @return 1 if covered, 0 if not, -ENOTTY if the kernel has no PROCMAP_QUERY
   */
  private static int coversByQuery(int fd, long start, long end, boolean write) {
    long needed = write ? PROCMAP_QUERY_VMA_WRITABLE : PROCMAP_QUERY_VMA_READABLE;
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment query = arena.allocate(PROCMAP_QUERY_SIZE, 8);
      long address = start;
      while (Long.compareUnsigned(address, end) < 0) {
        query.fill((byte) 0);
        query.set(JAVA_LONG, 0, PROCMAP_QUERY_SIZE);
        query.set(JAVA_LONG, QUERY_ADDR_OFFSET, address);
        int r = LibC.ioctl(fd, PROCMAP_QUERY, query);
        if (r == -Errno.ENOTTY.number()) {
          return r;
        }
        // ENOENT: no VMA covers the address; anything else (ESRCH: process exited) is no better.
        if (r < 0) {
          return 0;
        }
        if ((query.get(JAVA_LONG, VMA_FLAGS_OFFSET) & needed) != needed) {
          return 0;
        }
        long vmaEnd = query.get(JAVA_LONG, VMA_END_OFFSET);
        if (Long.compareUnsigned(vmaEnd, address) <= 0) {
          return 0; // a VMA that does not cover its query: never loop on a confused answer
        }
        address = vmaEnd;
      }
      return 1;
    }
  }

  static boolean coversByText(int pid, long start, long end, boolean write) {
    try (BufferedReader lines = Files.newBufferedReader(Path.of("/proc", pid + "", "maps"))) {
      return coversByText(lines, start, end, write);
    } catch (IOException e) {
      // No such process, it exited while we read, or its maps are not ours to read.
      return false;
    }
  }

  /** Walks lines like {@code 7f0000000000-7f0000002000 rw-p ...}, sorted by address. */
  static boolean coversByText(BufferedReader lines, long start, long end, boolean write)
      throws IOException {
    int permission = write ? 1 : 0; // index in "rwxp"
    char needed = write ? 'w' : 'r';
    long address = start;
    for (String line = lines.readLine(); line != null; line = lines.readLine()) {
      int dash = line.indexOf('-');
      int space = line.indexOf(' ', dash);
      if (dash < 0 || space < 0 || line.length() < space + 5) {
        continue;
      }
      long vmaStart = Long.parseUnsignedLong(line, 0, dash, 16);
      long vmaEnd = Long.parseUnsignedLong(line, dash + 1, space, 16);
      if (Long.compareUnsigned(vmaEnd, address) <= 0) {
        continue;
      }
      if (Long.compareUnsigned(vmaStart, address) > 0
          || line.charAt(space + 1 + permission) != needed) {
        return false;
      }
      address = vmaEnd;
      if (Long.compareUnsigned(address, end) >= 0) {
        return true;
      }
    }
    return false;
  }
}
