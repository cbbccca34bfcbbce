package org.iommufd4j.cli;

import java.util.Locale;
import org.iommufd4j.Configuration;
import org.iommufd4j.bridge.BridgeConfig;
import org.iommufd4j.bridge.BridgeConfig.Privilege;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

/** The emulated kernel's configuration, shared by {@code exec} and {@code serve}. */
final class EmulatorOptions {
  @Option(
      names = "--no-test-abi",
      description = "Emulate a kernel without IOMMUFD_TEST: " + "IOMMU_TEST_CMD is ENOTTY.")
  boolean noTestAbi;

  @Option(
      names = "--selftest-compat",
      description =
          "Accept what the kernel selftest sources "
              + "shipped with 6.12.117 ask of later kernels (PASID mock devices, GET_HW_INFO input type).")
  boolean selftestCompat;

  @Option(
      names = "--fault-injection",
      description =
          "Let programs arm the engine's fault "
              + "injection through an emulated /proc/self/task/<tid>/fail-nth and /sys/kernel/debug "
              + "(what the kernel's iommufd_fail_nth selftest drives).")
  boolean faultInjection;

  @Option(
      names = "--vfio-container",
      description = "Also emulate /dev/vfio/vfio " + "(iommufd's VFIO container, MM accounting).")
  boolean vfioContainer;

  @Option(
      names = "--memlock",
      paramLabel = "SIZE",
      converter = MemlockConverter.class,
      description =
          "RLIMIT_MEMLOCK charged against by pinning: bytes (K, M, G suffixes), "
              + "'unlimited', or 'process' (each program's own soft limit; the default).")
  Long memlock;

  @Option(
      names = "--cap-ipc-lock",
      paramLabel = "yes|no|process",
      converter = PrivilegeConverter.class,
      description =
          "Whether programs hold CAP_IPC_LOCK (then pins are not charged); default: process.")
  Privilege capIpcLock = Privilege.FROM_PROCESS;

  @Option(
      names = "--cap-sys-resource",
      paramLabel = "yes|no|process",
      converter = PrivilegeConverter.class,
      description =
          "Whether programs hold CAP_SYS_RESOURCE (IOMMU_OPTION RLIMIT_MODE SET); "
              + "default: process.")
  Privilege capSysResource = Privilege.FROM_PROCESS;

  @Option(
      names = "--timeout",
      paramLabel = "MILLIS",
      defaultValue = "30000",
      description =
          "How long a program may take to answer the server during a call (default ${DEFAULT-VALUE}).")
  long timeoutMillis;

  @Option(
      names = "--spin-us",
      paramLabel = "MICROS",
      description =
          "The longest the server (and, under exec, the shim) spins for the next frame "
              + "in the shared-memory mailbox before sleeping (each channel learns how long "
              + "pays, up to this); default 50 with several CPUs, else 0.")
  Long spinMicros;

  BridgeConfig config() {
    return BridgeConfig.defaults()
        .withTestAbi(!noTestAbi)
        .withVfioContainer(vfioContainer)
        .withSelftestCompat(selftestCompat)
        .withFaultInjection(faultInjection)
        .withMemlockLimit(memlock == null ? BridgeConfig.MEMLOCK_FROM_PROCESS : memlock)
        .withCapIpcLock(capIpcLock)
        .withCapSysResource(capSysResource)
        .withTimeoutMillis(timeoutMillis)
        .withSpinMicros(spinMicros == null ? BridgeConfig.defaults().spinMicros() : spinMicros);
  }

  static final class MemlockConverter implements ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
      String v = value.trim().toLowerCase(Locale.ROOT);
      if (v.equals("unlimited")) {
        return Configuration.UNLIMITED;
      }
      if (v.equals("process")) {
        return BridgeConfig.MEMLOCK_FROM_PROCESS;
      }
      long unit = 1;
      char last = v.isEmpty() ? ' ' : v.charAt(v.length() - 1);
      switch (last) {
        case 'k' -> unit = 1L << 10;
        case 'm' -> unit = 1L << 20;
        case 'g' -> unit = 1L << 30;
        default -> {}
      }
      try {
        long n = Long.parseLong(unit == 1 ? v : v.substring(0, v.length() - 1));
        if (n < 0) {
          throw new NumberFormatException();
        }
        return Math.multiplyExact(n, unit);
      } catch (NumberFormatException | ArithmeticException e) {
        throw new TypeConversionException(
            "'" + value + "' is not a size, 'unlimited' or 'process'");
      }
    }
  }

  static final class PrivilegeConverter implements ITypeConverter<Privilege> {
    @Override
    public Privilege convert(String value) {
      return switch (value.trim().toLowerCase(Locale.ROOT)) {
        case "yes", "true", "held" -> Privilege.HELD;
        case "no", "false" -> Privilege.NOT_HELD;
        case "process" -> Privilege.FROM_PROCESS;
        default -> throw new TypeConversionException("'" + value + "' is not yes, no or process");
      };
    }
  }
}
