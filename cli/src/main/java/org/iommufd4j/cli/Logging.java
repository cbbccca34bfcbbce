package org.iommufd4j.cli;

import java.util.logging.ConsoleHandler;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;

/**
 * Where the server's System.Logger output goes: stderr, warnings only unless verbose (the
 * program run by {@code exec} owns the terminal).
 */
final class Logging {
  private static final Logger ROOT = Logger.getLogger("org.iommufd4j");

  private Logging() {}

  static void configure(boolean verbose) {
    System.setProperty("java.util.logging.SimpleFormatter.format",
        "iommufd4j %4$s: %5$s%6$s%n");
    Level level = verbose ? Level.FINE : Level.WARNING;
    ConsoleHandler handler = new ConsoleHandler();
    handler.setLevel(level);
    handler.setFormatter(new SimpleFormatter());
    ROOT.setUseParentHandlers(false);
    for (var h : ROOT.getHandlers()) {
      ROOT.removeHandler(h);
    }
    ROOT.addHandler(handler);
    ROOT.setLevel(level);
  }
}
