package org.iommufd4j.pci;

import java.util.ArrayList;
import java.util.List;

/** Records what leaves a device: "intx+", "intx-", "msi N", "msix N". */
public final class RecordingSink implements Interrupts.Sink {
  private final List<String> events = new ArrayList<>();

  @Override
  public synchronized void intx(boolean asserted) {
    events.add(asserted ? "intx+" : "intx-");
  }

  @Override
  public synchronized void msi(int vector) {
    events.add("msi " + vector);
  }

  @Override
  public synchronized void msix(int vector) {
    events.add("msix " + vector);
  }

  /** The events since the last call. */
  public synchronized List<String> take() {
    List<String> copy = List.copyOf(events);
    events.clear();
    return copy;
  }
}
