package org.iommufd4j.model;

import static org.junit.jupiter.api.Assertions.fail;

import java.lang.foreign.Arena;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.stream.LongStream;
import org.iommufd4j.Configuration;
import org.iommufd4j.EngineAccess;
import org.iommufd4j.Iommufd;
import org.iommufd4j.engine.EngineInspector;
import org.iommufd4j.engine.EngineInspector.AreaView;
import org.iommufd4j.engine.EngineInspector.IoasView;
import org.iommufd4j.engine.EngineInspector.RangeView;
import org.iommufd4j.model.OpGenerator.Step;
import org.iommufd4j.model.ReferenceModel.Area;
import org.iommufd4j.model.ReferenceModel.Outcome;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Seeded random operation sequences run against the engine and the {@link ReferenceModel}; after
 * every step the result (errno, IOVA, bytes unmapped, ranges, alignment), the complete state of
 * every IOAS and the engine's invariants must agree. Operations go through the typed API and the
 * raw byte ABI at random.
 *
 * <p>{@code -Dseed=} sets the base seed (default 1234), {@code -Dmodel.seeds=} the number of
 * sequences (40), {@code -Dmodel.ops=} the operations per sequence (300). A failure names the
 * sequence seed; {@code -Dmodel.replay=<sequence seed>} runs just that one, and {@code
 * -Dmodel.stats=true} prints how often each operation gave each result.
 */
class RandomizedIoasTest {
  private static final long BASE_SEED = Long.getLong("seed", 1234L);
  private static final int SEEDS = Integer.getInteger("model.seeds", 40);
  private static final int OPS = Integer.getInteger("model.ops", 300);
  private static final boolean STATS = Boolean.getBoolean("model.stats");
  private static final int TRACE = 40;

  /** Outcome counts per operation kind, printed with {@code -Dmodel.stats=true}. */
  private static final Map<String, Long> OUTCOMES = new ConcurrentSkipListMap<>();

  @AfterAll
  static void printStatistics() {
    if (STATS) {
      OUTCOMES.forEach((k, v) -> System.out.printf("%-40s %8d%n", k, v));
    }
  }

  static LongStream sequenceSeeds() {
    String replay = System.getProperty("model.replay");
    if (replay != null && !replay.isBlank()) {
      return LongStream.of(Long.parseLong(replay.trim()));
    }
    SplittableRandom seeds = new SplittableRandom(BASE_SEED);
    long[] out = new long[SEEDS];
    for (int i = 0; i < SEEDS; i++) {
      out[i] = seeds.nextLong();
    }
    return LongStream.of(out);
  }

  @ParameterizedTest(name = "sequence seed {0}")
  @MethodSource("sequenceSeeds")
  void randomOperationSequencesMatchTheReferenceModel(long sequenceSeed) {
    new Sequence(sequenceSeed).run();
  }

  /** One sequence: a fresh context and model, {@link #OPS} operations. */
  private static final class Sequence {
    private final long seed;
    private final SplittableRandom rnd;
    private final Deque<String> trace = new ArrayDeque<>();
    private final Map<Object, Object> engineToModelSource = new IdentityHashMap<>();
    private final Map<Object, Object> modelToEngineSource = new IdentityHashMap<>();
    private ReferenceModel model;
    private EngineDriver driver;
    private Iommufd fd;
    private int step;
    private Step current;

    Sequence(long seed) {
      this.seed = seed;
      this.rnd = new SplittableRandom(seed);
    }

    void run() {
      boolean testAbi = rnd.nextInt(4) != 0;
      boolean capSysResource = rnd.nextInt(4) != 0;
      int typedPercent = List.of(0, 50, 50, 100).get(rnd.nextInt(4));
      model = new ReferenceModel(testAbi, capSysResource);
      WindowMemory memory = new WindowMemory();
      Configuration config =
          Configuration.builder()
              .userMemory(memory)
              .testAbi(testAbi)
              .capSysResource(capSysResource)
              .build();
      try (Arena arena = Arena.ofConfined();
          Iommufd iommufd = Iommufd.emulated(config)) {
        fd = iommufd;
        driver = new EngineDriver(fd, memory, arena, model::ioas);
        OpGenerator generator = new OpGenerator(rnd, model, driver, typedPercent);
        for (step = 0; step < OPS; step++) {
          current = generator.next();
          driver.zeroTail(rnd.nextInt(20) == 0 ? 8 * (1 + rnd.nextInt(2)) : 0);
          Outcome expected = applyToModel(modelView(current));
          Outcome actual =
              driver.run(current.op(), current.door(), current.handle(), current.srcHandle());
          record(expected, actual);
          if (STATS) {
            String kind = current.op().getClass().getSimpleName() + " " + current.door();
            String result = expected.isOk() ? "ok" : expected.errno().name();
            OUTCOMES.merge(kind + " " + result, 1L, Long::sum);
          }
          check(expected, actual);
          compareState();
        }
        fd.close();
        if (EngineAccess.context(fd).objectCount() != 0) {
          fail(where() + ": objects left after close");
        }
      }
    }

