package org.iommufd4j.pci.virtio;

import java.util.Objects;

/** One end of a {@link NetBackend#pair()}: what it sends, the far end's port receives. */
final class PairEnd implements NetBackend {
  private PairEnd far;
  private volatile Port port;

  private PairEnd() {}

  static Pair wire() {
    PairEnd left = new PairEnd();
    PairEnd right = new PairEnd();
    left.far = right;
    right.far = left;
    return new Pair(left, right);
  }

  @Override
  public void connect(Port port) {
    this.port = Objects.requireNonNull(port);
  }

  @Override
  public void send(byte[] frame, int queuePair) {
    Port p = far.port;
    if (p != null) {
      p.receive(frame, queuePair);
    }
  }
}
