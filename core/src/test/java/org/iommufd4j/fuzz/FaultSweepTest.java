package org.iommufd4j.fuzz;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iommufd4j.fuzz.Calls.FIXED;
import static org.iommufd4j.fuzz.Calls.RW;

import java.util.List;
import java.util.stream.Stream;
import org.iommufd4j.engine.FaultInjection;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The fault sweep (issue 7, selftest.c: iommufd_should_fail()): for every call of every scenario
 * and n = 1, 2, ..., the n-th fault point that call evaluates fails. The call must then answer an
 * errno and leave the state exactly as before it (objects, areas, reserved and allowed ranges,
 * domains, pins, charges), and closing must leave nothing behind. The sweep of a call ends at the
 * first n its call completes without reaching.
 */
class FaultSweepTest {
  private static final long BUF = FuzzWorld.BUFFER;
  private static final long MOCK = 0x100_0000L;
  private static final int ACCESS_FD = 1_000_000;
  private static long pointsSwept;
  private static long callsSwept;

  static Stream<Arguments> scenarios() {
    return Stream.of(
        Arguments.of(
            "basic",
            List.of(
                Calls.ioasAlloc(),
                Calls.map(1, RW | FIXED, BUF, 0x10000, MOCK),
                Calls.map(1, RW, BUF, 0x4000, 0),
                Calls.ioasAlloc(),
                Calls.copy(2, 1, RW, 0x8000, 0, MOCK),
                Calls.unmap(1, 0, -1),
                Calls.destroy(2))),
        Arguments.of(
            "map_domain",
            List.of(
                Calls.ioasAlloc(),
                Calls.mockDomain(1),
                Calls.map(1, RW | FIXED, BUF, 0x10000, MOCK),
                Calls.map(1, RW, BUF + 0x10000, 0x8000, 0),
                Calls.unmap(1, MOCK, 0x10000),
                Calls.destroy(2))),
        Arguments.of(
            "map_two_domains",
            List.of(
                Calls.ioasAlloc(),
                Calls.map(1, RW | FIXED, BUF, 0x10000, MOCK),
                Calls.mockDomain(1),
                Calls.hwptAlloc(0, 3, 1),
                Calls.map(1, RW | FIXED, BUF + 0x20000, 0x4000, MOCK + 0x100000),
                Calls.ioasAlloc(),
                Calls.mockDomain(6),
                Calls.copy(6, 1, RW, 0x4000, 0, MOCK),
                Calls.destroy(5),
                Calls.unmap(1, 0, -1))),
        Arguments.of(
            "access",
            List.of(
                Calls.ioasAlloc(),
                Calls.map(1, RW | FIXED, BUF, 0x10000, MOCK),
                Calls.createAccess(1, 1),
                Calls.accessPages(ACCESS_FD, 1, MOCK, 0x4000, 0),
                Calls.accessRw(ACCESS_FD, MOCK + 0x100, 0x2000, FuzzWorld.ARRAYS, 0),
                Calls.accessRw(ACCESS_FD, MOCK + 0x100, 0x2000, FuzzWorld.ARRAYS, 1 | 4),
                Calls.mockDomain(1),
                Calls.unmap(1, MOCK, 0x10000))),
        Arguments.of(
            "device_replace",
            List.of(
                Calls.ioasAlloc(),
                Calls.ioasAlloc(),
                Calls.map(1, RW | FIXED, BUF, 0x8000, MOCK),
                Calls.map(2, RW | FIXED, BUF, 0x8000, MOCK),
                Calls.mockDomain(1),
                Calls.test(10, 3, 2),
                Calls.hwptAlloc(0, 4, 1),
                Calls.test(10, 3, 5),
                Calls.destroy(3))));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("scenarios")
  void everyInjectedFailureAnswersAnErrnoAndChangesNothing(String name, List<FuzzCall> calls) {
    long[] baseline = new long[calls.size()];
    try (FuzzWorld world = new FuzzWorld(true)) {
      for (int i = 0; i < calls.size(); i++) {
        baseline[i] = world.execute(calls.get(i));
      }
    }
    assertThat(baseline).as("%s runs cleanly without injection", name).containsOnly(0L);
    for (int i = 0; i < calls.size(); i++) {
      for (int n = 1; ; n++) {
        assertThat(n).as("%s call %d needs fewer than 400 fault points", name, i).isLessThan(400);
        FuzzWorld world = new FuzzWorld(true);
        for (int j = 0; j < i; j++) {
          world.execute(calls.get(j));
        }
        String before = world.context.describe();
        FaultInjection.arm(n);
        long result;
        try {
          result = world.execute(calls.get(i));
        } finally {
          FaultInjection.arm(0);
        }
        String where = name + " call " + i + " point " + n;
        if (!FaultInjection.fired() && result == baseline[i]) {
          world.close();
          break;
        }
        pointsSwept++;
        assertThat(result).as("%s answers an errno", where).isNegative();
        assertThat(world.context.describe())
            .as("%s leaves the state as before", where)
            .isEqualTo(before);
        assertThat(world.invariantViolations()).as(where).isEmpty();
        assertThat(world.closeAndCheckLeaks()).as("%s leaks nothing", where).isNull();
      }
      callsSwept++;
    }
  }

  @AfterAll
  static void report() {
    System.out.printf(
        "fault sweep: %d fault points failed over %d calls, 0 state differences%n",
        pointsSwept, callsSwept);
  }
}
