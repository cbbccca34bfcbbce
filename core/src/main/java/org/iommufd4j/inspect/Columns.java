package org.iommufd4j.inspect;

import java.util.ArrayList;
import java.util.List;

/** A text table: a header and rows of cells, printed with every column padded to its widest. */
final class Columns {
  private final String indent;
  private final List<String[]> rows = new ArrayList<>();
  private final boolean[] rightAligned;

  /**
   * @param rightAligned one flag per column (numbers read best right-aligned)
   */
  Columns(String indent, String[] header, boolean... rightAligned) {
    this.indent = indent;
    this.rightAligned = rightAligned;
    rows.add(header);
  }

  Columns row(Object... cells) {
    String[] s = new String[cells.length];
    for (int i = 0; i < cells.length; i++) {
      s[i] = String.valueOf(cells[i]);
    }
    rows.add(s);
    return this;
  }

  boolean isEmpty() {
    return rows.size() == 1;
  }

  void appendTo(StringBuilder out) {
    int n = rows.get(0).length;
    int[] width = new int[n];
    for (String[] r : rows) {
      for (int i = 0; i < n; i++) {
        width[i] = Math.max(width[i], r[i].length());
      }
    }
    for (String[] r : rows) {
      StringBuilder line = new StringBuilder(indent);
      for (int i = 0; i < n; i++) {
        boolean right = i < rightAligned.length && rightAligned[i];
        String pad = " ".repeat(width[i] - r[i].length());
        line.append(right ? pad + r[i] : r[i] + pad);
        if (i < n - 1) {
          line.append("  ");
        }
      }
      out.append(line.toString().stripTrailing()).append('\n');
    }
  }
}
