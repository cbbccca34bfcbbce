package org.iommufd4j;

/**
 * A successful MAP or COPY: the IOVA where {@code length} bytes now appear. Pass it to {@link
 * Ioas#unmap(Mapping)} to remove exactly that range.
 */
public record Mapping(long iova, long length) {

  /** The last IOVA of the mapping (inclusive). */
  public long last() {
    return iova + length - 1;
  }

  @Override
  public String toString() {
    return String.format("Mapping[iova=0x%x, length=0x%x]", iova, length);
  }
}
