package org.iommufd4j.engine;

/**
 * Anything named by an id in a context's object table (spec §2). The table holds one reference;
 * every other holder (an HWPT on its IOAS, an access on its IOAS, ...) adds one, and DESTROY
 * succeeds only when the table's is the last (§2.6).
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

  /** Type-specific teardown once the object has left the table (§2.5). Never fails. */
  abstract void destroy();
}
