package org.iommufd4j;

import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.iommufd4j.engine.ErrnoException;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IoctlEvent;

/**
 * How the typed API of the emulator runs an engine call: a JFR {@link IoctlEvent} ({@code
 * door=typed}) when a recording wants it, a DEBUG log line when it fails (the errno is the caller's
 * business), and the engine's stack-less failure rethrown with the caller's stack.
 */
final class TypedCalls {
  private static final System.Logger LOG = System.getLogger("org.iommufd4j.ioctl");

  private TypedCalls() {}

  static <T> T call(Command command, int id, Supplier<T> engineCall) {
    IoctlEvent event = new IoctlEvent();
    event.begin();
    try {
      T result = engineCall.get();
      commit(event, command, id, 0);
      return result;
    } catch (ErrnoException e) {
      throw failed(event, command, id, e);
    }
  }

  static long callLong(Command command, int id, LongSupplier engineCall) {
    IoctlEvent event = new IoctlEvent();
    event.begin();
    try {
      long result = engineCall.getAsLong();
      commit(event, command, command == Command.IOMMU_IOAS_ALLOC ? (int) result : id, 0);
      return result;
    } catch (ErrnoException e) {
      throw failed(event, command, id, e);
    }
  }

  /**
   * The three steps of {@link #callLong} spelt out, for the hot calls (MAP, UNMAP): a capturing
   * lambda costs an allocation per call wherever the JIT does not inline it away. Starts the event.
   */
  static IoctlEvent begin() {
    IoctlEvent event = new IoctlEvent();
    event.begin();
    return event;
  }

  /** Ends an event from {@link #begin} for a call that succeeded. */
  static void succeeded(IoctlEvent event, Command command, int id) {
    commit(event, command, id, 0);
  }

  /** An engine call that is no ioctl (a lookup, a device of the typed API): failures rethrown. */
  static <T> T run(Supplier<T> engineCall) {
    try {
      return engineCall.get();
    } catch (ErrnoException e) {
      throw rethrow(e);
    }
  }

  static long runLong(LongSupplier engineCall) {
    try {
      return engineCall.getAsLong();
    } catch (ErrnoException e) {
      throw rethrow(e);
    }
  }

  /** The engine's stack-less failure as the public exception, with the caller's stack. */
  private static IommufdException rethrow(ErrnoException e) {
    return new IommufdException(e.errno(), e.detail());
  }

  private static void commit(IoctlEvent event, Command command, int id, int errno) {
    event.end();
    if (event.shouldCommit()) {
      event.set(command.name(), id, errno, IoctlEvent.DOOR_TYPED, "emulated").commit();
    }
  }

  /** Ends an event for a call that failed; returns the exception to throw. */
  static IommufdException failed(IoctlEvent event, Command command, int id, ErrnoException e) {
    commit(event, command, id, e.errno().number());
    if (LOG.isLoggable(System.Logger.Level.DEBUG)) {
      LOG.log(
          System.Logger.Level.DEBUG,
          "typed name={0} id={1} errno={2} reason={3}",
          command.name(),
          Integer.toUnsignedString(id),
          e.errno().name(),
          e.detail());
    }
    return rethrow(e);
  }
}
