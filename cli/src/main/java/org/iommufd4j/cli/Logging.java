package org.iommufd4j.cli;

import java.util.logging.ConsoleHandler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;

/**
 * Where the server's System.Logger output goes: stderr, warnings only unless verbose (the program
 * run by {@code exec} owns the terminal).
 */
final class Logging {
  private static final Logger ROOT = Logger.getLogger("org.iommufd4j");

  private Logging() {}

  static void configure(boolean verbose) {
    System.setProperty("java.util.logging.SimpleFormatter.format", "iommufd4j %4$s: %5$s%6$s%n");
    Level level = verbose ? Level.FINE : Level.WARNING;
    ConsoleHandler handler = new ConsoleHandler();
    handler.setLevel(level);
    handler.setFormatter(new PlainNumbers());
    ROOT.setUseParentHandlers(false);
    for (var h : ROOT.getHandlers()) {
      ROOT.removeHandler(h);
    }
    ROOT.addHandler(handler);
    ROOT.setLevel(level);
  }

  /** Numbers as they are ({@code pid=10449}), not in MessageFormat's locale style (10,449). */
  private static final class PlainNumbers extends SimpleFormatter {
    @Override
    public String formatMessage(LogRecord record) {
      Object[] parameters = record.getParameters();
      if (parameters != null) {
        Object[] plain = parameters.clone();
        for (int i = 0; i < plain.length; i++) {
          if (plain[i] instanceof Number n) {
            plain[i] = n.toString();
          }
        }
        record.setParameters(plain);
      }
      return super.formatMessage(record);
    }
  }
}
