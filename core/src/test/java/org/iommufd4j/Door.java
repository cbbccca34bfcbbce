package org.iommufd4j;

import java.util.List;

/**
 * One way into an {@link Iommufd}, seen from a test: every IOAS command the typed API exposes, with
 * ids instead of handles so that a scenario reads the same through both {@link FrontDoor}s. Every
 * method fails with an {@link IommufdException} carrying the errno of the call; the raw door builds
 * that exception from the {@code -errno} the byte ABI returned.
 *
 * <p>Protection is given as {@link Protection}, so only the flag combinations the typed API can
 * express appear here; tests of other flag bits and of reserved fields use the byte ABI alone.
 */
interface Door {
  /** The context behind this door, for raw calls and inspection. */
  Iommufd iommufd();

  int createIoas();

  void destroy(int id);

  /** MAP without FIXED_IOVA; returns the IOVA chosen. */
  long map(int ioasId, long userVa, long length, Protection protection);

  /** MAP with FIXED_IOVA; returns the IOVA reported back (the one requested). */
  long mapFixed(int ioasId, long iova, long userVa, long length, Protection protection);

  /** COPY without FIXED_IOVA; returns the destination IOVA chosen. */
  long copy(int dstIoasId, int srcIoasId, long srcIova, long length, Protection protection);

  long copyFixed(
      int dstIoasId, long dstIova, int srcIoasId, long srcIova, long length, Protection protection);

  /** UNMAP; returns the bytes unmapped. */
  long unmap(int ioasId, long iova, long length);

  /** UNMAP(0, 2^64 - 1). */
  long unmapAll(int ioasId);

  IovaRanges iovaRanges(int ioasId);

  void allowIovas(int ioasId, List<IovaRange> ranges);

  boolean hugePages(int ioasId);

  void setHugePages(int ioasId, boolean enabled);

  RlimitMode rlimitMode();

  void setRlimitMode(RlimitMode mode);
}