    /**
     * The operation as the model sees it. A typed handle of a destroyed IOAS names id 0 (never
     * valid), so it fails with ENOENT where the IOAS is looked up and never reaches an IOAS that
     * reused its id.
     */
    private IoasOp modelView(Step step) {
      if (step.door() != EngineDriver.Door.TYPED || step.handle() < 0) {
        return step.op();
      }
      int id = liveId(step.handle());
      return switch (step.op()) {
        case IoasOp.Map m ->
            new IoasOp.Map(m.flags(), id, m.reserved(), m.userVa(), m.length(), m.iova());
        case IoasOp.Copy c ->
            new IoasOp.Copy(
                c.flags(), id, liveId(step.srcHandle()), c.length(), c.dstIova(), c.srcIova());
        case IoasOp.Unmap u -> new IoasOp.Unmap(id, u.iova(), u.length());
        case IoasOp.IovaRanges r ->
            new IoasOp.IovaRanges(id, r.reserved(), r.capacity(), r.writableSlots());
        case IoasOp.AllowIovas a ->
            new IoasOp.AllowIovas(id, a.reserved(), a.ranges(), a.numIovas());
        case IoasOp.Option o ->
            new IoasOp.Option(o.optionId(), o.op(), o.reserved(), id, o.val64());
        default -> step.op();
      };
    }

    private int liveId(int handle) {
      EngineDriver.Handle h = driver.handles().get(handle);
      return model.ioas(h.id()) == h.modelTarget() ? h.id() : 0;
    }

    private Outcome applyToModel(IoasOp op) {
      return switch (op) {
        case IoasOp.Alloc a -> model.ioasAlloc(a.flags());
        case IoasOp.Destroy d -> model.destroy(d.id());
        case IoasOp.CloseHandle c ->
            model.closeHandle((ReferenceModel.Ioas) driver.handles().get(c.handle()).modelTarget());
        case IoasOp.Lookup l -> model.lookup(l.id());
        case IoasOp.Map m ->
            model.map(m.flags(), m.ioasId(), m.reserved(), m.userVa(), m.length(), m.iova());
        case IoasOp.Copy c ->
            model.copy(
                c.flags(), c.dstIoasId(), c.srcIoasId(), c.length(), c.dstIova(), c.srcIova());
        case IoasOp.Unmap u -> model.unmap(u.ioasId(), u.iova(), u.length());
        case IoasOp.IovaRanges r ->
            model.iovaRanges(
                r.ioasId(), r.reserved(), Integer.toUnsignedLong(r.capacity()), r.writableSlots());
        case IoasOp.AllowIovas a ->
            model.allowIovas(
                a.ioasId(), a.reserved(), a.ranges(), Integer.toUnsignedLong(a.numIovas()));
        case IoasOp.Option o ->
            model.option(o.optionId(), o.op(), o.reserved(), o.objectId(), o.val64());
        case IoasOp.AddReserved r -> model.addReserved(r.ioasId(), r.start(), r.length());
      };
    }

    private void record(Outcome expected, Outcome actual) {
      trace.addLast(
          "  #"
              + step
              + " "
              + door()
              + " "
              + current.op()
              + " -> model "
              + expected
              + ", engine "
              + actual);
      if (trace.size() > TRACE) {
        trace.removeFirst();
      }
    }

    private String where() {
      return "seed="
          + seed
          + " (base -Dseed="
          + BASE_SEED
          + "; replay with -Dmodel.replay="
          + seed
          + ") step="
          + step
          + " door="
          + door()
          + " op="
          + current.op();
    }

