/**
 * A structure-aware fuzzer of the byte ABI (issue 7): seeded random ioctls with plausible and
 * hostile struct contents, pointers into mapped, unmapped and partly mapped simulated memory, the
 * engine's invariant checker after every call, a leak check after every context, and failing cases
 * saved as minimal replayable call lists. Internal: no compatibility promise.
 */
package org.iommufd4j.fuzz;
