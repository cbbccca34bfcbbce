package org.iommufd4j.engine;

/**
 * Anything named by an id in a context's object table (main.c). The table holds one reference;
 * every other holder (an HWPT on its IOAS, an access on its IOAS, ...) adds one, and DESTROY
 * succeeds only when the table's is the last (main.c: iommufd_object_remove()).
 */
public abstract class IommufdObject {
  final ObjectType type;
  int id;

  /** References, guarded by the object table's lock; 1 = only the table's. */
  int users = 1;

  IommufdObject(ObjectType type) {
    this.type = type;
  }

  public final int id() {
    return id;
  }

  public final ObjectType type() {
    return type;
  }

  /**
   * Type-specific teardown once the object has left the table (main.c: iommufd_destroy()). Never
   * fails.
   */
  abstract void destroy();
}
