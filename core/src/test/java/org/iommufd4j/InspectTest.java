package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.iommufd4j.inspect.Snapshot;
import org.iommufd4j.inspect.Snapshot.AccessPin;
import org.iommufd4j.inspect.Snapshot.Account;
import org.iommufd4j.inspect.Snapshot.AccountKind;
import org.iommufd4j.inspect.Snapshot.AreaState;
import org.iommufd4j.inspect.Snapshot.HwptState;
import org.iommufd4j.inspect.Snapshot.IoasState;
import org.iommufd4j.inspect.Snapshot.ObjectEntry;
import org.iommufd4j.inspect.Snapshot.ObjectType;
import org.iommufd4j.inspect.Snapshot.OwnerKind;
import org.iommufd4j.inspect.Snapshot.Reserved;
import org.iommufd4j.uapi.IommuHwptPgfault;
import org.iommufd4j.uapi.IommuTestCmd;
import org.iommufd4j.uapi.Struct;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link Iommufd#inspect()}: what the snapshot holds for representative states (areas and their
 * page sources, reserved ranges and their owners, pins and charges, HWPTs, devices, accesses, fault
 * queues), and that {@code Context.describe()} is its table.
 */
class InspectTest extends MockDeviceFixture {
  private static final long MIB = 1 << 20;
  private int accessFd = -1;
  private int faultFd = -1;

  /** Runs before the fixture's leak check: an open access or fault fd keeps the context alive. */
  @AfterEach
  void closeFds() {
    if (accessFd >= 0) {
      iommufd.closeFd(accessFd);
    }
    if (faultFd >= 0) {
      iommufd.closeFd(faultFd);
    }
  }

  private int addReserved(int ioasId, long start, long length) {
    return rc(
        testCmd(IommuTestCmd.IOMMU_TEST_OP_ADD_RESERVED, ioasId)
            .u64(IommuTestCmd.ADD_RESERVED_START, start)
            .u64(IommuTestCmd.ADD_RESERVED_LENGTH, length));
  }

