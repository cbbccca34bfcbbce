package org.iommufd4j.pci;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import org.iommufd4j.kernel.LibC;

/**
 * The storage of a function's plain-memory BAR ranges ({@link Bar#plainMemory}), kept by the PCI
 * core for the model: the one copy that {@code pread}/{@code pwrite} of the BAR, the model and a
 * program's mapping of the BAR all see. A memory BAR's storage is a memfd laid out as the BAR, so
 * the pages of it that are wholly plain memory can be mapped by a program ({@link
 * PciFunction#sharedPages}) and its stores land here without a trap.
 *
 * <p>Doorbell ranges ({@link Bar#withDoorbells}) are compared word by word with what the model was
 * last told: a {@code pwrite} is checked before it returns, and once pages are shared a poller
 * thread looks at them, spinning while stores keep coming and sleeping ever longer (up to {@link
 * #MAX_SLEEP_NANOS}) once they stop, so an idle device costs next to no CPU.
 */
public final class PlainMemory {
  /** The longest the poller sleeps between two looks at an idle device's doorbells. */
  public static final long MAX_SLEEP_NANOS = 5_000_000;

  /** How long the poller keeps spinning after the last change it saw. */
  static final long SPIN_NANOS = 100_000;

  static final long MIN_SLEEP_NANOS = 10_000;

  static final long PAGE = 4096;

  private static final VarHandle WORD = ValueLayout.JAVA_INT.varHandle().withInvokeExactBehavior();

  private static final System.Logger LOG = System.getLogger(PlainMemory.class.getName());

  /** One BAR's storage; {@code fd} is -1 where it cannot be shared. */
  private record Storage(MemorySegment segment, int fd) {}

  /** A doorbell range and the values the model was last told ({@code toldWords} views them). */
  private record Watch(
      int bar, long offset, MemorySegment words, int[] told, MemorySegment toldWords) {
    Watch(int bar, long offset, MemorySegment words) {
      this(bar, offset, words, new int[(int) (words.byteSize() / 4)]);
    }

    private Watch(int bar, long offset, MemorySegment words, int[] told) {
      this(bar, offset, words, told, MemorySegment.ofArray(told));
    }
  }

  private final Storage[] bars = new Storage[6];
  private final List<Watch> watches = new ArrayList<>();

  /** Held while changes are taken and told, so the model hears them in the order they were seen. */
  private final Object delivery = new Object();

  private PciDevice model;
  private Thread poller;

  PlainMemory() {}

  /** Makes the storage of {@code config}'s BARs; the model is told of doorbells from now on. */
  void bind(ConfigSpace config, PciDevice model) {
    this.model = model;
    for (Bar b : config.bars()) {
      if (b.plainMemory().isEmpty()) {
        continue;
      }
      Storage s = allocate(b);
      bars[b.index()] = s;
      for (Bar.Range r : b.plainMemory()) {
        if (r.doorbells()) {
          watches.add(
              new Watch(b.index(), r.offset(), s.segment().asSlice(r.offset(), r.length())));
        }
      }
    }
  }

  /**
   * The storage of BAR {@code bar}'s plain memory, as big as the BAR (rounded up to a page): its
   * bytes outside plain-memory ranges are never used. Little-endian, as the bus.
   *
   * @throws IllegalArgumentException if the BAR has no plain memory
   * @throws IllegalStateException while the model is being made
   */
  public MemorySegment segment(int bar) {
    return storage(bar).segment();
  }

  /**
   * Zeroes {@code [offset, offset + length)} of BAR {@code bar}'s storage, doorbells there
   * included: what a reset of that part of the device does. A doorbell store of 0 afterwards is not
   * seen, one of any other value is.
   */
  public void clear(int bar, long offset, long length) {
    MemorySegment s = segment(bar);
    synchronized (this) {
      s.asSlice(offset, length).fill((byte) 0);
      for (Watch w : watches) {
        long from = Math.max(offset, w.offset());
        long to = Math.min(offset + length, w.offset() + w.words().byteSize());
        for (long at = from & ~3L; at < to; at += 4) {
          w.told()[(int) (at - w.offset()) / 4] = 0;
        }
      }
    }
  }

  /** All storage zeroed (a function reset). */
  synchronized void reset() {
    for (Storage s : bars) {
      if (s != null) {
        s.segment().fill((byte) 0);
      }
    }
    for (Watch w : watches) {
      Arrays.fill(w.told(), 0);
    }
  }

  /**
   * {@code size} bytes at {@code offset} of BAR {@code bar} were just stored through the PCI core:
   * the doorbells among them are told now, on the storing thread.
   */
  void stored(int bar, long offset, int size) {
    for (Watch w : watches) {
      if (w.bar() == bar
          && offset < w.offset() + w.words().byteSize()
          && offset + size > w.offset()) {
        deliver();
        return;
      }
    }
  }

