package org.iommufd4j.junit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;
import static org.junit.platform.testkit.engine.EventConditions.event;
import static org.junit.platform.testkit.engine.EventConditions.finishedWithFailure;
import static org.junit.platform.testkit.engine.EventConditions.test;
import static org.junit.platform.testkit.engine.TestExecutionResultConditions.instanceOf;
import static org.junit.platform.testkit.engine.TestExecutionResultConditions.message;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.iommufd4j.DomainModel;
import org.iommufd4j.EmulatedDevice;
import org.iommufd4j.Errno;
import org.iommufd4j.Ioas;
import org.iommufd4j.Iommufd;
import org.iommufd4j.IommufdException;
import org.iommufd4j.Mapping;
import org.iommufd4j.Protection;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuTestCmd;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.platform.engine.reporting.ReportEntry;
import org.junit.platform.testkit.engine.EngineExecutionResults;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Event;

/**
 * The extension seen from a user's test classes, run through JUnit's {@link EngineTestKit}. The
 * example classes are static nested classes, which neither surefire (it skips {@code $} classes)
 * nor the Jupiter engine (they are not {@code @Nested}) run on their own.
 */
class IommufdExtensionTest {
  private static final ValueLayout.OfInt U32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfLong U64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  /** What the example tests saw, for the assertions below. */
  static final List<Object> SEEN = new ArrayList<>();

  private static EngineExecutionResults execute(Class<?> testClass) {
    SEEN.clear();
    return EngineTestKit.engine("junit-jupiter").selectors(selectClass(testClass)).execute();
  }

  // ---- examples ----------------------------------------------------------------------------

  @ExtendWith(IommufdExtension.class)
  static class CleanUse {
    Iommufd field;

    Iommufd fromBeforeEach;

    @BeforeEach
    void setUp(Iommufd iommufd) {
      fromBeforeEach = iommufd;
    }

    @Test
    void mapUnmapAndTakeDown(Iommufd iommufd, EmulatedDevice nic) {
      SEEN.add(fromBeforeEach);
      SEEN.add(iommufd);
      SEEN.add(field);
      Ioas ioas = iommufd.createIoas();
      nic.attach(ioas);
      try (Arena arena = Arena.ofConfined()) {
        Mapping m = ioas.map(arena.allocate(1 << 16, 4096), Protection.READ_WRITE); // pins
        ioas.unmap(m);
      }
      nic.detach();
      ioas.close();
    }

    @Test
    @IommufdConfig(domainModel = IommufdConfig.Model.SELFTEST_MOCK)
    void configuredModel(DomainModel model) {
      SEEN.add(model);
    }
  }

