package org.iommufd4j.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.iommufd4j.Errno;
import org.iommufd4j.IommufdException;
import org.iommufd4j.memory.SimulatedMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Area splitting for VFIO TYPE1 (io_pagetable.c: iopt_cut_iova()), on an {@link IoPagetable}
 * directly: the cases the byte ABI cannot reach on one thread or without accesses (busy areas,
 * access pins, a domain with large pages enabled) and what a cut keeps (page source, offsets, pins,
 * domain entries).
 */
class VfioSplitTest {
  private static final long PAGE = 4096;
  private static final long IOVA = 0x0100_0000L;

  private final Host host = new Host();
  private final SimulatedMemory memory = SimulatedMemory.create();
  private final Caller caller = new Caller(memory, 1, 1000, false, false, -1);
  private final IoPagetable iopt = new IoPagetable(host);

  @AfterEach
  void invariantsHold() {
    assertThat(iopt.checkInvariants()).isNull();
  }

  private Area map(long iova, long userVa, long length) {
    PageSource pages = new PageSource(userVa, length, true, AccountingMode.NONE, caller);
    List<Area> inserted =
        iopt.insert(
            iova,
            List.of(new IoPagetable.Slice(pages, userVa - pages.base, length)),
            Area.PROT_READ | Area.PROT_WRITE);
    iopt.commit(inserted);
    return inserted.getFirst();
  }

  private List<long[]> areas() {
    List<long[]> out = new ArrayList<>();
    for (Area a : iopt.areas) {
      out.add(new long[] {a.iova, a.last, a.pagesOffset()});
    }
    return out;
  }

  private static void assertRefused(Errno errno, Runnable call) {
    assertThatThrownBy(call::run)
        .isInstanceOf(IommufdException.class)
        .extracting(e -> ((IommufdException) e).errno())
        .isEqualTo(errno);
  }

  @Test
  void cutInsideAnAreaMakesTwoAreasOnTheSameSource() {
    long va = memory.allocate(16 * PAGE, true);
    Area original = map(IOVA, va, 16 * PAGE);
    iopt.setHugePages(false);

    iopt.split(IOVA + 4 * PAGE - 1);

    assertThat(areas())
        .containsExactly(
            new long[] {IOVA, IOVA + 4 * PAGE - 1, 0},
            new long[] {IOVA + 4 * PAGE, IOVA + 16 * PAGE - 1, 4 * PAGE});
    Area lhs = iopt.areas.find(IOVA);
    Area rhs = iopt.areas.find(IOVA + 4 * PAGE);
    assertThat(lhs.pages()).isSameAs(original.pages()).isSameAs(rhs.pages());
    assertThat(lhs.isPopulated()).isTrue();
    assertThat(rhs.isPopulated()).isTrue();
    assertThat(rhs.prot()).isEqualTo(original.prot());
  }

  @Test
  void cutAtTheFirstOrLastByteOrOutsideAnyAreaChangesNothing() {
    long va = memory.allocate(4 * PAGE, true);
    map(IOVA, va, 4 * PAGE);
    iopt.setHugePages(false);

    iopt.split(IOVA);
    iopt.split(IOVA + 4 * PAGE - 1);
    iopt.split(IOVA - 1);
    iopt.split(0);
    iopt.split(-1);

    assertThat(areas()).hasSize(1);
  }

  @Test
  void cutOffTheAlignmentFailsWithEinval() {
    long va = memory.allocate(4 * PAGE, true);
    map(IOVA, va, 4 * PAGE);
    iopt.setHugePages(false);

    assertRefused(Errno.EINVAL, () -> iopt.split(IOVA + 0x7ff));
    assertThat(areas()).hasSize(1);
  }

