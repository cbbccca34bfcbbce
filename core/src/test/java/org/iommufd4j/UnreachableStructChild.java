package org.iommufd4j;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuFaultAlloc;
import org.iommufd4j.uapi.IommuIoasMap;
import org.iommufd4j.uapi.IommuIoasUnmap;
import org.iommufd4j.uapi.IommuTestCmd;
import org.iommufd4j.uapi.Struct;
import org.iommufd4j.uapi.Vfio;
import org.iommufd4j.uapi.VfioIommuType1DmaUnmap;
import org.iommufd4j.uapi.VfioIommuType1Info;

/**
 * Run in a JVM of its own by {@link UnreachableStructTest}: issues every command through the raw
 * entry point with its argument struct in a page that is read-only, {@code PROT_NONE} or unmapped,
 * passed as {@code MemorySegment.ofAddress(address).reinterpret(size)}, and prints one line per
 * call, {@code case page result}. A plain load or store there would end this JVM with SIGSEGV
 * before the last line, which is what the parent looks for.
 */
final class UnreachableStructChild {
  /** How the page holding the struct is made unreachable before the call. */
  enum Page {
    READ_ONLY,
    PROT_NONE,
    UNMAPPED
  }

  /**
   * One call: what it needs, its struct, whether it writes a reply, and its result when the struct
   * is readable but not writable and the command writes nothing.
   */
  record Case(
      String name,
      Command command,
      long request,
      int structSize,
      boolean writesReply,
      int readOnlyResult,
      Consumer<Iommufd> prepare,
      Consumer<MemorySegment> fill) {}

  private UnreachableStructChild() {}

  static List<Case> cases() {
    List<Case> cases = new ArrayList<>();
    for (CommandSample sample : CommandSample.values()) {
      boolean writes =
          switch (sample) {
            case DESTROY, ALLOW_IOVAS, HWPT_SET_DIRTY_TRACKING, HWPT_GET_DIRTY_BITMAP -> false;
            default -> true;
          };
      cases.add(
          new Case(
              sample.name(),
              sample.command,
              sample.command.request(),
              sample.command.ksize(),
              writes,
              sample.result,
              sample::prepare,
              s -> sample.fill(Struct.over(s, sample.command))));
    }
    Command test = Command.IOMMU_TEST_CMD;
    cases.add(
        new Case(
            "TEST_MOCK_DOMAIN",
            test,
            test.request(),
            test.ksize(),
            true,
            0,
            d -> new RawDoor(d).createIoas(),
            s ->
                Struct.over(s, test)
                    .u32(IommuTestCmd.OP, IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN)
                    .u32(IommuTestCmd.ID, 1)));
    cases.add(
        new Case(
            "TEST_CREATE_ACCESS",
            test,
            test.request(),
            test.ksize(),
            true,
            0,
            d -> new RawDoor(d).createIoas(),
            s ->
                Struct.over(s, test)
                    .u32(IommuTestCmd.OP, IommuTestCmd.IOMMU_TEST_OP_CREATE_ACCESS)
                    .u32(IommuTestCmd.ID, 1)));
    Command fault = Command.IOMMU_FAULT_QUEUE_ALLOC;
    cases.add(
        new Case(
            "FAULT_QUEUE_ALLOC",
            fault,
            fault.request(),
            fault.ksize(),
            true,
            0,
            d -> {},
            s -> Struct.over(s, fault).u32(IommuFaultAlloc.FLAGS, 0)));
    cases.add(
        new Case(
            "VFIO_IOMMU_GET_INFO",
            null,
            Vfio.VFIO_IOMMU_GET_INFO,
            VfioIommuType1Info.SIZE,
            true,
            0,
            UnreachableStructChild::vfioContainer,
            s -> s.set(VfioCalls.U32, VfioIommuType1Info.ARGSZ, VfioIommuType1Info.SIZE)));
    cases.add(
        new Case(
            "VFIO_IOMMU_UNMAP_DMA",
            null,
            Vfio.VFIO_IOMMU_UNMAP_DMA,
            VfioIommuType1DmaUnmap.SIZE,
            true,
            0,
            UnreachableStructChild::vfioContainer,
            s -> {
              s.set(VfioCalls.U32, VfioIommuType1DmaUnmap.ARGSZ, VfioIommuType1DmaUnmap.SIZE);
              s.set(VfioCalls.U32, VfioIommuType1DmaUnmap.FLAGS, VfioCalls.ALL);
            }));
    return cases;
  }

  private static void vfioContainer(Iommufd iommufd) {
    try (Arena arena = Arena.ofConfined()) {
      VfioCalls vfio = new VfioCalls(iommufd, arena);
      vfio.compatIoas();
    }
  }

  /**
   * The result of {@code c} with its struct in a page made {@code page}; never touched from Java.
   */
  static int call(Case c, Page page, boolean kernel) {
    try (Iommufd iommufd =
            kernel
                ? c.command() == null ? Iommufd.kernel("/dev/vfio/vfio") : Iommufd.kernel()
                : Iommufd.emulated(Configuration.builder().vfioContainer(true).build());
        NativePages pages = NativePages.map(2)) {
      c.prepare().accept(iommufd);
      // The struct ends where its page does, so the page after it stays readable and writable.
      long address = pages.page(1) - c.structSize();
      c.fill().accept(NativePages.segment(address, c.structSize()));
      switch (page) {
        case READ_ONLY -> pages.protect(0, NativePages.PROT_READ);
        case PROT_NONE -> pages.protect(0, NativePages.PROT_NONE);
        case UNMAPPED -> pages.unmap(0);
      }
      return iommufd.ioctl(
          c.request(), MemorySegment.ofAddress(address).reinterpret(c.structSize()));
    }
  }

