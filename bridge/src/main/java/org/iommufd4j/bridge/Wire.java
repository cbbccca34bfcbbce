package org.iommufd4j.bridge;

/**
 * The bridge wire protocol, version 1: every number of {@code native/proto.h}, whose comment is
 * the protocol's description (WireTest checks the two agree).
 *
 * {@snippet lang=c :
 * // every frame: an 8-byte little-endian header, then `length` payload bytes
 * struct frame_header {
 *   uint32_t length;   // at most MAX_PAYLOAD
 *   uint16_t type;     // T_* (client requests, server result) or CB_* (server callbacks)
 *   uint16_t flags;    // 0
 * };
 * }
 *
 * <p>A call is one request, any number of callbacks each answered by a {@link #T_CB_REPLY}, and
 * one {@link #T_RESULT}. The server never trusts a length, an address or a handle it receives:
 * frames are bounded, addresses only ever reach {@code process_vm_readv} or the shim's own
 * fault-safe copies, and handles are looked up in the channel's own table.
 */
final class Wire {
  static final int MAGIC = 0x4a346f69;
  static final int VERSION = 1;
  static final int HEADER = 8;
  static final int MAX_PAYLOAD = 1 << 20;
  static final int WINDOW = 128;
  static final int CHUNK = 65536;
  static final int PROBE_MAX = 64;
  static final String NAME_PREFIX = "iommufd4j:";

  static final int T_HELLO = 1;
  static final int T_OPEN = 2;
  static final int T_ATTACH = 3;
  static final int T_IOCTL = 4;
  static final int T_READ = 5;
  static final int T_WRITE = 6;
  static final int T_CLOSED = 7;
  static final int T_VIA_SOCKET = 8;
  static final int T_DOORBELL = 9;
  static final int T_FAIL_NTH = 10;
  static final int T_EXITING = 11;
  static final int T_KOPEN = 12;
  static final int T_KIOCTL = 13;
  static final int T_KCLOSED = 14;
  static final int T_CB_REPLY = 48;
  static final int T_RESULT = 64;
  static final int T_HELLO_OK = 65;
  static final int CB_MEM_READ = 32;
  static final int CB_MEM_WRITE = 33;
  static final int CB_PINNABLE = 34;
  static final int CB_NEW_FD = 35;
  static final int CB_CLOSE_FD = 36;
  static final int CB_GET_FD = 37;
  static final int CB_KERNEL_CALL = 38;
  static final int CB_FILE_OF = 39;

  static final int IOCTL_WINDOW_WRITABLE = 1;
  static final int HELLO_FORCE_SHIM_MEMORY = 1;
  static final int HELLO_MAILBOX = 2;
  static final int MODE_DIRECT = 0;
  static final int MODE_SHIM = 1;
  static final int MODE_MAILBOX = 2;

  static final int MBOX_TURN = 0;
  static final int MBOX_SERVER_WAITING = 64;
  static final int MBOX_CLIENT_WAITING = 128;
  static final int MBOX_LENGTH = 192;
  static final int MBOX_TYPE = 196;
  static final int MBOX_DATA = 4096;
  static final int MBOX_SIZE = MBOX_DATA + CHUNK + 4096;
  static final int TURN_NONE = 0;
  static final int TURN_SERVER = 1;
  static final int TURN_CLIENT = 2;
  static final int NODE_IOMMU = 0;
  static final int NODE_VFIO = 1;
  static final int KIND_IOMMUFD = 'i';
  static final int KIND_ACCESS = 'a';
  static final int KIND_FAULT = 'f';
  static final int KIND_KERNEL = 'k';
  static final int FAIL_NTH_SET = 0;
  static final int FAIL_NTH_GET = 1;

  /** Sizes of the fixed parts. */
  static final int HELLO_SIZE = 24;
  static final int OPEN_SIZE = 8;
  static final int KOPEN_SIZE = 16;
  static final int IOCTL_SIZE = 32;
  static final int RW_SIZE = 24;
  static final int RESULT_SIZE = 32;
  static final int HELLO_OK_SIZE = 16;

  /** errno numbers the bridge uses that {@link org.iommufd4j.Errno} does not list. */
  static final int EMFILE = 24;
  static final int EPROTO = 71;
  static final int ECONNABORTED = 103;

  /** FD_CLOEXEC, as CB_NEW_FD's fd flags. */
  static final int FD_CLOEXEC = 1;

  private Wire() {}
}
