package org.iommufd4j;

import java.util.Objects;
import org.iommufd4j.memory.ProcessMemory;
import org.iommufd4j.memory.UserMemory;

/**
 * How an emulated context behaves: who the caller is (capabilities, memory-lock limit), which
 * memory its pointers refer to, and which optional kernel features are on. Immutable; start from
 * {@link #defaults()} and change it with {@link #toBuilder()}.
 */
public final class Configuration {
  /** {@code RLIMIT_MEMLOCK} of an unprivileged process on current distributions: 8 MiB. */
  public static final long DEFAULT_MEMLOCK_LIMIT = 8L << 20;

  /** A memory-lock limit that never fails ({@code RLIM_INFINITY}). */
  public static final long UNLIMITED = -1L;

  private static final Configuration DEFAULTS = new Builder().build();

  private final UserMemory userMemory;
  private final boolean testAbi;
  private final boolean vfioContainer;
  private final boolean capSysResource;
  private final boolean capIpcLock;
  private final long memlockLimit;
  private final boolean privilegesOfCallingThread;
  private final boolean privateHost;
  private final boolean selftestCompat;

  private Configuration(Builder b) {
    this.userMemory = b.userMemory;
    this.testAbi = b.testAbi;
    this.vfioContainer = b.vfioContainer;
    this.capSysResource = b.capSysResource;
    this.capIpcLock = b.capIpcLock;
    this.memlockLimit = b.memlockLimit;
    this.privilegesOfCallingThread = b.privilegesOfCallingThread;
    this.privateHost = b.privateHost;
    this.selftestCompat = b.selftestCompat;
  }

