package org.iommufd4j.engine;

import static org.iommufd4j.Errno.EBUSY;
import static org.iommufd4j.Errno.ENOENT;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;

/**
 * The id space of one context (main.c: _iommufd_object_alloc(), iommufd_object_finalize()): ids
 * from 1, the lowest free one first, reused at once. An id is <em>reserved</em> while its object is
 * being built (lookups give ENOENT, the id is not free) and <em>published</em> when the object is
 * complete.
 *
 * <p>All methods take the table's own monitor briefly; nothing calls out while holding it.
 */
final class ObjectTable {
  /** Ids are u32 values up to 2^31 - 1 (xarray limit of the reference). */
  static final int MAX_ID = Integer.MAX_VALUE;

  private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(IommufdObject[].class);

  private final BitSet inUse = new BitSet();

  /** Written under the monitor; read without it by {@link #get}, so lookups never contend. */
  private volatile IommufdObject[] objects = new IommufdObject[16];

  /** Reserves the lowest free id for {@code object} (EBUSY when none is left). */
  synchronized void reserve(IommufdObject object) {
    FaultInjection.check(FaultInjection.Site.ALLOC);
    int id = inUse.nextClearBit(1);
    if (id <= 0 || id > MAX_ID) {
      throw ErrnoException.of(EBUSY, "object ids exhausted");
    }
    inUse.set(id);
    object.id = id;
  }

  synchronized void publish(IommufdObject object) {
    int id = object.id;
    if (id >= objects.length) {
      objects = Arrays.copyOf(objects, Math.max(id + 1, objects.length * 2));
    }
    SLOT.setRelease(objects, id, object);
  }

  /** Drops a reservation whose object was never published. */
  synchronized void abort(IommufdObject object) {
    inUse.clear(object.id);
  }

  private IommufdObject published(int id) {
    IommufdObject[] arr = objects;
    return id > 0 && id < arr.length ? (IommufdObject) SLOT.getAcquire(arr, id) : null;
  }

  /**
   * The published object {@code id} of {@code type}; ENOENT otherwise (main.c:
   * iommufd_get_object()). Lock-free, so commands on different IOASes of one context never contend
   * here.
   */
  IommufdObject get(int id, ObjectType type) {
    FaultInjection.check(FaultInjection.Site.LOOKUP);
    IommufdObject o = published(id);
    if (o == null || o.type != type) {
      throw ErrnoException.of(ENOENT, "no " + type + " with id " + Integer.toUnsignedString(id));
    }
    return o;
  }

  /**
   * Whether any id is published or reserved (RLIMIT_MODE SET needs an empty context, ioas.c:
   * iommufd_option_rlimit_mode()).
   */
  synchronized boolean hasObjects() {
    return !inUse.isEmpty();
  }

  synchronized void addUser(IommufdObject o) {
    o.users++;
  }

  synchronized void removeUser(IommufdObject o) {
    o.users--;
  }

  /**
   * Takes object {@code id} out of the table for DESTROY (main.c: iommufd_destroy()): ENOENT if it
   * is not published, EBUSY if anything else holds a reference. When {@code expected} is not null,
   * the object must be that instance (a typed handle whose id was reused destroys nothing).
   */
  synchronized IommufdObject remove(int id, IommufdObject expected) {
    IommufdObject o = published(id);
    if (o == null || (expected != null && o != expected)) {
      throw ErrnoException.of(ENOENT, "no object with id " + Integer.toUnsignedString(id));
    }
    if (o.users > 1) {
      throw ErrnoException.of(EBUSY, "object " + id + " is in use (" + (o.users - 1) + " users)");
    }
    SLOT.setRelease(objects, id, (IommufdObject) null);
    inUse.clear(id);
    return o;
  }

  /**
   * Takes {@code object} out of the table whatever its references (a driver unbinding its device);
   * false if it was not there.
   */
  synchronized boolean removeOwned(IommufdObject object) {
    if (published(object.id) != object) {
      return false;
    }
    SLOT.setRelease(objects, object.id, (IommufdObject) null);
    inUse.clear(object.id);
    return true;
  }

  /** Takes {@code object} out of the table if only the table references it. */
  synchronized boolean removeIfUnused(IommufdObject object) {
    if (published(object.id) != object || object.users != 1) {
      return false;
    }
    SLOT.setRelease(objects, object.id, (IommufdObject) null);
    inUse.clear(object.id);
    return true;
  }

  /** The published object {@code id} of any type, or null. */
  IommufdObject find(int id) {
    FaultInjection.check(FaultInjection.Site.LOOKUP);
    return published(id);
  }

  /** Removes and returns every object that only the table references, in ascending id order. */
  synchronized List<IommufdObject> removeUnreferenced() {
    List<IommufdObject> out = new ArrayList<>();
    for (int id = inUse.nextSetBit(1); id > 0; id = inUse.nextSetBit(id + 1)) {
      IommufdObject o = published(id);
      if (o != null && o.users == 1) {
        SLOT.setRelease(objects, id, (IommufdObject) null);
        inUse.clear(id);
        out.add(o);
      }
    }
    return out;
  }

  /** Every published object, ascending by id (for inspection and invariant checks). */
  synchronized List<IommufdObject> snapshot() {
    List<IommufdObject> out = new ArrayList<>();
    for (int id = inUse.nextSetBit(1); id > 0; id = inUse.nextSetBit(id + 1)) {
      IommufdObject o = published(id);
      if (o != null) {
        out.add(o);
      }
    }
    return out;
  }
}
