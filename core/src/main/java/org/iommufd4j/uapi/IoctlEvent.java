package org.iommufd4j.uapi;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;
import org.iommufd4j.Errno;

/**
 * A JFR event per iommufd call, for users profiling their own programs: which request, which
 * object, the result and how long it took. It is recorded while a flight recording runs (JFR
 * enables user events by default), for example {@code java -XX:StartFlightRecording:filename=
 * rec.jfr ...} then {@code jfr print --events org.iommufd4j.Ioctl rec.jfr}; settings such as {@code
 * org.iommufd4j.Ioctl#threshold=1ms} or {@code #enabled=false} apply as to any event.
 *
 * <p>Emitted by both front doors of the emulator (the byte ABI, {@code door=ioctl}, and the typed
 * API, {@code door=typed}) and by the real-kernel backend ({@code backend=kernel}). With no
 * recording, {@link #shouldCommit()} is false and no field is filled or formatted; the event object
 * does not escape, so the JIT removes it.
 */
@Name(IoctlEvent.NAME)
@Label("iommufd call")
@Category({"iommufd4j"})
@Description("One iommufd ioctl or typed API call: request, object id, result")
@StackTrace(false)
public final class IoctlEvent extends Event {
  /** The event type's name, as settings and consumers refer to it. */
  public static final String NAME = "org.iommufd4j.Ioctl";

  /** The raw front door: {@code ioctl(request, struct)}. */
  public static final String DOOR_IOCTL = "ioctl";

  /** The typed API ({@code Ioas.map}, ...). */
  public static final String DOOR_TYPED = "typed";

  /** Created by the front doors, which fill it only when {@link #shouldCommit()}. */
  public IoctlEvent() {}

  @Label("Request")
  @Description("The command's name (IOMMU_IOAS_MAP, ...) or its number in hex")
  public String request;

  @Label("Object id")
  @Description("The IOAS (or other object) the request names; 0 if none")
  public int ioasId;

  @Label("Errno")
  @Description("0 on success, else the errno number")
  public int errno;

  @Label("Errno name")
  public String errnoName;

  @Label("Door")
  @Description("ioctl (byte ABI) or typed (Java API)")
  public String door;

  @Label("Backend")
  @Description("emulated or kernel")
  public String backend;

  /** Fills the fields; call only after {@link #shouldCommit()} said yes. */
  public IoctlEvent set(String request, int ioasId, int errno, String door, String backend) {
    this.request = request;
    this.ioasId = ioasId;
    this.errno = errno;
    this.errnoName = errnoName(errno);
    this.door = door;
    this.backend = backend;
    return this;
  }

  private static String errnoName(int errno) {
    if (errno == 0) {
      return "";
    }
    try {
      return Errno.of(errno).name();
    } catch (IllegalArgumentException e) {
      return Integer.toString(errno);
    }
  }
}
