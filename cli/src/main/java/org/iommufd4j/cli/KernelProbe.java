package org.iommufd4j.cli;

import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.iommufd4j.Errno;
import org.iommufd4j.Iommufd;
import org.iommufd4j.IommufdException;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuTestCmd;

/** What {@code exec --record --kernel} needs to know of this machine's kernel. */
final class KernelProbe {
  private KernelProbe() {}

  /**
   * Whether the kernel has {@code CONFIG_IOMMUFD_TEST} (a replay must emulate it then): an {@code
   * IOMMU_TEST_CMD} with no op is ENOTTY without it. Without a usable /dev/iommu, says so on {@code
   * err} (the program's opens will fail as they would without iommufd4j) and answers false.
   */
  static boolean hasTestAbi(PrintWriter err) {
    try (Iommufd kernel = Iommufd.kernel();
        Arena arena = Arena.ofConfined()) {
      MemorySegment cmd = arena.allocate(IommuTestCmd.SIZE, 8);
      cmd.set(ValueLayout.JAVA_INT, 0, IommuTestCmd.SIZE);
      return kernel.ioctl(Command.IOMMU_TEST_CMD.request(), cmd) != -Errno.ENOTTY.number();
    } catch (IommufdException e) {
      err.println(
          "iommufd4j exec --kernel: cannot open /dev/iommu ("
              + e.errno()
              + "): the program's calls go to the kernel all the same, and fail as they would "
              + "without iommufd4j");
      err.flush();
      return false;
    }
  }
}