  /**
   * A context as {@code open("/dev/iommu")} by a root-like process on a kernel built with {@code
   * IOMMUFD_TEST}: pointers refer to this process, CAP_SYS_RESOURCE held, CAP_IPC_LOCK not held (so
   * pins are charged), an 8 MiB memory-lock limit.
   */
  public static Configuration defaults() {
    return DEFAULTS;
  }

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    return new Builder(this);
  }

  /**
   * The address space that user pointers (struct arguments, {@code user_va}) refer to. {@code
   * UserMemory} is not exported: only the project's own tools (replay, fuzzing) choose another.
   */
  @SuppressWarnings("exports")
  public UserMemory userMemory() {
    return userMemory == null ? ProcessMemory.self() : userMemory;
  }

  /**
   * Whether {@code IOMMU_TEST_CMD} exists (the kernel's {@code CONFIG_IOMMUFD_TEST}); it also makes
   * the command table 33 slots long instead of 15 (main.c: iommufd_fops_ioctl()).
   */
  public boolean testAbi() {
    return testAbi;
  }

  /**
   * Whether the context was opened as {@code /dev/vfio/vfio}: it starts in {@link
   * RlimitMode#PROCESS}.
   */
  public boolean vfioContainer() {
    return vfioContainer;
  }

  /** Whether the caller holds CAP_SYS_RESOURCE (needed for {@link Iommufd#setRlimitMode}). */
  public boolean capSysResource() {
    return capSysResource;
  }

  /** Whether the caller holds CAP_IPC_LOCK (its mappings are then not charged at all). */
  public boolean capIpcLock() {
    return capIpcLock;
  }

  /** The caller's {@code RLIMIT_MEMLOCK} in bytes, or {@link #UNLIMITED}. */
  public long memlockLimit() {
    return memlockLimit;
  }

  /**
   * Whether CAP_SYS_RESOURCE, CAP_IPC_LOCK and RLIMIT_MEMLOCK are those of the Java thread making
   * each call, read when the kernel reads them (capabilities when a MAP creates its page source or
   * RLIMIT_MODE is set, the limit at each charge), instead of the values pinned by {@link
   * #capSysResource()}, {@link #capIpcLock()} and {@link #memlockLimit()}. Off by default, so a
   * test gets the same results as root and as a user.
   */
  public boolean privilegesOfCallingThread() {
    return privilegesOfCallingThread;
  }

  /**
   * Whether the context runs on an emulated machine of its own. By default every emulated context
   * of this JVM shares one, as every open of {@code /dev/iommu} shares one kernel: page pin counts
   * (what the selftests' MD_CHECK_REFS reads) and memory-lock accounts are machine-wide.
   */
  public boolean privateHost() {
    return privateHost;
  }

  /**
   * Whether the opt-in selftest-compatibility extension is on (default off: strict Linux 6.12). The
   * kernel selftest sources shipped with 6.12.117 use two features of later kernels, which this
   * switches on:
   *
   * <ul>
   *   <li>test op MOCK_DOMAIN_FLAGS accepts {@code MOCK_FLAGS_DEVICE_PASID} (bit 2, otherwise
   *       EINVAL), and {@code IOMMU_GET_HW_INFO} reports {@code out_max_pasid_log2} = 20 for such a
   *       device;
   *   <li>{@code IOMMU_GET_HW_INFO} accepts {@code flags} = {@code IOMMU_HW_INFO_FLAG_INPUT_TYPE}
   *       (otherwise EOPNOTSUPP); the requested type at offset 24 must then be 0 or the selftest
   *       type 0xFEEDBEEF (else EOPNOTSUPP).
   * </ul>
   */
  public boolean selftestCompat() {
    return selftestCompat;
  }

  @Override
  public String toString() {
    return "Configuration[testAbi="
        + testAbi
        + ", vfioContainer="
        + vfioContainer
        + ", capSysResource="
        + capSysResource
        + ", capIpcLock="
        + capIpcLock
        + ", memlockLimit="
        + (memlockLimit == UNLIMITED ? "unlimited" : memlockLimit)
        + ", privilegesOfCallingThread="
        + privilegesOfCallingThread
        + ", privateHost="
        + privateHost
        + ", selftestCompat="
        + selftestCompat
        + "]";
  }

  /** Builds a {@link Configuration}. */
  public static final class Builder {
    private UserMemory userMemory;
    private boolean testAbi = true;
    private boolean vfioContainer;
    private boolean capSysResource = true;
    private boolean capIpcLock;
    private long memlockLimit = DEFAULT_MEMLOCK_LIMIT;
    private boolean privilegesOfCallingThread;
    private boolean privateHost;
    private boolean selftestCompat;

    private Builder() {}

    private Builder(Configuration c) {
      this.userMemory = c.userMemory;
      this.testAbi = c.testAbi;
      this.vfioContainer = c.vfioContainer;
      this.capSysResource = c.capSysResource;
      this.capIpcLock = c.capIpcLock;
      this.memlockLimit = c.memlockLimit;
      this.privilegesOfCallingThread = c.privilegesOfCallingThread;
      this.privateHost = c.privateHost;
      this.selftestCompat = c.selftestCompat;
    }

    /** For the project's own tools (replay, fuzzing): {@code UserMemory} is not exported. */
    @SuppressWarnings("exports")
    public Builder userMemory(UserMemory userMemory) {
      this.userMemory = Objects.requireNonNull(userMemory);
      return this;
    }

    public Builder testAbi(boolean testAbi) {
      this.testAbi = testAbi;
      return this;
    }

    public Builder vfioContainer(boolean vfioContainer) {
      this.vfioContainer = vfioContainer;
      return this;
    }

    public Builder capSysResource(boolean capSysResource) {
      this.capSysResource = capSysResource;
      return this;
    }

    public Builder capIpcLock(boolean capIpcLock) {
      this.capIpcLock = capIpcLock;
      return this;
    }

    /**
     * @param bytes the limit in bytes (rounded down to pages when charging), or {@link #UNLIMITED}
     */
    public Builder memlockLimit(long bytes) {
      if (bytes < 0 && bytes != UNLIMITED) {
        throw new IllegalArgumentException("memlockLimit=" + bytes);
      }
      this.memlockLimit = bytes;
      return this;
    }

    /** See {@link Configuration#privilegesOfCallingThread()}. */
    public Builder privilegesOfCallingThread(boolean on) {
      this.privilegesOfCallingThread = on;
      return this;
    }

    public Builder privateHost(boolean privateHost) {
      this.privateHost = privateHost;
      return this;
    }

    /** See {@link Configuration#selftestCompat()}. */
    public Builder selftestCompat(boolean selftestCompat) {
      this.selftestCompat = selftestCompat;
      return this;
    }

    public Configuration build() {
      return new Configuration(this);
    }
  }
}