  @ExtendWith(IommufdExtension.class)
  @IommufdConfig(memlockLimit = 64 << 10)
  static class SmallBudget {
    @Test
    void pinningMoreThanTheBudgetFails(Iommufd iommufd, EmulatedDevice nic) {
      Ioas ioas = iommufd.createIoas();
      nic.attach(ioas);
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment big = arena.allocate(1 << 20, 4096);
        try {
          ioas.map(big, Protection.READ_WRITE);
        } catch (IommufdException e) {
          SEEN.add(e.errno());
        }
      }
      nic.detach();
      ioas.close();
    }
  }

  /** Leaves an IOAS with a pinned mapping and a device attached to it. */
  @ExtendWith(IommufdExtension.class)
  static class LeavesState {
    static final MemorySegment BUFFER = Arena.global().allocate(1 << 16, 4096);

    @Test
    void leavesAMappedIoasAndAnAttachedDevice(Iommufd iommufd, EmulatedDevice nic) {
      Ioas ioas = iommufd.createIoas();
      nic.attach(ioas);
      ioas.map(BUFFER, Protection.READ_WRITE);
    }

    @Test
    @IommufdConfig(allowLeftovers = true)
    void leavesTheSameOnPurpose(Iommufd iommufd, EmulatedDevice nic) {
      leavesAMappedIoasAndAnAttachedDevice(iommufd, nic);
    }
  }

  /** Leaves a selftest access fd open with pages pinned through it: the context outlives close. */
  @ExtendWith(IommufdExtension.class)
  static class LeakingAccess {
    @Test
    void leavesAnAccessFdOpen(Iommufd iommufd) {
      Ioas ioas = iommufd.createIoas();
      MemorySegment buffer = Arena.ofAuto().allocate(0x4000, 4096);
      Mapping m = ioas.mapFixed(0x10_0000L, buffer, Protection.READ_WRITE);
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment s = testCmd(arena, IommuTestCmd.IOMMU_TEST_OP_CREATE_ACCESS, ioas.id());
        s.set(
            U32,
            IommuTestCmd.CREATE_ACCESS_FLAGS,
            IommuTestCmd.MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
        assertThat(iommufd.ioctl(Command.IOMMU_TEST_CMD.request(), s)).isZero();
        int fd = s.get(U32, IommuTestCmd.CREATE_ACCESS_OUT_ACCESS_FD);
        MemorySegment pin = testCmd(arena, IommuTestCmd.IOMMU_TEST_OP_ACCESS_PAGES, fd);
        pin.set(U64, IommuTestCmd.ACCESS_PAGES_IOVA, m.iova());
        pin.set(U64, IommuTestCmd.ACCESS_PAGES_LENGTH, m.length());
        pin.set(U64, IommuTestCmd.ACCESS_PAGES_UPTR, buffer.address());
        assertThat(iommufd.ioctl(Command.IOMMU_TEST_CMD.request(), pin)).isZero();
      }
      // The test "forgets" iommufd.closeFd(fd).
    }
  }

  @ExtendWith(IommufdExtension.class)
  static class FailingTest {
    @Test
    void failsWithAnIoasMapped(Iommufd iommufd) {
      Ioas ioas = iommufd.createIoas();
      ioas.mapFixed(0x4000_0000L, 0x7f00_0020_0000L, 0x20_0000L, Protection.READ);
      throw new AssertionError("the user's own assertion failed");
    }
  }

  @ExtendWith(IommufdExtension.class)
  static class ConstructorInjection {
    ConstructorInjection(Iommufd iommufd) {}

    @Test
    void never() {}
  }

  static MemorySegment testCmd(Arena arena, int op, int id) {
    MemorySegment s = arena.allocate(IommuTestCmd.SIZE, 8);
    s.set(U32, 0, IommuTestCmd.SIZE);
    s.set(U32, IommuTestCmd.OP, op);
    s.set(U32, IommuTestCmd.ID, id);
    return s;
  }

  // ---- the extension's behaviour -----------------------------------------------------------

  @Test
  void cleanTestsPassAndShareOneContextPerTestThatIsClosedAfterwards() {
    execute(CleanUse.class).testEvents().assertStatistics(s -> s.started(2).succeeded(2));
    Iommufd first =
        (Iommufd) SEEN.stream().filter(o -> o instanceof Iommufd).findFirst().orElseThrow();
    assertThat(SEEN.stream().filter(o -> o instanceof Iommufd))
        .as("@BeforeEach parameter, test parameter, field")
        .hasSize(3)
        .containsOnly(first);
    assertThat(SEEN).contains(DomainModel.selftestMock());
    IommufdException closed =
        org.assertj.core.api.Assertions.catchThrowableOfType(
            IommufdException.class, first::createIoas);
    assertThat(closed.errno()).isEqualTo(Errno.EBADF);
  }

  @Test
  void theConfiguredBudgetApplies() {
    execute(SmallBudget.class).testEvents().assertStatistics(s -> s.succeeded(1));
    assertThat(SEEN).containsExactly(Errno.ENOMEM);
  }

  @Test
  void aTestThatLeavesObjectsAttachedDevicesOrPinsFailsUnlessItAllowsLeftovers() {
    EngineExecutionResults results = execute(LeavesState.class);
    results.testEvents().assertStatistics(s -> s.started(2).succeeded(1).failed(1));
    results
        .testEvents()
        .assertThatEvents()
        .haveExactly(
            1,
            event(
                test("leavesAMappedIoasAndAnAttachedDevice"),
                finishedWithFailure(
                    instanceOf(AssertionError.class),
                    message(
                        m ->
                            m.contains(
                                    "the test left objects it did not destroy or close: ioas 2, hwpt_paging 3")
                                && m.contains("devices still attached: device 1 (hwpt 3)")
                                && m.contains("16 pages still pinned")
                                && m.contains("allowLeftovers = true")
                                && m.contains("IOAS 2:")))));
  }

  @Test
  void aLeakingTestIsReportedWithObjectsPinsAndCharges() {
    execute(LeakingAccess.class)
        .testEvents()
        .assertThatEvents()
        .haveExactly(
            1,
            event(
                test("leavesAnAccessFdOpen"),
                finishedWithFailure(
                    instanceOf(AssertionError.class),
                    message(
                        m ->
                            m.contains("the context is still alive after close()")
                                && m.contains("access or fault fd still open")
                                && m.contains("4 pages still pinned")
                                && m.contains("memory-lock charges left: 4 pages")
                                && m.contains("ACCESS")))));
  }

  @Test
  void aFailingTestGetsTheStateTable() {
    EngineExecutionResults results = execute(FailingTest.class);
    results
        .testEvents()
        .assertThatEvents()
        .haveExactly(
            1,
            event(
                test("failsWithAnIoasMapped"),
                finishedWithFailure(message("the user's own assertion failed"))));
    List<String> entries =
        results
            .testEvents()
            .reportingEntryPublished()
            .map(e -> e.getRequiredPayload(ReportEntry.class))
            .map(r -> r.getKeyValuePairs().get(IommufdExtension.STATE_ENTRY))
            .toList();
    assertThat(entries)
        .singleElement()
        .asString()
        .contains("IOAS 1:", "0x40000000  0x401fffff  2 MiB  0x7f0000200000");
  }

  @Test
  void constructorInjectionIsRefusedWithAnExplanation() {
    List<Event> failures = execute(ConstructorInjection.class).testEvents().failed().list();
    assertThat(failures)
        .singleElement()
        .satisfies(
            e ->
                assertThat(
                        e.getRequiredPayload(org.junit.platform.engine.TestExecutionResult.class)
                            .getThrowable()
                            .orElseThrow())
                    .hasMessageContaining("not into"));
  }
}
