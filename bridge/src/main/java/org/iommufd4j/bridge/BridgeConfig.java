package org.iommufd4j.bridge;

import java.util.Objects;
import org.iommufd4j.Configuration;
import org.iommufd4j.vfio.VfioNodes;

/**
 * What the emulated kernel behind a bridge server looks like to its clients.
 *
 * @param testAbi whether {@code IOMMU_TEST_CMD} exists (a kernel built with IOMMUFD_TEST)
 * @param vfioContainer whether {@code /dev/vfio/vfio} may be opened too (a context in MM accounting
 *     mode, main.c: iommufd_fops_open()); the shim intercepts that path only when told to
 * @param capSysResource whether callers hold CAP_SYS_RESOURCE (RLIMIT_MODE SET, ioas.c:
 *     iommufd_option_rlimit_mode())
 * @param capIpcLock whether callers hold CAP_IPC_LOCK (their pins are then not charged, pages.c:
 *     do_update_pinned())
 * @param memlockLimit callers' RLIMIT_MEMLOCK in bytes, {@link Configuration#UNLIMITED}, or {@link
 *     #MEMLOCK_FROM_PROCESS}
 * @param maxChannels connections served at once; more are refused
 * @param timeoutMillis how long a client may take to answer a callback or finish a frame
 * @param selftestCompat accept what the selftest sources shipped with 6.12.117 need from later
 *     kernels (the PASID mock device flag, GET_HW_INFO's INPUT_TYPE)
 * @param faultInjection whether clients may arm the engine's fault injection through their emulated
 *     {@code /proc/self/task/<tid>/fail-nth} (selftest.c: iommufd_should_fail())
 * @param spinMicros the longest a server thread spins for a client's next frame before sleeping
 *     (each channel learns how long pays, up to this; 0 on one CPU, where spinning only delays the
 *     client)
 * @param vfioNodes the emulated host's VFIO groups and device cdevs that {@code /dev/vfio/N} and
 *     {@code /dev/vfio/devices/vfioN} open (the shim sends those opens only under a testbed that
 *     lists the nodes), or null: no VFIO devices, those opens fail with ENOENT
 */
