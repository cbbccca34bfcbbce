package org.iommufd4j.engine;

import static org.iommufd4j.engine.Unsigned.ge;
import static org.iommufd4j.engine.Unsigned.gt;
import static org.iommufd4j.engine.Unsigned.le;
import static org.iommufd4j.engine.Unsigned.lt;
import static org.iommufd4j.engine.Unsigned.max;

import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * The areas of one IOAS, ordered by IOVA (unsigned), never overlapping. An AVL tree whose nodes are
 * the {@link Area}s themselves, augmented with the largest gap before any node of a subtree: {@link
 * #firstGapAtLeast} finds the first hole big enough for an allocation in O(log n), where the
 * kernel's io_pagetable.c: iopt_alloc_iova() walks the holes with interval-tree span iterators; the
 * result is the same.
 *
 * <p>Invariant: for every node, {@code gapBefore = iova - (predecessor.last + 1)} (or {@code iova}
 * for the first area) and {@code maxGap} is the unsigned maximum of {@code gapBefore} over its
 * subtree. Not thread safe: the IOAS lock guards it.
 */
final class AreaTree implements Iterable<Area> {
  private Area root;
  private int size;

  int size() {
    return size;
  }

  boolean isEmpty() {
    return root == null;
  }

  /** The area containing {@code iova}, or null. */
  Area find(long iova) {
    Area a = firstEndingAtOrAfter(iova);
    return a != null && ge(iova, a.iova) ? a : null;
  }

  /** The lowest area whose {@code last >= addr}: the first area at or after {@code addr}. */
  Area firstEndingAtOrAfter(long addr) {
    Area n = root;
    Area best = null;
    while (n != null) {
      if (ge(n.last, addr)) {
        best = n;
        n = n.left;
      } else {
        n = n.right;
      }
    }
    return best;
  }

  /** The highest area starting below {@code addr}, or null. */
  Area lastStartingBelow(long addr) {
    Area n = root;
    Area best = null;
    while (n != null) {
      if (lt(n.iova, addr)) {
        best = n;
        n = n.right;
      } else {
        n = n.left;
      }
    }
    return best;
  }

  Area lastArea() {
    Area n = root;
    while (n != null && n.right != null) {
      n = n.right;
    }
    return n;
  }

  /** The area after {@code a}, or null. */
  Area next(Area a) {
    return a.last == Unsigned.U64_MAX ? null : firstEndingAtOrAfter(a.last + 1);
  }

  /** Whether any area shares an address with {@code [start, last]}. */
  boolean intersects(long start, long last) {
    Area a = firstEndingAtOrAfter(start);
    return a != null && Unsigned.le(a.iova, last);
  }

  /**
   * The first area starting above {@code after} whose preceding gap holds at least {@code minGap}
   * free addresses (both unsigned), or null.
   */
  Area firstGapAtLeast(long after, long minGap) {
    return firstGapAtLeast(root, after, minGap);
  }

  private static Area firstGapAtLeast(Area n, long after, long minGap) {
    while (n != null && ge(n.maxGap, minGap)) {
      if (gt(n.iova, after)) {
        Area inLeft = firstGapAtLeast(n.left, after, minGap);
        if (inLeft != null) {
          return inLeft;
        }
        if (ge(n.gapBefore, minGap)) {
          return n;
        }
      }
      n = n.right;
    }
    return null;
  }

  /** Set by {@link #insertIfFree} when the new area overlapped a neighbour. */
  private boolean refused;

  /** Inserts {@code a}, which must not overlap any area. One descent. */
  void insert(Area a) {
    if (!insertIfFree(a)) {
      throw new IllegalStateException(a + " overlaps an area");
    }
  }

  /**
   * Inserts {@code a} unless it overlaps an area; returns whether it did. One descent: its
   * neighbours on the way down decide, since areas never overlap each other.
   */
  boolean insertIfFree(Area a) {
    a.left = a.right = null;
    a.height(1);
    refused = false;
    root = insert(root, a, null, null);
    if (refused) {
      return false;
    }
    size++;
    return true;
  }

  /**
   * Recursive AVL insert that tracks the neighbours on the way down: at the bottom the new area's
   * predecessor and successor are known, and the successor (an ancestor) gets its new gap before
   * the unwinding recomputes the path.
   */
  private Area insert(Area n, Area a, Area pred, Area succ) {
    if (n == null) {
      if ((pred != null && ge(pred.last, a.iova)) || (succ != null && le(succ.iova, a.last))) {
        refused = true; // nothing below changed, so the unwinding rebalances nothing
        return null;
      }
      a.gapBefore = pred == null ? a.iova : a.iova - pred.last - 1;
      a.maxGap = a.gapBefore;
      if (succ != null) {
        succ.gapBefore = succ.iova - a.last - 1;
      }
      return a;
    }
    if (lt(a.iova, n.iova)) {
      n.left = insert(n.left, a, pred, n);
    } else {
      n.right = insert(n.right, a, n, succ);
    }
    return rebalance(n);
  }

  /** Removes {@code a}, which must be in the tree. One descent. */
  void remove(Area a) {
    root = remove(root, a.iova, null, null);
    size--;
    a.left = a.right = null;
  }

  private static Area remove(Area n, long iova, Area pred, Area succ) {
    if (n == null) {
      throw new IllegalStateException("area not in tree: iova=" + Unsigned.hex(iova));
    }
    if (lt(iova, n.iova)) {
      n.left = remove(n.left, iova, pred, n);
    } else if (gt(iova, n.iova)) {
      n.right = remove(n.right, iova, n, succ);
    } else {
      if (n.left != null) {
        pred = n.left;
        while (pred.right != null) {
          pred = pred.right;
        }
      }
      if (n.right != null) {
        succ = n.right;
        while (succ.left != null) {
          succ = succ.left;
        }
      }
      if (succ != null) { // set before the unwinding recomputes the path through it
        succ.gapBefore = pred == null ? succ.iova : succ.iova - pred.last - 1;
      }
      if (n.left == null) {
        if (n.right != null) {
          update(n.right);
        }
        return n.right;
      }
      if (n.right == null) {
        return n.left;
      }
      Area min = succ;
      min.right = removeMin(n.right);
      min.left = n.left;
      n = min;
    }
    return rebalance(n);
  }

  void clear() {
    root = null;
    size = 0;
  }

  /** Every area in ascending IOVA order; the tree must not change during the iteration. */
  @Override
  public Iterator<Area> iterator() {
    return new InOrder(root, 0, Unsigned.U64_MAX);
  }

  /**
   * The areas sharing an address with {@code [start, last]}, ascending; the tree must not change
   * during the iteration.
   */
  Iterable<Area> overlapping(long start, long last) {
    return () -> new InOrder(root, start, last);
  }

  /**
   * The contiguous walk (io_pagetable.h: iopt_for_each_contig_area()): the populated areas from the
   * one holding {@code iova}, each starting right after the one before, up to the one holding
   * {@code last}. It ends early at a hole or at an area not yet populated: the range is covered
   * exactly when the last area it yields reaches {@code last}. The tree must not change during the
   * iteration.
   */
  Iterable<Area> contiguous(long iova, long last) {
    return () -> new Contiguous(new InOrder(root, iova, last), iova);
  }

  private static final class Contiguous implements Iterator<Area> {
    private final InOrder areas;

    /** The address the next area must hold. */
    private long pos;

    private Area next;
    private boolean ended;

    Contiguous(InOrder areas, long iova) {
      this.areas = areas;
      this.pos = iova;
    }

    @Override
    public boolean hasNext() {
      if (next == null && !ended) {
        Area a = areas.hasNext() ? areas.next() : null;
        if (a == null || gt(a.iova, pos) || !a.isPopulated()) {
          ended = true;
        } else {
          next = a;
          ended = a.last == Unsigned.U64_MAX;
          pos = a.last + 1;
        }
      }
      return next != null;
    }

    @Override
    public Area next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      Area a = next;
      next = null;
      return a;
    }
  }

  /** In-order walk from the first area ending at or after {@code start}: O(1) amortised a step. */
  private static final class InOrder implements Iterator<Area> {
    /** The areas still to visit whose left subtrees are done, the next one on top. */
    private final ArrayDeque<Area> path = new ArrayDeque<>();

    private final long last;

    InOrder(Area root, long start, long last) {
      this.last = last;
      for (Area n = root; n != null; ) {
        if (ge(n.last, start)) {
          path.push(n);
          n = n.left;
        } else {
          n = n.right;
        }
      }
    }

    @Override
    public boolean hasNext() {
      return !path.isEmpty() && le(path.peek().iova, last);
    }

    @Override
    public Area next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      Area a = path.pop();
      for (Area n = a.right; n != null; n = n.left) {
        path.push(n);
      }
      return a;
    }
  }

  private static Area removeMin(Area n) {
    if (n.left == null) {
      return n.right;
    }
    n.left = removeMin(n.left);
    return rebalance(n);
  }

  private static int height(Area n) {
    return n == null ? 0 : n.height();
  }

  private static void update(Area n) {
    n.height(1 + Math.max(height(n.left), height(n.right)));
    long g = n.gapBefore;
    if (n.left != null) {
      g = max(g, n.left.maxGap);
    }
    if (n.right != null) {
      g = max(g, n.right.maxGap);
    }
    n.maxGap = g;
  }

  private static Area rebalance(Area n) {
    update(n);
    int balance = height(n.left) - height(n.right);
    if (balance > 1) {
      if (height(n.left.left) < height(n.left.right)) {
        n.left = rotateLeft(n.left);
      }
      return rotateRight(n);
    }
    if (balance < -1) {
      if (height(n.right.right) < height(n.right.left)) {
        n.right = rotateRight(n.right);
      }
      return rotateLeft(n);
    }
    return n;
  }

  private static Area rotateRight(Area n) {
    Area l = n.left;
    n.left = l.right;
    l.right = n;
    update(n);
    update(l);
    return l;
  }

  private static Area rotateLeft(Area n) {
    Area r = n.right;
    n.right = r.left;
    r.left = n;
    update(n);
    update(r);
    return r;
  }

  /**
   * Checks the tree invariants (order, no overlap, AVL balance, gap bookkeeping); returns a
   * description of the first violation or null.
   */
  String checkInvariants() {
    Area[] prev = new Area[1];
    int[] count = new int[1];
    String[] problem = new String[1];
    checkNode(root, prev, count, problem);
    if (problem[0] == null && count[0] != size) {
      problem[0] = "size " + size + " but " + count[0] + " nodes";
    }
    return problem[0];
  }

  private static int checkNode(Area n, Area[] prev, int[] count, String[] problem) {
    if (n == null || problem[0] != null) {
      return 0;
    }
    int hl = checkNode(n.left, prev, count, problem);
    count[0]++;
    Area p = prev[0];
    long expectGap = p == null ? n.iova : n.iova - p.last - 1;
    if (p != null && !gt(n.iova, p.last)) {
      problem[0] = "areas out of order or overlapping: " + p + " then " + n;
    } else if (lt(n.last, n.iova)) {
      problem[0] = "area ends before it starts: " + n;
    } else if (n.gapBefore != expectGap) {
      problem[0] = "stale gap before " + n;
    }
    prev[0] = n;
    int hr = checkNode(n.right, prev, count, problem);
    long g = n.gapBefore;
    if (n.left != null) {
      g = max(g, n.left.maxGap);
    }
    if (n.right != null) {
      g = max(g, n.right.maxGap);
    }
    if (problem[0] == null && (n.height() != 1 + Math.max(hl, hr) || Math.abs(hl - hr) > 1)) {
      problem[0] = "unbalanced or stale height at " + n;
    } else if (problem[0] == null && n.maxGap != g) {
      problem[0] = "stale maxGap at " + n;
    }
    return 1 + Math.max(hl, hr);
  }
}