  /**
   * What the page holding a MAP and an UNMAP struct is made before one MAP+UNMAP pair, in this
   * order, the same two segments used throughout: the calls before each change run often enough to
   * be compiled, so a fast path that remembered the page as reachable would be the one taking it.
   */
  enum Step {
    READ_WRITE,
    READ_ONLY,
    READ_WRITE_AGAIN,
    /** Made so by another thread, which the calling thread is never told about. */
    PROT_NONE_BY_ANOTHER_THREAD,
    RESTORED,
    /** Only for a page of its own: unmapping a page of an arena would corrupt the allocator. */
    UNMAPPED
  }

  /** Where the page of a {@link #reprotectedBetweenCalls} struct comes from. */
  enum Origin {
    /** {@code Arena.allocate}, as most Java programs make a struct. */
    ARENA,
    /** A page of its own, wrapped with {@code MemorySegment.ofAddress(a).reinterpret(n)}. */
    ADDRESS
  }

  /** Calls before each protection change: enough for the JIT to compile the raw path. */
  private static final int WARM_CALLS = 20_000;

  /**
   * One line per {@link Step}, {@code between ORIGIN STEP map-result unmap-result}: a MAP and an
   * UNMAP of 4 KiB at a fixed IOVA whose structs share one page, whose protection changes between
   * calls.
   */
  static List<String> reprotectedBetweenCalls(Origin origin, boolean kernel) {
    List<String> lines = new ArrayList<>();
    try (Iommufd iommufd = kernel ? Iommufd.kernel() : Iommufd.emulated();
        Arena arena = Arena.ofConfined();
        NativePages pages = NativePages.map(3)) {
      long page;
      long buffer;
      if (origin == Origin.ARENA) {
        page = arena.allocate(NativePages.PAGE, NativePages.PAGE).address();
        buffer = arena.allocate(NativePages.PAGE, NativePages.PAGE).address();
      } else {
        page = pages.page(0);
        buffer = pages.page(2);
      }
      int ioas = new RawDoor(iommufd).createIoas();
      Command mapCommand = Command.IOMMU_IOAS_MAP;
      Command unmapCommand = Command.IOMMU_IOAS_UNMAP;
      MemorySegment map = NativePages.segment(page, mapCommand.ksize());
      MemorySegment unmap = NativePages.segment(page + 2048, unmapCommand.ksize());
      Struct.over(map, mapCommand)
          .u32(
              IommuIoasMap.FLAGS,
              IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA | IommuIoasMap.IOMMU_IOAS_MAP_READABLE)
          .u32(IommuIoasMap.IOAS_ID, ioas)
          .u64(IommuIoasMap.USER_VA, buffer)
          .u64(IommuIoasMap.LENGTH, NativePages.PAGE)
          .u64(IommuIoasMap.IOVA, 1L << 20);
      Struct.over(unmap, unmapCommand)
          .u32(IommuIoasUnmap.IOAS_ID, ioas)
          .u64(IommuIoasUnmap.IOVA, 1L << 20)
          .u64(IommuIoasUnmap.LENGTH, NativePages.PAGE);
      for (Step step : Step.values()) {
        if (step == Step.UNMAPPED && origin == Origin.ARENA) {
          continue;
        }
        int prot =
            switch (step) {
              case READ_WRITE, READ_WRITE_AGAIN, RESTORED ->
                  NativePages.PROT_READ | NativePages.PROT_WRITE;
              case READ_ONLY -> NativePages.PROT_READ;
              case PROT_NONE_BY_ANOTHER_THREAD, UNMAPPED -> NativePages.PROT_NONE;
            };
        if (prot != NativePages.PROT_NONE || step == Step.UNMAPPED) {
          for (int i = 0; i < WARM_CALLS; i++) {
            iommufd.ioctl(mapCommand.request(), map);
            iommufd.ioctl(unmapCommand.request(), unmap);
          }
        }
        switch (step) {
          case PROT_NONE_BY_ANOTHER_THREAD -> {
            try {
              Thread.ofPlatform().start(() -> NativePages.protectAt(page, prot)).join();
            } catch (InterruptedException e) {
              throw new AssertionError(e);
            }
          }
          case UNMAPPED -> pages.unmap(0);
          default -> NativePages.protectAt(page, prot);
        }
        int mapped = iommufd.ioctl(mapCommand.request(), map);
        int unmapped = iommufd.ioctl(unmapCommand.request(), unmap);
        lines.add("between " + origin + " " + step + " " + mapped + " " + unmapped);
      }
      if (origin == Origin.ARENA) {
        NativePages.protectAt(page, NativePages.PROT_READ | NativePages.PROT_WRITE);
      }
    }
    return lines;
  }

  /** With the argument {@code kernel}, on the real /dev/iommu (and /dev/vfio/vfio): the oracle. */
  public static void main(String[] args) {
    boolean kernel = args.length > 0 && args[0].equals("kernel");
    for (Case c : cases()) {
      for (Page page : Page.values()) {
        String result;
        try {
          result = Integer.toString(call(c, page, kernel));
        } catch (RuntimeException | AssertionError e) {
          result = "unprepared (" + e + ")"; // the kernel may lack what a case needs
        }
        System.out.println(c.name() + " " + page + " " + result);
      }
    }
    for (Origin origin : Origin.values()) {
      List<String> lines;
      try {
        lines = reprotectedBetweenCalls(origin, kernel);
      } catch (RuntimeException | AssertionError e) {
        lines = List.of("between " + origin + " unprepared (" + e + ")");
      }
      lines.forEach(System.out::println);
    }
    System.out.println("done");
  }
}