  private int createAccess(int ioasId) {
    Struct s =
        testCmd(IommuTestCmd.IOMMU_TEST_OP_CREATE_ACCESS, ioasId)
            .u32(
                IommuTestCmd.CREATE_ACCESS_FLAGS,
                IommuTestCmd.MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
    ok(rc(s));
    return s.u32(IommuTestCmd.CREATE_ACCESS_OUT_ACCESS_FD);
  }

  private void accessPages(int fd, long iova, long length) {
    ok(
        rc(
            testCmd(IommuTestCmd.IOMMU_TEST_OP_ACCESS_PAGES, fd)
                .u64(IommuTestCmd.ACCESS_PAGES_IOVA, iova)
                .u64(IommuTestCmd.ACCESS_PAGES_LENGTH, length)));
  }

  @Test
  void areasShareTheirPageSourceAcrossCopyAndCountPinsAndCharges() {
    openPrivate();
    Ioas dma = iommufd.createIoas();
    Ioas guest = iommufd.createIoas();
    MemorySegment buffer = buffer(4 * MIB, 2 * MIB);
    try (EmulatedDevice dev = iommufd.createDevice(DomainModel.selftestMock())) {
      dev.attach(dma);
      Mapping ring = dma.map(buffer.asSlice(0, 64 << 10), Protection.READ_WRITE);
      dma.mapFixed(0x4000_0000L, buffer.asSlice(2 * MIB, 4096), Protection.READ);
      guest.allowIovas(List.of(new IovaRange(0x1_0000_0000L, 0x1_ffff_ffffL)));
      ok(addReserved(guest.id(), 0x40_0000_0000L, 16 * MIB));
      Mapping copy = guest.copy(dma, ring.iova() + 0x1000, 0x4000, Protection.READ);
      accessFd = createAccess(guest.id());
      accessPages(accessFd, copy.iova(), 0x2000);

      Snapshot s = iommufd.inspect();

      int hwpt = s.hwpts().getFirst().id();
      int access = s.accesses().getFirst().id();
      assertThat(s.objects())
          .containsExactly(
              new ObjectEntry(dma.id(), ObjectType.IOAS, 2),
              new ObjectEntry(guest.id(), ObjectType.IOAS, 2),
              new ObjectEntry(dev.id(), ObjectType.DEVICE, 2),
              new ObjectEntry(hwpt, ObjectType.HWPT_PAGING, 2),
              new ObjectEntry(access, ObjectType.ACCESS, 2));

      IoasState d = s.ioases().get(0);
      assertThat(d.alignment()).isEqualTo(MOCK_PAGE);
      assertThat(d.hugePages()).isTrue();
      assertThat(d.domainHwptIds()).containsExactly(hwpt);
      assertThat(d.reserved())
          .containsExactly(
              new Reserved(0, BASE - 1, OwnerKind.DOMAIN, hwpt),
              new Reserved(IommuTestCmd.MOCK_APERTURE_LAST + 1, -1L, OwnerKind.DOMAIN, hwpt));
      assertThat(d.areas())
          .containsExactly(
              new AreaState(
                  ring.iova(), ring.last(), buffer.address(), 1, 0, true, true, true, false, 16, 0),
              new AreaState(
                  0x4000_0000L,
                  0x4000_0fffL,
                  buffer.address() + 2 * MIB,
                  2,
                  0,
                  true,
                  false,
                  true,
                  false,
                  1,
                  0));

      IoasState g = s.ioases().get(1);
      assertThat(g.allowed()).containsExactly(new IovaRange(0x1_0000_0000L, 0x1_ffff_ffffL));
      assertThat(g.reserved())
          .containsExactly(new Reserved(0x40_0000_0000L, 0x40_00ff_ffffL, OwnerKind.TEST, 0));
      assertThat(g.accessIds()).containsExactly(access);
      assertThat(g.areas())
          .singleElement()
          .satisfies(
              a -> {
                assertThat(a.pageSourceId()).as("COPY shows the same page source").isEqualTo(1);
                assertThat(a.pageOffset()).isEqualTo(0x1000);
                assertThat(a.userAddress()).isEqualTo(buffer.address() + 0x1000);
                assertThat(a.protection()).isEqualTo("r-");
                assertThat(a.pinnedPages())
                    .as("pinned by the domain of the other IOAS")
                    .isEqualTo(4);
                assertThat(a.accessPins()).isEqualTo(1);
              });

      assertThat(s.pageSources())
          .extracting(
              p ->
                  p.id()
                      + " "
                      + p.pageCount()
                      + " "
                      + p.writable()
                      + " "
                      + p.accounting()
                      + " "
                      + p.pinnedPages())
          .containsExactly("1 16 true USER 16", "2 1 false USER 1");
      assertThat(s.pageSources().getFirst().base()).isEqualTo(buffer.address());
      assertThat(s.accesses())
          .singleElement()
          .satisfies(
              a -> {
                assertThat(a.ioasId()).isEqualTo(guest.id());
                assertThat(a.pinsPages()).isTrue();
                assertThat(a.pins()).containsExactly(new AccessPin(copy.iova(), 0x2000, 1));
              });
      assertThat(s.host().pinnedFrames()).as("a frame counts once per page source").isEqualTo(17);
      assertThat(s.host().chargedPages()).isEqualTo(17);
      assertThat(s.host().accounts())
          .singleElement()
          .satisfies(a -> assertThat(a.kind()).isEqualTo(AccountKind.USER))
          .extracting(Account::pages)
          .isEqualTo(17L);
      assertThat(s.closed()).isFalse();
    }
  }

  @Test
  void reservedRegionsOfADeviceAreOwnedByTheDeviceAndOverlapTheDomainsComplement() {
    openPrivate();
    Ioas ioas = iommufd.createIoas();
    try (EmulatedDevice nic = iommufd.createDevice(DomainModel.vtd())) {
      nic.attach(ioas);
      Snapshot s = iommufd.inspect();
      HwptState h = s.hwpts().getFirst();
      assertThat(s.ioases().getFirst().reserved())
          .containsExactly(
              new Reserved(0xfee0_0000L, 0xfeef_ffffL, OwnerKind.DEVICE, nic.id()),
              new Reserved(1L << 48, -1L, OwnerKind.DOMAIN, h.id()));
      assertThat(h.automatic()).isTrue();
      assertThat(h.domainModel()).isEqualTo("radix");
      assertThat(h.aperture()).isEqualTo(new IovaRange(0, (1L << 48) - 1));
      assertThat(h.pageSizes()).isEqualTo((1L << 12) | (1L << 21) | (1L << 30));
      assertThat(h.deviceIds()).containsExactly(nic.id());
      assertThat(s.devices())
          .singleElement()
          .satisfies(
              d -> {
                assertThat(d.hwptId()).isEqualTo(h.id());
                assertThat(d.model()).isEqualTo("radix");
                assertThat(d.reservedRegions()).containsExactly(DomainModel.X86_MSI_WINDOW);
                assertThat(d.selftestId()).as("bound by the typed API").isZero();
              });
      String table = s.toTable();
      assertThat(table)
          .contains(
              "device " + nic.id(),
              "domain of hwpt " + h.id(),
              "[0xfee00000, 0xfeefffff]",
              "4K 2M 1G");
    }
  }

  @Test
  void hwptsShowNestingDirtyTrackingEntriesAndFaultQueues() {
    openPrivate();
    int ioas = ioasAlloc();
    MockDev dev = mockDomain(ioas);
    int parent = hwptAlloc(dev.idevId(), ioas, NEST_PARENT | DIRTY_TRACKING);
    ok(setDirtyTrackingRc(parent, true));
    FaultQueue fault = faultAlloc();
    faultFd = fault.fd();
    int nested = nested(dev.idevId(), parent, FAULT_ID_VALID, fault.faultId());
    assertThat(replace(dev.stdevId(), nested)).isEqualTo(nested);
    mapFixed(ioas, BASE, buffer(MIB, MIB));
    ok(triggerIopfRc(dev.idevId(), 0, 1, IommuHwptPgfault.IOMMU_PGFAULT_PERM_READ, 0x1000));

    Snapshot s = iommufd.inspect();

    assertThat(s.hwpts())
        .extracting(HwptState::id)
        .as("the automatic HWPT went with its last device")
        .containsExactly(parent, nested);
    HwptState p = s.hwpts().get(0);
    assertThat(p.type()).isEqualTo(ObjectType.HWPT_PAGING);
    assertThat(p.nestParent()).isTrue();
    assertThat(p.automatic()).isFalse();
    assertThat(p.dirtyTrackingCapable()).isTrue();
    assertThat(p.dirtyTracking()).isTrue();
    assertThat(p.ioPageTableEntries()).as("2 KiB entries of 1 MiB").isEqualTo(512);
    assertThat(p.deviceIds()).isEmpty();
    HwptState n = s.hwpts().get(1);
    assertThat(n.type()).isEqualTo(ObjectType.HWPT_NESTED);
    assertThat(n.parentId()).isEqualTo(parent);
    assertThat(n.ioasId()).isEqualTo(ioas);
    assertThat(n.aperture()).isNull();
    assertThat(n.faultId()).isEqualTo(fault.faultId());
    assertThat(n.deviceIds()).containsExactly(dev.idevId());
    assertThat(s.devices())
        .singleElement()
        .satisfies(
            d -> {
              assertThat(d.hwptId()).isEqualTo(nested);
              assertThat(d.selftestId()).isEqualTo(dev.stdevId());
              assertThat(d.model()).isEqualTo("selftest-mock");
            });
    assertThat(s.faultQueues())
        .singleElement()
        .satisfies(
            f -> {
              assertThat(f.id()).isEqualTo(fault.faultId());
              assertThat(f.fdOpen()).isTrue();
              assertThat(f.pending()).isEqualTo(1);
              assertThat(f.awaiting()).isZero();
            });
    assertThat(s.ioases().getFirst().domainHwptIds()).containsExactly(parent);
    assertThat(s.toTable()).contains("paging, nest parent", "nested", "tracking");
  }

  @Test
  void snapshotsTakenWhileOtherThreadsMapAreConsistentPerIoas() throws Exception {
    openPrivate();
    Ioas ioas = iommufd.createIoas();
    MemorySegment buffer = buffer(2 * MIB, MIB);
    int rounds = 300;
    try (EmulatedDevice dev = iommufd.createDevice(DomainModel.selftestMock());
        ExecutorService pool = Executors.newFixedThreadPool(2)) {
      dev.attach(ioas);
      List<Future<?>> workers = new ArrayList<>();
      for (int t = 0; t < 2; t++) {
        long iova = BASE + t * 0x100_0000L;
        MemorySegment mine = buffer.asSlice(t * MIB, MIB);
        workers.add(
            pool.submit(
                () -> {
                  for (int i = 0; i < rounds; i++) {
                    long length = 4096L * (1 + i % 64);
                    ioas.mapFixed(iova, mine.asSlice(0, length), Protection.READ_WRITE);
                    ioas.unmap(iova, length);
                  }
                }));
      }
      for (int i = 0; i < rounds; i++) {
        Snapshot s = iommufd.inspect();
        IoasState state = s.ioases().getFirst();
        long populated = 0;
        for (AreaState a : state.areas()) {
          if (a.populated()) {
            populated += a.length();
            assertThat(a.pinnedPages()).as("snapshot %d: %s", i, a).isEqualTo(a.length() / 4096);
          }
        }
        HwptState h = s.hwpts().getFirst();
        assertThat(h.ioPageTableEntries())
            .as("snapshot %d: entries read with the areas", i)
            .isEqualTo(populated / MOCK_PAGE);
      }
      for (Future<?> w : workers) {
        w.get(60, TimeUnit.SECONDS);
      }
    }
    assertThat(iommufd.inspect().ioases().getFirst().areas()).isEmpty();
  }

  @Test
  void describeIsTheSnapshotsTable() {
    openPrivate();
    Ioas ioas = iommufd.createIoas();
    ioas.allowIovas(List.of(new IovaRange(0x10_0000L, 0x1f_ffffL)));
    ok(addReserved(ioas.id(), 0x100_0000L, 0x1000));
    String describe = emulated().context().describe();
    assertThat(describe).isEqualTo(iommufd.inspect().toTable());
    assertThat(describe)
        .contains(
            "IOAS " + ioas.id() + ": alignment 0x1, huge pages on, domains none, accesses none",
            "0x100000",
            "0x1fffff",
            "1 MiB",
            "0x1000000",
            "0x1000fff",
            "4 KiB",
            "test");
  }

  @Test
  void mmAccountingChargesTheProcess() {
    openPrivate();
    iommufd.setRlimitMode(RlimitMode.PROCESS);
    Ioas ioas = iommufd.createIoas();
    try (EmulatedDevice dev = iommufd.createDevice(DomainModel.vtd())) {
      dev.attach(ioas);
      ioas.map(buffer(8192, 4096), Protection.READ_WRITE);
      Snapshot s = iommufd.inspect();
      assertThat(s.pageSources().getFirst().accounting()).isEqualTo(Snapshot.Accounting.MM);
      assertThat(s.host().accounts())
          .containsExactly(
              new Account(AccountKind.PROCESS, (int) ProcessHandle.current().pid(), 2));
    }
  }

  @Test
  void afterCloseTheSnapshotShowsWhatAnOpenAccessFdStillHolds() {
    openPrivate();
    Ioas ioas = iommufd.createIoas();
    accessFd = createAccess(ioas.id());
    iommufd.close();
    Snapshot held = iommufd.inspect();
    assertThat(held.closed()).isTrue();
    assertThat(held.tornDown()).isFalse();
    assertThat(held.objects())
        .extracting(ObjectEntry::type)
        .containsExactly(ObjectType.IOAS, ObjectType.ACCESS);
    assertThat(held.toTable()).contains("closed, still held");
    iommufd.closeFd(accessFd);
    accessFd = -1;
    Snapshot gone = iommufd.inspect();
    assertThat(gone.tornDown()).isTrue();
    assertThat(gone.objects()).isEmpty();
    assertThat(gone.ioases()).isEmpty();
    assertThat(gone.host().pinnedFrames()).isZero();
  }

  @Test
  void backendsThatCannotSeeTheirStateRefuse() {
    Iommufd inner = open();
    InvocationHandler forward =
        (proxy, method, args) ->
            method.isDefault()
                ? InvocationHandler.invokeDefault(proxy, method, args)
                : method.invoke(inner, args);
    Iommufd other =
        (Iommufd)
            Proxy.newProxyInstance(
                Iommufd.class.getClassLoader(), new Class<?>[] {Iommufd.class}, forward);
    assertThatThrownBy(other::inspect).isInstanceOf(UnsupportedOperationException.class);
    assertThat(inner.inspect().ioases()).isEmpty();
  }
}