  /**
   * BAR {@code bar}'s storage descriptor, or -1 if it has none or it cannot be shared. Handing it
   * out starts the poller: stores through a mapping are only seen by looking.
   */
  int shareableFd(int bar) {
    Storage s = bars[bar];
    if (s == null || s.fd() < 0) {
      return -1;
    }
    synchronized (this) {
      if (poller == null && !watches.isEmpty()) {
        WeakReference<PlainMemory> self = new WeakReference<>(this);
        poller = Thread.ofPlatform().daemon().name("iommufd4j-doorbells").start(() -> poll(self));
      }
    }
    return s.fd();
  }

  /** The poller thread, once pages were shared (for tests of its cost). */
  synchronized Thread poller() {
    return poller;
  }

  /**
   * The poller: a look at every doorbell, then a spin while stores keep coming, else a sleep that
   * doubles up to {@link #MAX_SLEEP_NANOS}. It ends once the memory is unreachable.
   */
  private static void poll(WeakReference<PlainMemory> ref) {
    long lastChange = System.nanoTime();
    long sleep = MIN_SLEEP_NANOS;
    int looks = 0;
    for (; ; ) {
      PlainMemory memory = ref.get();
      if (memory == null) {
        return;
      }
      boolean changed = memory.changed() && memory.deliver();
      memory = null; // a sleeping poller keeps nothing alive
      long now = System.nanoTime();
      if (changed) {
        lastChange = now;
        sleep = MIN_SLEEP_NANOS;
      } else if (now - lastChange < SPIN_NANOS) {
        if ((++looks & 15) == 0) {
          Thread.yield(); // now and then: the clock's thread may need this CPU for the device
        } else {
          Thread.onSpinWait();
        }
      } else {
        LockSupport.parkNanos(sleep);
        sleep = Math.min(2 * sleep, MAX_SLEEP_NANOS);
      }
    }
  }

  /**
   * Whether a doorbell differs from what the model was told: a look without locks, one vectorised
   * comparison of the whole range (a page of doorbells in well under a microsecond).
   */
  private boolean changed() {
    for (Watch w : watches) {
      if (w.words().mismatch(w.toldWords()) >= 0) {
        return true;
      }
    }
    return false;
  }

  /** Tells the model of every doorbell that changed; whether there was one. */
  private boolean deliver() {
    synchronized (delivery) {
      List<long[]> changes = new ArrayList<>();
      synchronized (this) {
        for (Watch w : watches) { // from one differing byte to the next, vectorised
          long size = w.words().byteSize();
          for (long at = 0; at < size; ) {
            long differs = MemorySegment.mismatch(w.words(), at, size, w.toldWords(), at, size);
            if (differs < 0) {
              break;
            }
            long word = (at + differs) & ~3L;
            int now = (int) WORD.getAcquire(w.words(), word);
            if (now != w.told()[(int) (word / 4)]) {
              w.told()[(int) (word / 4)] = now;
              changes.add(new long[] {w.bar(), w.offset() + word, now});
            }
            at = word + 4;
          }
        }
      }
      for (long[] c : changes) {
        try {
          model.doorbell((int) c[0], c[1], (int) c[2]);
        } catch (RuntimeException e) { // a model's bug must not end the poller
          LOG.log(System.Logger.Level.ERROR, "doorbell at BAR" + c[0] + " 0x" + c[1], e);
        }
      }
      return !changes.isEmpty();
    }
  }

  private Storage storage(int bar) {
    if (model == null) {
      throw new IllegalStateException("plain memory is there once the model is made");
    }
    Storage s = bar >= 0 && bar < bars.length ? bars[bar] : null;
    if (s == null) {
      throw new IllegalArgumentException("BAR " + bar + " has no plain memory");
    }
    return s;
  }

  /**
   * A memfd as big as the BAR for a memory BAR (sparse: only pages touched cost memory), else, or
   * where memfds cannot be had, memory of this process.
   */
  private static Storage allocate(Bar b) {
    long size = (b.size() + PAGE - 1) & -PAGE;
    if (b.type() != Bar.Type.IO) {
      int fd = LibC.memfdCreate("iommufd4j-bar" + b.index(), LibC.MFD_CLOEXEC);
      if (fd >= 0) {
        long address =
            LibC.ftruncate(fd, size) == 0
                ? LibC.mmap(0, size, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, 0)
                : -1;
        if (address > 0) {
          MemorySegment segment =
              MemorySegment.ofAddress(address)
                  .reinterpret(
                      size,
                      Arena.ofAuto(),
                      s -> {
                        LibC.munmap(s.address(), size);
                        LibC.close(fd);
                      });
          return new Storage(segment, fd);
        }
        LibC.close(fd);
      }
    }
    return new Storage(Arena.ofAuto().allocate(size, PAGE), -1);
  }
}