  @Test
  void cutWithoutDomainsAndWithLargePagesOnNeedsNoAlignment() {
    // align is 1 here. (The source-offset rule never fires on its own: an area's IOVA and in-page
    // offset are both multiples of align, so a conforming cut point has a conforming offset.)
    long va = memory.allocate(4 * PAGE, true);
    map(IOVA + 0x800, va + 0x800, 2 * PAGE);

    iopt.split(IOVA + 0x800 + 0x7ff);

    assertThat(areas())
        .containsExactly(
            new long[] {IOVA + 0x800, IOVA + 0xfff, 0x800},
            new long[] {IOVA + 0x1000, IOVA + 0x27ff, 0x1000});
  }

  @Test
  void cutOfAnAreaNotYetPopulatedFailsWithEbusy() {
    long va = memory.allocate(4 * PAGE, true);
    PageSource pages = new PageSource(va, 4 * PAGE, true, AccountingMode.NONE, caller);
    List<Area> inserted =
        iopt.insert(IOVA, List.of(new IoPagetable.Slice(pages, 0, 4 * PAGE)), Area.PROT_READ);
    iopt.setHugePages(false);

    assertRefused(Errno.EBUSY, () -> iopt.split(IOVA + PAGE - 1));
    iopt.commit(inserted);
  }

  @Test
  void cutOfAnAreaThatPreventsAccessFailsWithEbusyBeforeTheAlignmentCheck() {
    long va = memory.allocate(4 * PAGE, true);
    Area a = map(IOVA, va, 4 * PAGE);
    iopt.setHugePages(false);
    a.setPreventAccess(true);

    assertRefused(Errno.EBUSY, () -> iopt.split(IOVA + 1));
    a.setPreventAccess(false);
  }

  @Test
  void cutOfAnAreaWithAccessPinsFailsWithEinval() {
    long va = memory.allocate(4 * PAGE, true);
    Area a = map(IOVA, va, 4 * PAGE);
    iopt.setHugePages(false);
    a.accessCount = 1;

    assertRefused(Errno.EINVAL, () -> iopt.split(IOVA + PAGE - 1));
    a.accessCount = 0;
    assertThat(areas()).hasSize(1);
  }

  @Test
  void cutOfAnAreaInADomainWithLargePagesEnabledFailsWithEinval() {
    long va = memory.allocate(4 * PAGE, true);
    iopt.addDomain(new MockDomain(false, false));
    map(IOVA, va, 4 * PAGE);

    assertRefused(Errno.EINVAL, () -> iopt.split(IOVA + PAGE - 1));
    iopt.removeAll();
  }

  @Test
  void cutInADomainKeepsItsEntriesAndPinsAndBothHalvesUnmapCleanly() {
    long va = memory.allocate(8 * PAGE, true);
    MockDomain domain = new MockDomain(false, false);
    iopt.addDomain(domain);
    iopt.setHugePages(false);
    Area a = map(IOVA, va, 8 * PAGE);
    long entries = domain.entryCount();

    iopt.split(IOVA + 3 * PAGE - 1);

    assertThat(domain.entryCount()).isEqualTo(entries);
    for (long p = 0; p < 8; p++) {
      assertThat(a.pinUsers(p)).isEqualTo(1);
    }
    assertThat(domain.entry(IOVA + 3 * PAGE) & MockDomain.START)
        .as("with large pages off every 4 KiB page was its own map operation")
        .isNotZero();
    assertThat(domain.entry(IOVA + 3 * PAGE - MockDomain.GRANULE) & MockDomain.LAST).isNotZero();

    long[] progress = {0};
    iopt.removeRange(IOVA, IOVA + 3 * PAGE - 1, progress);
    assertThat(progress[0]).isEqualTo(3 * PAGE);
    assertThat(a.pinUsers(0)).isZero();
    assertThat(a.pinUsers(3)).isEqualTo(1);
    iopt.removeAll();
    assertThat(domain.entryCount()).isZero();
    assertThat(a.pagesForReading().isUnpinned()).isTrue();
    iopt.removeDomain(domain);
  }
}
