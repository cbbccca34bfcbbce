package org.iommufd4j.engine;

import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;

/**
 * Descriptor numbers for the embedded emulator, which has no process file table of its own: lowest
 * free from {@link #FIRST_FD} (far above what a JVM opens, so a number is never mistaken for a real
 * descriptor). Thread safe.
 */
public final class VirtualFileTable implements FileTable {
  public static final int FIRST_FD = 1_000_000;

  private final Map<Integer, EmulatedFile> files = new HashMap<>();
  private final BitSet used = new BitSet();

  @Override
  public synchronized int reserve() {
    int i = used.nextClearBit(0);
    used.set(i);
    return FIRST_FD + i;
  }

  @Override
  public synchronized void unreserve(int fd) {
    used.clear(fd - FIRST_FD);
  }

  @Override
  public synchronized void install(int fd, EmulatedFile file) {
    files.put(fd, file);
  }

  @Override
  public synchronized EmulatedFile get(int fd) {
    return files.get(fd);
  }

  /** {@code close(fd)}: false if {@code fd} names no installed file. */
  public boolean close(int fd) {
    EmulatedFile f;
    synchronized (this) {
      f = files.remove(fd);
      if (f == null) {
        return false;
      }
      used.clear(fd - FIRST_FD);
    }
    f.release();
    return true;
  }

  /** Closes every file (the embedded context is closing); returns how many were open. */
  public int closeAll() {
    Map<Integer, EmulatedFile> open;
    synchronized (this) {
      open = new HashMap<>(files);
      files.clear();
      used.clear();
    }
    open.values().forEach(EmulatedFile::release);
    return open.size();
  }
}
