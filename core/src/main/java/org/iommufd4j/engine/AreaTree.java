package org.iommufd4j.engine;

import static org.iommufd4j.engine.Unsigned.ge;
import static org.iommufd4j.engine.Unsigned.gt;
import static org.iommufd4j.engine.Unsigned.le;
import static org.iommufd4j.engine.Unsigned.lt;
import static org.iommufd4j.engine.Unsigned.max;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * The areas of one IOAS, ordered by IOVA (unsigned), never overlapping. A B+tree whose nodes keep
 * their keys in primitive arrays, so that a descent reads a few contiguous cache lines per level
 * instead of one object per comparison. Each inner node keeps, per child, the first IOVA, the last
 * address and the largest free gap between two areas inside that child; the gap between two
 * children follows from their bounds. {@link #firstGapAtLeast} therefore finds the first hole big
 * enough for an allocation in O(log n), where the kernel's io_pagetable.c: iopt_alloc_iova() walks
 * the holes with interval-tree span iterators; the result is the same.
 *
 * <p>A leaf stores its areas as rows of primitive arrays: an area straight from a MAP without a
 * domain is a row and no object (about 32 bytes), and {@link Area} objects are made, and kept in
 * the row, only where the engine asks for one (a domain, an access, COPY, a VFIO cut, inspection).
 * MAP and UNMAP of such areas go through the row methods ({@link #insertRowIfFree}, the cursor
 * {@link #seekEndingAtOrAfter} and {@link #removeStartingAt}) and allocate nothing.
 *
 * <p>Leaves are chained for in-order walks. A node splits in halves when full, except a leaf whose
 * new entry goes at its end: the new leaf takes that entry alone, so that ascending insertions (the
 * automatic allocator's usual pattern) leave full leaves behind. A node left below half full by a
 * removal merges with a neighbour when both fit in three quarters of a node, else takes entries
 * from it, so that a MAP and UNMAP repeated at a node boundary does not split and merge every time.
 * Inner nodes keep two children at least (the root collapses when it has one). Not thread safe: the
 * IOAS lock guards it.
 */
final class AreaTree implements Iterable<Area> {
  /** Entries per node: a leaf's two key arrays are four cache lines each. */
  static final int DEFAULT_FANOUT = 32;

  private final int fanout;
  private final int minFill;
  private final int mergeFill;

  private Node root;
  private int size;

  /** Set by {@link #insert(Node, Area, long)} when the new area overlapped a neighbour. */
  private boolean refused;

  /**
   * Set by {@link #insert(Node, Area, long)} and {@link #remove(Node, Area, long)} when the node
   * neither split nor needs rebalancing: its largest inner gap after the change, which the parent
   * stores.
   */
  private long gapAfter;

  /** What {@link #adjust} answers when only a scan of the node can tell its largest inner gap. */
  private static final long SCAN = Unsigned.U64_MAX; // never a gap between two areas

  AreaTree() {
    this(DEFAULT_FANOUT);
  }

  /** A tree with {@code fanout} entries per node (at least 4); tests use small ones. */
  AreaTree(int fanout) {
    if (fanout < 4) {
      throw new IllegalArgumentException("fanout " + fanout + " < 4");
    }
    this.fanout = fanout;
    this.minFill = fanout / 2;
    this.mergeFill = fanout * 3 / 4;
    this.root = new Node(fanout, true);
  }

  /**
   * One node. A leaf holds areas ({@code first[i]}, {@code last[i]} are area i's bounds); an inner
   * node holds children ({@code first[i]}, {@code last[i]} are the bounds of child i's subtree and
   * {@code innerGap[i]} the largest gap between two of its areas, 0 with one area).
   */
  private static final class Node {
    final long[] first;
    final long[] last;
    final long[] innerGap;
    final Node[] kids;

    /**
     * A leaf's rows besides their bounds: per area the {@link Area} once one was made for it, else
     * the {@link Caller} that mapped the memory, with the owner's address of the first byte and the
     * area's flags ({@link Area#PROT_READ}, ..., {@link Area#POPULATED}, the writability and
     * accounting of the memory). A made {@code Area} holds the area's state from then on.
     */
    final Object[] refs;

    final long[] addrs;
    final int[] flags;
    int size;

    /** The next leaf in IOVA order (leaves only). */
    Node next;

    Node(int fanout, boolean leaf) {
      first = new long[fanout];
      last = new long[fanout];
      innerGap = leaf ? null : new long[fanout];
      kids = leaf ? null : new Node[fanout];
      refs = leaf ? new Object[fanout] : null;
      addrs = leaf ? new long[fanout] : null;
      flags = leaf ? new int[fanout] : null;
    }

    boolean isLeaf() {
      return refs != null;
    }

    /** The area of row {@code i}, made now (and kept) if the row still stands for it. */
    Area area(int i) {
      if (refs[i] instanceof Area a) {
        return a;
      }
      Area a = peek(i);
      refs[i] = a;
      return a;
    }

    /** The area of row {@code i}, or if it is not made yet an equal one that the row not keeps. */
    Area peek(int i) {
      return refs[i] instanceof Area a
          ? a
          : Area.ofRow(first[i], last[i], (Caller) refs[i], addrs[i], flags[i]);
    }

    /** Free addresses between entry {@code i - 1} and entry {@code i}. */
    long gapBefore(int i) {
      return first[i] - last[i - 1] - 1;
    }

    /** The largest gap between two areas of this subtree, from this node's arrays alone. */
    long innerGap() {
      long g = 0;
      for (int i = 1; i < size; i++) {
        g = max(g, gapBefore(i));
      }
      if (innerGap != null) {
        for (int i = 0; i < size; i++) {
          g = max(g, innerGap[i]);
        }
      }
      return g;
    }

    /** Refreshes this inner node's summary of child {@code i}. */
    void summarize(int i) {
      Node k = kids[i];
      first[i] = k.first[0];
      last[i] = k.last[k.size - 1];
      innerGap[i] = k.innerGap();
    }

    /** The first index whose {@code last} is at or above {@code addr}, or {@link #size}. */
    int firstEndingAtOrAfter(long addr) {
      return countBelow(last, addr, false);
    }

    /** The number of entries whose {@code first} is below {@code addr}. */
    int countStartingBelow(long addr) {
      return countBelow(first, addr, false);
    }

    /** The child an area starting at {@code iova} belongs in: the last starting at or before. */
    int childFor(long iova) {
      return Math.max(countBelow(first, iova, true) - 1, 0);
    }

    /**
     * How many of the ascending {@code keys[0, size)} are below {@code addr}, or at or below it
     * when {@code orAt} (unsigned; a binary search). A branch-free search, a scan from the front
     * and one from the front after a look at the last key measured no faster on the benchmarks'
     * patterns as a whole (BENCHMARKS.md, issue 17).
     */
    private int countBelow(long[] keys, long addr, boolean orAt) {
      int lo = 0;
      int hi = size;
      while (lo < hi) {
        int mid = (lo + hi) >>> 1;
        if (orAt ? le(keys[mid], addr) : lt(keys[mid], addr)) {
          lo = mid + 1;
        } else {
          hi = mid;
        }
      }
      return lo;
    }

    /** Moves entries {@code [from, from + n)} of {@code src} to {@code dst} at {@code at}. */
    static void move(Node src, int from, Node dst, int at, int n) {
      System.arraycopy(src.first, from, dst.first, at, n);
      System.arraycopy(src.last, from, dst.last, at, n);
      if (src.isLeaf()) {
        System.arraycopy(src.refs, from, dst.refs, at, n);
        System.arraycopy(src.addrs, from, dst.addrs, at, n);
        System.arraycopy(src.flags, from, dst.flags, at, n);
      } else {
        System.arraycopy(src.innerGap, from, dst.innerGap, at, n);
        System.arraycopy(src.kids, from, dst.kids, at, n);
      }
    }

    /** Opens a hole at {@code i} (the node must have room). */
    void openAt(int i) {
      move(this, i, this, i + 1, size - i);
      size++;
    }

    /** Closes entry {@code i}, clearing the reference it leaves behind. */
    void closeAt(int i) {
      move(this, i + 1, this, i, size - i - 1);
      size--;
      if (isLeaf()) {
        refs[size] = null;
      } else {
        kids[size] = null;
      }
    }
  }

  int size() {
    return size;
  }

  boolean isEmpty() {
    return size == 0;
  }

  // ---- the cursor: one row, read without making an Area ----------------------------------

  /** The leaf and row the last {@code seek} or {@link #seekNext} stopped at. */
  private Node atLeaf;

  private int atIndex;

  /**
   * Moves the cursor to the lowest area whose {@code last >= addr} (the first area at or after
   * {@code addr}); false when there is none.
   */
  boolean seekEndingAtOrAfter(long addr) {
    Node n = root;
    while (true) {
      int i = n.firstEndingAtOrAfter(addr);
      if (i == n.size) {
        atLeaf = null;
        return false;
      }
      if (n.isLeaf()) {
        atLeaf = n;
        atIndex = i;
        return true;
      }
      n = n.kids[i];
    }
  }

  /** Moves the cursor to the next area in IOVA order; false at the end. */
  boolean seekNext() {
    if (++atIndex == atLeaf.size) {
      atLeaf = atLeaf.next;
      atIndex = 0;
    }
    return atLeaf != null;
  }

  /**
   * Moves the cursor to the first area starting above {@code after} whose preceding gap holds at
   * least {@code minGap} free addresses (both unsigned); false when there is none. The gap before
   * the lowest area counts from 0. {@link #atGapStart()} then tells where that gap begins.
   */
  boolean seekGapAtLeast(long after, long minGap) {
    atLeaf = null;
    return root.size > 0 && seekGapAtLeast(root, after, minGap, root.first[0]);
  }

  /**
   * The first-fit search below {@code n}; {@code gapBeforeFirst} is the gap before n's first area,
   * 0 when that area does not start above {@code after} (so the gap cannot be the answer).
   */
  private boolean seekGapAtLeast(Node n, long after, long minGap, long gapBeforeFirst) {
    for (int i = n.firstEndingAtOrAfter(after); i < n.size; i++) {
      // only the gap before an area starting above `after` counts
      long gap = !gt(n.first[i], after) ? 0 : i == 0 ? gapBeforeFirst : n.gapBefore(i);
      if (n.isLeaf()) {
        if (gt(n.first[i], after) && ge(gap, minGap)) {
          atLeaf = n;
          atIndex = i;
          atGap = gap;
          return true;
        }
      } else if (gt(n.last[i], after)
          && ge(max(gap, n.innerGap[i]), minGap)
          && seekGapAtLeast(n.kids[i], after, minGap, gap)) {
        return true;
      }
    }
    return false;
  }

  /** The gap before the area {@link #seekGapAtLeast} found (never 0: the minimum is 1). */
  private long atGap;

  /** The first free address of the gap {@link #seekGapAtLeast} found: after the area before. */
  long atGapStart() {
    return atFirst() - atGap;
  }

  long atFirst() {
    return atLeaf.first[atIndex];
  }

  long atLast() {
    return atLeaf.last[atIndex];
  }

  /** The cursor's area, made now if its row still stands for it. */
  Area atArea() {
    return atLeaf.area(atIndex);
  }

  /**
   * The cursor's area if one was made, else null: a bare row, which no domain maps and no access
   * pins (attaching either makes the areas).
   */
  Area atAreaIfMade() {
    return atLeaf.refs[atIndex] instanceof Area a ? a : null;
  }

  /** Whether the cursor's area is populated. */
  boolean atPopulated() {
    Object ref = atLeaf.refs[atIndex];
    return ref instanceof Area a ? a.isPopulated() : (atLeaf.flags[atIndex] & Area.POPULATED) != 0;
  }

  /** The cursor's protection bits. */
  int atProt() {
    Object ref = atLeaf.refs[atIndex];
    return ref instanceof Area a ? a.prot() : atLeaf.flags[atIndex] & Area.PROT_MASK;
  }

  /** The last address of the highest area; the tree must not be empty. */
  long maxLast() {
    return root.last[root.size - 1];
  }

  // ---- queries answering areas ------------------------------------------------------------

  /** The area containing {@code iova}, or null. */
  Area find(long iova) {
    Area a = firstEndingAtOrAfter(iova);
    return a != null && ge(iova, a.iova) ? a : null;
  }

  /** The lowest area whose {@code last >= addr}: the first area at or after {@code addr}. */
  Area firstEndingAtOrAfter(long addr) {
    return seekEndingAtOrAfter(addr) ? atArea() : null;
  }

  /** The highest area starting below {@code addr}, or null. */
  Area lastStartingBelow(long addr) {
    Node n = root;
    while (true) {
      int i = n.countStartingBelow(addr) - 1;
      if (i < 0) {
        return null;
      }
      if (n.isLeaf()) {
        return n.area(i);
      }
      n = n.kids[i];
    }
  }

  Area lastArea() {
    Node n = root;
    while (n.size > 0 && !n.isLeaf()) {
      n = n.kids[n.size - 1];
    }
    return n.size == 0 ? null : n.area(n.size - 1);
  }

  /** The area after {@code a}, or null. */
  Area next(Area a) {
    return a.last == Unsigned.U64_MAX ? null : firstEndingAtOrAfter(a.last + 1);
  }

  /** Whether any area shares an address with {@code [start, last]}. */
  boolean intersects(long start, long last) {
    return seekEndingAtOrAfter(start) && le(atFirst(), last);
  }

  /** The area {@link #seekGapAtLeast} moves to, or null. */
  Area firstGapAtLeast(long after, long minGap) {
    return seekGapAtLeast(after, minGap) ? atArea() : null;
  }

  /** The first free address below {@code a}: just after the area before it, or 0. */
  long gapStartBefore(Area a) {
    Area before = lastStartingBelow(a.iova);
    return before == null ? 0 : before.last + 1;
  }

  // ---- insertion -------------------------------------------------------------------------

  /** The row {@link #insert(Node, long, long, long)} puts into its leaf. */
  private Object rowRef;

  private long rowAddr;
  private int rowFlags;

  /** Inserts {@code a}, which must not overlap any area. One descent. */
  void insert(Area a) {
    if (!insertIfFree(a)) {
      throw new IllegalStateException(a + " overlaps an area");
    }
  }

  /**
   * Inserts {@code a} unless it overlaps an area; returns whether it did. One descent: the
   * neighbours met on the way down decide, since areas never overlap each other.
   */
  boolean insertIfFree(Area a) {
    rowRef = a;
    return insertIfFree(a.iova, a.last);
  }

  /**
   * Inserts a row standing for the area {@code [iova, last]} showing {@code owner}'s memory from
   * {@code userVa} on, with {@code flags} as {@link Area#rowFlags} makes them, unless it overlaps
   * an area; returns whether it did. Allocates nothing unless a leaf splits.
   */
  boolean insertRowIfFree(long iova, long last, Caller owner, long userVa, int flags) {
    rowRef = owner;
    rowAddr = userVa;
    rowFlags = flags;
    return insertIfFree(iova, last);
  }

  private boolean insertIfFree(long iova, long last) {
    refused = false;
    Node split = insert(root, iova, last, 0); // the root's own gap is nobody's business
    rowRef = null;
    if (refused) {
      return false;
    }
    if (split != null) {
      Node top = new Node(fanout, false);
      top.kids[0] = root;
      top.kids[1] = split;
      top.size = 2;
      top.summarize(0);
      top.summarize(1);
      root = top;
    }
    size++;
    return true;
  }

  /**
   * A node's largest inner gap {@code gap} after one of the gaps it is the maximum of went from
   * {@code before} to {@code now} (unsigned): a growth raises it, a shrink of what may have been
   * the maximum needs a scan ({@link #SCAN}, which stays).
   */
  private static long adjust(long gap, long before, long now) {
    if (gap == SCAN) {
      return SCAN;
    }
    if (lt(now, before)) {
      return before == gap ? SCAN : gap;
    }
    return max(gap, now);
  }

  /**
   * The largest inner gap of inner node {@code n}, whose child {@code i} changed without splitting
   * or emptying, from what it was ({@code gap}) and the child's old bounds and gap; also refreshes
   * the summary of child {@code i} with {@code kidGap}.
   */
  private static long childChanged(
      Node n, int i, long gap, long oldFirst, long oldLast, long oldKidGap, long kidGap) {
    Node k = n.kids[i];
    n.first[i] = k.first[0];
    n.last[i] = k.last[k.size - 1];
    n.innerGap[i] = kidGap;
    gap = adjust(gap, oldKidGap, kidGap);
    if (i > 0 && n.first[i] != oldFirst) {
      gap = adjust(gap, oldFirst - n.last[i - 1] - 1, n.gapBefore(i));
    }
    if (i + 1 < n.size && n.last[i] != oldLast) {
      gap = adjust(gap, n.first[i + 1] - oldLast - 1, n.gapBefore(i + 1));
    }
    return gap;
  }

  /**
   * Inserts the row for {@code [iova, last]} below {@code n}, refusing (nothing changed) when it
   * overlaps a neighbour: returns the new right sibling if {@code n} split, else null and sets
   * {@link #gapAfter} from {@code gap}, n's largest inner gap before. Neighbours outside {@code n}
   * were checked by the callers above. Each level updates its gap from what changed instead of
   * scanning its entries, except when the gap that shrank may have been the largest.
   */
  private Node insert(Node n, long iova, long last, long gap) {
    if (n.isLeaf()) {
      int i = n.countStartingBelow(iova);
      if ((i > 0 && ge(n.last[i - 1], iova)) || (i < n.size && le(n.first[i], last))) {
        refused = true;
        return null;
      }
      if (n.size == 0) {
        gap = 0;
      } else if (i == 0) { // a new gap after the new first area
        gap = max(gap, n.first[0] - last - 1);
      } else if (i == n.size) { // a new gap before the new last area
        gap = max(gap, iova - n.last[i - 1] - 1);
      } else { // the gap around the new area is cut in two smaller ones
        gap = adjust(gap, n.gapBefore(i), 0);
      }
      Node split = insertAt(n, i, iova, last, null, 0);
      gapAfter = split == null && gap != SCAN ? gap : n.innerGap();
      return split;
    }
    int i = n.childFor(iova);
    if (i + 1 < n.size && le(n.first[i + 1], last)) {
      refused = true;
      return null;
    }
    long oldFirst = n.first[i];
    long oldLast = n.last[i];
    long oldKidGap = n.innerGap[i];
    Node split = insert(n.kids[i], iova, last, oldKidGap);
    if (refused) {
      return null;
    }
    if (split == null) {
      gap = childChanged(n, i, gap, oldFirst, oldLast, oldKidGap, gapAfter);
      gapAfter = gap == SCAN ? n.innerGap() : gap;
      return null;
    }
    n.summarize(i);
    Node mine =
        insertAt(n, i + 1, split.first[0], split.last[split.size - 1], split, split.innerGap());
    gapAfter = n.innerGap();
    return mine;
  }

  /**
   * Puts one entry at index {@code i} of {@code n}, splitting it when full: in a leaf the pending
   * row ({@link #rowRef}, ...), in an inner node child {@code kid} with inner gap {@code gap}.
   */
  private Node insertAt(Node n, int i, long first, long last, Node kid, long gap) {
    Node target = n;
    Node split = null;
    if (n.size == fanout) {
      split = new Node(fanout, n.isLeaf());
      int keep = i == fanout && n.isLeaf() ? fanout : fanout / 2;
      Node.move(n, keep, split, 0, fanout - keep);
      split.size = fanout - keep;
      clearTail(n, keep, fanout);
      n.size = keep;
      if (n.isLeaf()) {
        split.next = n.next;
        n.next = split;
      }
      if (i >= keep) {
        target = split;
        i -= keep;
      }
    }
    target.openAt(i);
    target.first[i] = first;
    target.last[i] = last;
    if (target.isLeaf()) {
      target.refs[i] = rowRef;
      target.addrs[i] = rowAddr;
      target.flags[i] = rowFlags;
    } else {
      target.kids[i] = kid;
      target.innerGap[i] = gap;
    }
    return split;
  }

  // ---- removal ---------------------------------------------------------------------------

  /** Removes {@code a}, which must be in the tree. One descent. */
  void remove(Area a) {
    removeRow(a.iova, a);
  }

  /** Removes the area starting at {@code iova}, which must be in the tree. One descent. */
  void removeStartingAt(long iova) {
    removeRow(iova, null);
  }

  private void removeRow(long iova, Area expected) {
    remove(root, iova, expected, 0);
    if (!root.isLeaf() && root.size == 1) {
      root = root.kids[0];
    }
    size--;
  }

  /**
   * Removes the row starting at {@code iova} (which must be {@code expected}'s when given) from
   * below {@code n} and sets {@link #gapAfter} from {@code gap}, n's largest inner gap before
   * (meaningless when n is left below half full: its parent rebalances it).
   */
  private void remove(Node n, long iova, Area expected, long gap) {
    if (n.isLeaf()) {
      int i = n.countStartingBelow(iova);
      if (i == n.size || n.first[i] != iova || (expected != null && n.refs[i] != expected)) {
        throw new IllegalStateException(
            (expected != null ? expected : Unsigned.hex(iova)) + " is not in the tree");
      }
      if (n.size == 1) {
        gap = 0;
      } else if (i == 0) { // the gap after the first area leaves the node
        gap = adjust(gap, n.gapBefore(1), 0);
      } else if (i == n.size - 1) { // the gap before the last area leaves the node
        gap = adjust(gap, n.gapBefore(i), 0);
      } else { // the gaps on both sides become one, larger than either
        gap = max(gap, n.first[i + 1] - n.last[i - 1] - 1);
      }
      n.closeAt(i);
      gapAfter = gap == SCAN ? n.innerGap() : gap;
      return;
    }
    int i = n.childFor(iova);
    Node kid = n.kids[i];
    long oldFirst = n.first[i];
    long oldLast = n.last[i];
    long oldKidGap = n.innerGap[i];
    remove(kid, iova, expected, oldKidGap);
    if (kid.size >= minFill) {
      gap = childChanged(n, i, gap, oldFirst, oldLast, oldKidGap, gapAfter);
      gapAfter = gap == SCAN ? n.innerGap() : gap;
    } else {
      rebalance(n, i);
      gapAfter = n.innerGap();
    }
  }

  /**
   * Child {@code i} of {@code n} fell below half full: merge it with a neighbour when both fit in
   * three quarters of a node, else even the two out.
   */
  private void rebalance(Node n, int i) { // n has two children at least: inner nodes always do
    int l = i > 0 ? i - 1 : i;
    Node left = n.kids[l];
    Node right = n.kids[l + 1];
    int total = left.size + right.size;
    if (total <= mergeFill) {
      Node.move(right, 0, left, left.size, right.size);
      left.size = total;
      if (left.isLeaf()) {
        left.next = right.next;
      }
      n.closeAt(l + 1);
      n.summarize(l);
      return;
    }
    int leftSize = total / 2;
    if (left.size > leftSize) { // left gives its tail to right
      int k = left.size - leftSize;
      Node.move(right, 0, right, k, right.size);
      Node.move(left, leftSize, right, 0, k);
      clearTail(left, leftSize, left.size);
    } else { // right gives its head to left
      int k = leftSize - left.size;
      Node.move(right, 0, left, left.size, k);
      Node.move(right, k, right, 0, right.size - k);
      clearTail(right, right.size - k, right.size);
    }
    left.size = leftSize;
    right.size = total - leftSize;
    n.summarize(l);
    n.summarize(l + 1);
  }

  /** Clears the references of entries {@code [from, to)} of {@code n}, left behind by a move. */
  private static void clearTail(Node n, int from, int to) {
    Arrays.fill(n.isLeaf() ? n.refs : n.kids, from, to, null);
  }

  void clear() {
    root = new Node(fanout, true);
    size = 0;
    atLeaf = null;
  }

  // ---- walks -----------------------------------------------------------------------------

  /**
   * Every area in ascending IOVA order, each made and kept if its row still stood for it; the tree
   * must not change during the iteration.
   */
  @Override
  public Iterator<Area> iterator() {
    return overlapping(0, Unsigned.U64_MAX).iterator();
  }

  /**
   * Every area in ascending IOVA order for reading only: the area of a row that stands for one is
   * made for the occasion and not kept (its identity means nothing, its state is the row's), so
   * that checks and scans over a million rows do not leave a million objects behind.
   */
  Iterable<Area> readOnly() {
    return () -> {
      InOrder walk = inOrder(0, Unsigned.U64_MAX);
      walk.keep = false;
      return walk;
    };
  }

  /**
   * The areas sharing an address with {@code [start, last]}, ascending; the tree must not change
   * during the iteration.
   */
  Iterable<Area> overlapping(long start, long last) {
    return () -> inOrder(start, last);
  }

  private InOrder inOrder(long start, long last) {
    return seekEndingAtOrAfter(start)
        ? new InOrder(atLeaf, atIndex, last)
        : new InOrder(null, 0, 0);
  }

  /**
   * The contiguous walk (io_pagetable.h: iopt_for_each_contig_area()): the populated areas from the
   * one holding {@code iova}, each starting right after the one before, up to the one holding
   * {@code last}. It ends early at a hole or at an area not yet populated: the range is covered
   * exactly when the last area it yields reaches {@code last}. The tree must not change during the
   * iteration.
   */
  Iterable<Area> contiguous(long iova, long last) {
    return () -> new Contiguous(inOrder(iova, last), iova);
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

  /**
   * Along the leaf chain from a row up to the last area starting at or below a bound, making the
   * {@link Area} of each row it yields.
   */
  private static final class InOrder implements Iterator<Area> {
    private Node leaf;
    private int index;
    private final long last;

    /** Whether the areas made for rows stay in the tree. */
    boolean keep = true;

    InOrder(Node leaf, int index, long last) {
      this.leaf = leaf;
      this.index = index;
      this.last = last;
    }

    @Override
    public boolean hasNext() {
      if (leaf != null && index == leaf.size) {
        leaf = leaf.next;
        index = 0;
      }
      return leaf != null && le(leaf.first[index], last);
    }

    @Override
    public Area next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      return keep ? leaf.area(index++) : leaf.peek(index++);
    }
  }

  // ---- invariants ------------------------------------------------------------------------

  /**
   * Checks the tree invariants (order, no overlap, node fill, equal leaf depth, the summaries and
   * gaps kept per child, the leaf chain, each row against its area); returns a description of the
   * first violation or null. Makes no {@link Area}.
   */
  String checkInvariants() {
    List<Node> leaves = new ArrayList<>();
    String problem = checkNode(root, true, 0, new int[] {-1}, leaves);
    if (problem != null) {
      return problem;
    }
    long count = 0;
    boolean any = false;
    long prevLast = 0;
    for (int l = 0; l < leaves.size(); l++) {
      Node leaf = leaves.get(l);
      Node expectedNext = l + 1 < leaves.size() ? leaves.get(l + 1) : null;
      if (leaf.next != expectedNext) {
        return "leaf chain broken after leaf " + l;
      }
      for (int i = 0; i < leaf.size; i++) {
        long first = leaf.first[i];
        long last = leaf.last[i];
        String row = "row [" + Unsigned.hex(first) + ", " + Unsigned.hex(last) + "]";
        if (leaf.refs[i] instanceof Area a) {
          if (a.iova != first || a.last != last) {
            return "leaf keys do not match " + a;
          }
        } else if (!(leaf.refs[i] instanceof Caller) || (leaf.flags[i] & ~Area.ROW_FLAGS) != 0) {
          return row + " has neither an area nor an owner and row flags";
        }
        if (lt(last, first)) {
          return row + " ends before it starts";
        }
        if (any && !gt(first, prevLast)) {
          return "areas out of order or overlapping at " + row;
        }
        any = true;
        prevLast = last;
        count++;
      }
      for (int i = leaf.size; i < fanout; i++) {
        if (leaf.refs[i] != null) {
          return "stale row reference past the end of a leaf";
        }
      }
    }
    return count == size ? null : "size " + size + " but " + count + " areas";
  }

  /** Whether any row still stands for its area (no {@link Area} made for it); for the checks. */
  boolean hasUnmadeRows() {
    for (InOrder walk = inOrder(0, Unsigned.U64_MAX); walk.hasNext(); walk.index++) {
      if (!(walk.leaf.refs[walk.index] instanceof Area)) {
        return true;
      }
    }
    return false;
  }

  private String checkNode(Node n, boolean isRoot, int depth, int[] leafDepth, List<Node> leaves) {
    if (n.size > fanout || (!isRoot && n.size == 0) || (!n.isLeaf() && n.size < 2)) {
      return "node of " + n.size + " entries at depth " + depth;
    }
    if (n.isLeaf()) {
      if (leafDepth[0] >= 0 && leafDepth[0] != depth) {
        return "leaves at depths " + leafDepth[0] + " and " + depth;
      }
      leafDepth[0] = depth;
      leaves.add(n);
      return null;
    }
    for (int i = 0; i < n.size; i++) {
      Node k = n.kids[i];
      String problem = checkNode(k, false, depth + 1, leafDepth, leaves);
      if (problem != null) {
        return problem;
      }
      if (n.first[i] != k.first[0]
          || n.last[i] != k.last[k.size - 1]
          || n.innerGap[i] != k.innerGap()) {
        return "stale summary of child " + i + " at depth " + depth;
      }
    }
    for (int i = n.size; i < fanout; i++) {
      if (n.kids[i] != null) {
        return "stale child reference past the end of a node";
      }
    }
    return null;
  }
}
