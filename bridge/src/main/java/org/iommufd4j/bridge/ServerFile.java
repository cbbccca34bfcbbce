package org.iommufd4j.bridge;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.iommufd4j.engine.Context;
import org.iommufd4j.engine.EmulatedFile;
import org.iommufd4j.kernel.LibC;

/**
 * A file the server handed to a client: an open {@code /dev/iommu} (its {@link Context}) or an
 * access, fault, VFIO group or VFIO device file (its {@link EmulatedFile}). The client holds one
 * end of a socketpair; the server keeps the other, bound to an abstract name, and watches it for
 * end of stream, which means the client's last descriptor (in any process) was closed.
 *
 * <p>References: one for the client's descriptors together, one per call in progress. The last one
 * closes the context or releases the file, so an ioctl that is still running when the last
 * descriptor is closed finishes first, as the kernel's file reference would make it.
 */
final class ServerFile {
  final int kind;

  /** Inode of the client's end: how a descriptor passed back to the server is recognised. */
  final long clientInode;

  final int serverFd;
  final String name;
  final Context context;

  /** The server's number for the file (in its abstract name and in recorded traces). */
  final long number;

  /** The process that opened it (0 for access and fault files). */
  int openerPid;

  /**
   * The file position of a VFIO device, which read and write advance (vfio_pci_rdwr.c:
   * vfio_pci_bar_rw()); only the channel thread executing a call on the file touches it, and two
   * calls racing on one open file race as in the kernel, where no lock orders them either.
   */
  long position;

  /**
   * Runs the teardown it is given, observing it first (inspect at exit, recording: there in order
   * with the recorded calls and device timers, so a replay closes where the recording did).
   */
  BiConsumer<ServerFile, Runnable> teardown;

  private EmulatedFile file;
  private int refs = 1;
  private boolean endOfFile;
  private boolean finishing;
  private boolean finished;

  /** Called once the teardown is over (the server forgets the file then). */
  Consumer<ServerFile> onFinished;

  /** The client's end until it has been handed over, then -1. */
  private int clientEnd;

  ServerFile(
      int kind,
      long clientInode,
      int serverFd,
      int clientEnd,
      String name,
      Context context,
      long number) {
    this.number = number;
    this.kind = kind;
    this.clientInode = clientInode;
    this.serverFd = serverFd;
    this.clientEnd = clientEnd;
    this.name = name;
    this.context = context;
  }

  private boolean serverFdClosed;

  /** Whether the client's last descriptor is gone (POLLHUP on the server end), asked right now. */
  synchronized boolean peerGone() {
    if (serverFdClosed) {
      return true;
    }
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment p = arena.allocate(8, 4);
      p.set(ValueLayout.JAVA_INT, 0, serverFd);
      p.set(ValueLayout.JAVA_SHORT, 4, (short) 0);
      int r = LibC.poll(p, 1, 0);
      return r > 0 && (p.get(ValueLayout.JAVA_SHORT, 6) & LibC.POLLHUP) != 0;
    }
  }

  /** A readiness byte is in the client end's queue (or was, until the shim drained it). */
  private boolean signalled;

  private static final MemorySegment ONE_BYTE = Arena.global().allocate(1);

  /**
   * Makes the client end poll readable: one byte in its queue, which nobody reads but the shim,
   * which drains it before each read of the file (the fault fd is readable while a group is
   * pending; a spurious wake-up reads 0 bytes, as the kernel's read does then; fault.c:
   * iommufd_fault_fops_poll()).
   */
  synchronized void signal() {
    if (!signalled && !serverFdClosed) {
      signalled = LibC.write(serverFd, ONE_BYTE, 1) == 1;
    }
  }

  /** The shim drained the client end before this read: signal again if still readable. */
  synchronized void drained() {
    signalled = false;
  }

  /** The watcher is done with the server end. */
  synchronized void closeServerFd() {
    if (!serverFdClosed) {
      serverFdClosed = true;
      LibC.close(serverFd);
    }
  }

  synchronized int clientEnd() {
    return clientEnd;
  }

  /** Drops the server's copy of the client end (after sending it, or when giving up). */
  void closeClientEnd() {
    int fd;
    synchronized (this) {
      fd = clientEnd;
      clientEnd = -1;
    }
    if (fd >= 0) {
      LibC.close(fd);
    }
  }

  /** Takes a reference for a call: false once the file is gone. */
  synchronized boolean acquire() {
    if (refs == 0) {
      return false;
    }
    refs++;
    return true;
  }

  void release() {
    boolean last;
    synchronized (this) {
      last = dropReference();
    }
    if (last) {
      finishNow();
    }
  }

  /** Drops a reference (holding the lock): whether it was the last, the teardown then begun. */
  private boolean dropReference() {
    if (--refs > 0) {
      return false;
    }
    finishing = true;
    return true;
  }

  private void finishNow() {
    try {
      finish();
    } finally {
      synchronized (this) {
        finished = true;
        notifyAll();
      }
      if (onFinished != null) {
        onFinished.accept(this);
      }
    }
  }

  /** If the last reference went and the teardown is running in another thread, waits for it. */
  synchronized void awaitTeardown() throws InterruptedException {
    while (finishing && !finished) {
      wait();
    }
  }

  /** Whether the context is closed or the file released, completely. */
  synchronized boolean isFinished() {
    return finished;
  }

  /** The client's last descriptor was closed. Idempotent. */
  void endOfFile() {
    boolean last;
    synchronized (this) {
      if (endOfFile) {
        return;
      }
      endOfFile = true;
      // in the same step as the flag, so that a racing close's awaitTeardown sees the teardown
      // under way (finishing) and waits for it, instead of returning before it has begun
      last = dropReference();
    }
    if (last) {
      finishNow();
    }
  }

  synchronized boolean isLive() {
    return refs > 0;
  }

  /**
   * Makes the file live ({@code FileTable.install}); released at once if the client already closed
   * it.
   */
  void install(EmulatedFile f) {
    synchronized (this) {
      if (refs > 0) {
        file = f;
        return;
      }
    }
    f.release();
  }

  synchronized EmulatedFile file() {
    return refs > 0 ? file : null;
  }

  private void finish() {
    if (teardown != null) {
      teardown.accept(this, this::tearDown);
    } else {
      tearDown();
    }
  }

  private void tearDown() {
    if (context != null) {
      context.close();
    }
    EmulatedFile f;
    synchronized (this) {
      f = file;
      file = null;
    }
    if (f != null) {
      f.release();
    }
  }

  @Override
  public String toString() {
    return "ServerFile[" + name + ", inode=" + clientInode + "]";
  }
}