    private String door() {
      if (current.handle() < 0) {
        return current.door().toString();
      }
      return current.door()
          + "(handle#"
          + current.handle()
          + (current.srcHandle() < 0 ? "" : ", source handle#" + current.srcHandle())
          + ")";
    }

    private void failHere(String what) {
      fail(where() + ": " + what + "\nlast steps:\n" + String.join("\n", trace));
    }

    private void check(Outcome expected, Outcome actual) {
      if (!driver.writeBackProblems().isEmpty()) {
        failHere("write-back: " + driver.writeBackProblems());
      }
      if (expected.errno() != actual.errno()) {
        failHere("errno: model " + expected + ", engine " + actual);
      }
      boolean hasValue = expected.isOk() || expected.errno() == org.iommufd4j.Errno.EMSGSIZE;
      if (hasValue
          && (expected.value() != actual.value()
              || !expected.ranges().equals(actual.ranges())
              || expected.alignment() != actual.alignment())) {
        failHere("result: model " + expected + ", engine " + actual);
      }
    }

    private void compareState() {
      List<String> problems = EngineAccess.checkInvariants(fd);
      if (!problems.isEmpty()) {
        failHere("engine invariants: " + problems);
      }
      List<IoasView> engine = EngineInspector.ioases(EngineAccess.context(fd));
      List<ReferenceModel.Ioas> expected = model.ioases();
      List<Integer> engineIds = EngineInspector.objectIds(EngineAccess.context(fd));
      List<Integer> modelIds = expected.stream().map(i -> i.id).toList();
      if (!engineIds.equals(modelIds)) {
        failHere("object ids: model " + modelIds + ", engine " + engineIds);
      }
      for (int i = 0; i < expected.size(); i++) {
        compareIoas(expected.get(i), engine.get(i));
      }
    }

    private void compareIoas(ReferenceModel.Ioas m, IoasView e) {
      String ioas = "ioas " + m.id + ": ";
      if (m.hugePages != e.hugePages() || m.align() != e.align()) {
        failHere(
            ioas
                + "huge pages/align: model "
                + m.hugePages
                + "/"
                + m.align()
                + ", engine "
                + e.hugePages()
                + "/"
                + e.align());
      }
      assertRanges(ioas + "allowed", Intervals.sorted(m.allowed), e.allowed());
      assertRanges(
          ioas + "reserved",
          Intervals.sorted(m.reserved),
          e.reserved().stream()
              .sorted(
                  (x, y) -> {
                    int c = Long.compareUnsigned(x.start(), y.start());
                    return c != 0 ? c : Long.compareUnsigned(x.last(), y.last());
                  })
              .toList());
      if (m.areas.size() != e.areas().size()) {
        failHere(
            ioas
                + "area count: model "
                + m.areas.size()
                + " "
                + m.areas
                + ", engine "
                + e.areas().size()
                + " "
                + e.areas());
      }
      for (int i = 0; i < m.areas.size(); i++) {
        Area a = m.areas.get(i);
        AreaView v = e.areas().get(i);
        if (a.iova() != v.iova()
            || a.last() != v.last()
            || a.prot() != v.prot()
            || a.source().base != v.sourceBase()
            || a.source().writable != v.sourceWritable()
            || a.offset() != v.sourceOffset()) {
          failHere(ioas + "area " + i + ": model " + a + ", engine " + v);
        }
        Object mapped = engineToModelSource.putIfAbsent(v.source(), a.source());
        Object back = modelToEngineSource.putIfAbsent(a.source(), v.source());
        if ((mapped != null && mapped != a.source()) || (back != null && back != v.source())) {
          failHere(ioas + "area " + i + ": page source sharing differs from the model");
        }
      }
    }

    private void assertRanges(String what, List<long[]> model, List<RangeView> engine) {
      boolean same = model.size() == engine.size();
      for (int i = 0; same && i < model.size(); i++) {
        same = model.get(i)[0] == engine.get(i).start() && model.get(i)[1] == engine.get(i).last();
      }
      if (!same) {
        failHere(
            what
                + ": model "
                + model.stream()
                    .map(
                        r -> "[0x" + Long.toHexString(r[0]) + ", 0x" + Long.toHexString(r[1]) + "]")
                    .toList()
                + ", engine "
                + engine);
      }
    }
  }
}