public record BridgeConfig(
    boolean testAbi,
    boolean vfioContainer,
    Privilege capSysResource,
    Privilege capIpcLock,
    long memlockLimit,
    int maxChannels,
    long timeoutMillis,
    boolean selftestCompat,
    boolean faultInjection,
    long spinMicros,
    VfioNodes vfioNodes) {

  /** {@link #memlockLimit}: each client's own soft RLIMIT_MEMLOCK ({@code /proc/<pid>/limits}). */
  public static final long MEMLOCK_FROM_PROCESS = -2;

  /** Whether callers hold a capability. */
  public enum Privilege {
    /**
     * As the client process has it ({@code CapEff} in {@code /proc/<pid>/status}), as the kernel
     * would check.
     */
    FROM_PROCESS,
    HELD,
    NOT_HELD
  }

  public BridgeConfig {
    Objects.requireNonNull(capSysResource, "capSysResource");
    Objects.requireNonNull(capIpcLock, "capIpcLock");
    if (memlockLimit < 0
        && memlockLimit != Configuration.UNLIMITED
        && memlockLimit != MEMLOCK_FROM_PROCESS) {
      throw new IllegalArgumentException("memlockLimit=" + memlockLimit);
    }
    if (maxChannels < 1 || timeoutMillis < 1 || spinMicros < 0) {
      throw new IllegalArgumentException(
          "maxChannels=" + maxChannels + " timeoutMillis=" + timeoutMillis);
    }
  }

  /**
   * The test ABI on, no {@code /dev/vfio/vfio}, privileges and memory-lock limit of each client
   * process (what the kernel would use), 4096 channels, 30 s timeout, spinning for up to 50 µs when
   * there is more than one CPU, no VFIO devices.
   */
  public static BridgeConfig defaults() {
    return new BridgeConfig(
        true,
        false,
        Privilege.FROM_PROCESS,
        Privilege.FROM_PROCESS,
        MEMLOCK_FROM_PROCESS,
        4096,
        30_000,
        false,
        false,
        Runtime.getRuntime().availableProcessors() > 1 ? 50 : 0,
        null);
  }

  public BridgeConfig withTestAbi(boolean on) {
    return new BridgeConfig(
        on,
        vfioContainer,
        capSysResource,
        capIpcLock,
        memlockLimit,
        maxChannels,
        timeoutMillis,
        selftestCompat,
        faultInjection,
        spinMicros,
        vfioNodes);
  }

  public BridgeConfig withVfioContainer(boolean on) {
    return new BridgeConfig(
        testAbi,
        on,
        capSysResource,
        capIpcLock,
        memlockLimit,
        maxChannels,
        timeoutMillis,
        selftestCompat,
        faultInjection,
        spinMicros,
        vfioNodes);
  }

  public BridgeConfig withCapSysResource(Privilege p) {
    return new BridgeConfig(
        testAbi,
        vfioContainer,
        p,
        capIpcLock,
        memlockLimit,
        maxChannels,
        timeoutMillis,
        selftestCompat,
        faultInjection,
        spinMicros,
        vfioNodes);
  }

  public BridgeConfig withCapIpcLock(Privilege p) {
    return new BridgeConfig(
        testAbi,
        vfioContainer,
        capSysResource,
        p,
        memlockLimit,
        maxChannels,
        timeoutMillis,
        selftestCompat,
        faultInjection,
        spinMicros,
        vfioNodes);
  }

  public BridgeConfig withMemlockLimit(long bytes) {
    return new BridgeConfig(
        testAbi,
        vfioContainer,
        capSysResource,
        capIpcLock,
        bytes,
        maxChannels,
        timeoutMillis,
        selftestCompat,
        faultInjection,
        spinMicros,
        vfioNodes);
  }

  public BridgeConfig withSelftestCompat(boolean on) {
    return new BridgeConfig(
        testAbi,
        vfioContainer,
        capSysResource,
        capIpcLock,
        memlockLimit,
        maxChannels,
        timeoutMillis,
        on,
        faultInjection,
        spinMicros,
        vfioNodes);
  }

  public BridgeConfig withFaultInjection(boolean on) {
    return new BridgeConfig(
        testAbi,
        vfioContainer,
        capSysResource,
        capIpcLock,
        memlockLimit,
        maxChannels,
        timeoutMillis,
        selftestCompat,
        on,
        spinMicros,
        vfioNodes);
  }

  public BridgeConfig withSpinMicros(long micros) {
    return new BridgeConfig(
        testAbi,
        vfioContainer,
        capSysResource,
        capIpcLock,
        memlockLimit,
        maxChannels,
        timeoutMillis,
        selftestCompat,
        faultInjection,
        micros,
        vfioNodes);
  }

  public BridgeConfig withMaxChannels(int max) {
    return new BridgeConfig(
        testAbi,
        vfioContainer,
        capSysResource,
        capIpcLock,
        memlockLimit,
        max,
        timeoutMillis,
        selftestCompat,
        faultInjection,
        spinMicros,
        vfioNodes);
  }

  public BridgeConfig withTimeoutMillis(long millis) {
    return new BridgeConfig(
        testAbi,
        vfioContainer,
        capSysResource,
        capIpcLock,
        memlockLimit,
        maxChannels,
        millis,
        selftestCompat,
        faultInjection,
        spinMicros,
        vfioNodes);
  }

  public BridgeConfig withVfioNodes(VfioNodes nodes) {
    return new BridgeConfig(
        testAbi,
        vfioContainer,
        capSysResource,
        capIpcLock,
        memlockLimit,
        maxChannels,
        timeoutMillis,
        selftestCompat,
        faultInjection,
        spinMicros,
        nodes);
  }
}
