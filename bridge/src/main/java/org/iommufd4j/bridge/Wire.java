package org.iommufd4j.bridge;

/**
 * The bridge wire protocol, version 1: every number of {@code native/proto.h}, whose comment is the
 * protocol's description, under the same names (WireTest checks that every name of each is in the
 * other, with the same value).
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
 * <p>A call is one request, any number of callbacks each answered by a {@link #T_CB_REPLY}, and one
 * {@link #T_RESULT}. The server never trusts a length, an address or a handle it receives: frames
 * are bounded, addresses only ever reach {@code process_vm_readv} or the shim's own fault-safe
 * copies, and handles are looked up in the channel's own table.
 */
final class Wire {
  static final int MAGIC = 0x4a346f69;
  static final int VERSION = 4;
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
  static final int T_PREAD = 15;
  static final int T_PWRITE = 16;
  static final int T_MMAP = 17;
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
  static final int CB_DUP_FD = 40;
  static final int CB_SHARE = 41;

  // Payload layouts: <FRAME>_<FIELD> is a field's offset, <FRAME>_SIZE the fixed part's length.

  /** The frame header: u32 length, u16 type, u16 flags. */
  static final int HEADER_LENGTH = 0;

  static final int HEADER_TYPE = 4;
  static final int HEADER_FLAGS = 6;

  /**
   * T_HELLO: u32 magic, version, flags, probe length; u64 probe address; u32 tid, u32 zero; the
   * probe bytes.
   */
  static final int HELLO_MAGIC = 0;

  static final int HELLO_VERSION = 4;
  static final int HELLO_FLAGS = 8;
  static final int HELLO_PROBE_LENGTH = 12;
  static final int HELLO_PROBE_ADDRESS = 16;

  /** The connecting thread's id: whose capabilities each call is checked against. */
  static final int HELLO_TID = 24;

  static final int HELLO_RESERVED = 28;
  static final int HELLO_SIZE = 32;
  static final int HELLO_FLAG_FORCE_SHIM_MEMORY = 1;
  static final int HELLO_FLAG_MAILBOX = 2;
  static final int HELLO_FLAG_SHARE = 4;

  /** T_HELLO_OK: u32 version, u32 mode, u64 server id. */
  static final int HELLO_OK_VERSION = 0;

  static final int HELLO_OK_MODE = 4;
  static final int HELLO_OK_SERVER = 8;
  static final int HELLO_OK_SIZE = 16;
  static final int MODE_DIRECT = 0;
  static final int MODE_SHIM = 1;
  static final int MODE_MAILBOX = 2;

  /** T_OPEN: u32 open(2) flags, node, index (a group's number, a cdev's N), reserved. */
  static final int OPEN_FLAGS = 0;

  static final int OPEN_NODE = 4;
  static final int OPEN_INDEX = 8;
  static final int OPEN_RESERVED = 12;
  static final int OPEN_SIZE = 16;

  /** T_KOPEN: u32 open(2) flags, node, adopted, reserved. */
  static final int KOPEN_FLAGS = 0;

  static final int KOPEN_NODE = 4;
  static final int KOPEN_ADOPTED = 8;
  static final int KOPEN_RESERVED = 12;
  static final int KOPEN_SIZE = 16;

  /** T_IOCTL and T_KIOCTL: u64 handle, request, arg; u32 window length, flags; the window. */
  static final int IOCTL_HANDLE = 0;

  static final int IOCTL_REQUEST = 8;
  static final int IOCTL_ARG = 16;
  static final int IOCTL_WINDOW_LENGTH = 24;
  static final int IOCTL_FLAGS = 28;
  static final int IOCTL_SIZE = 32;
  static final int IOCTL_FLAG_WINDOW_WRITABLE = 1;

  /** T_READ and T_WRITE: u64 handle, buffer, count. */
  static final int RW_HANDLE = 0;

  static final int RW_BUFFER = 8;
  static final int RW_COUNT = 16;
  static final int RW_SIZE = 24;

  /** T_PREAD and T_PWRITE: u64 handle, buffer, count, file offset; u32 flags, reserved. */
  static final int PRW_HANDLE = 0;

  static final int PRW_BUFFER = 8;
  static final int PRW_COUNT = 16;
  static final int PRW_OFFSET = 24;
  static final int PRW_FLAGS = 32;
  static final int PRW_RESERVED = 36;
  static final int PRW_SIZE = 40;
  static final int PRW_FLAG_TRAPPED = 1;

  /** T_MMAP: u64 handle, file offset, length; u32 prot, flags. */
  static final int MMAP_HANDLE = 0;

  static final int MMAP_OFFSET = 8;
  static final int MMAP_LENGTH = 16;
  static final int MMAP_PROT = 24;
  static final int MMAP_FLAGS = 28;
  static final int MMAP_SIZE = 32;

  /**
   * T_RESULT of T_MMAP, after RESULT_SIZE: u64 offset in the mapping, length, descriptor offset of
   * each run of shared pages (at most MMAP_SHARED_MAX); their descriptor rides along.
   */
  static final int MMAP_SHARED_AT = 0;

  static final int MMAP_SHARED_LENGTH = 8;
  static final int MMAP_SHARED_FD_OFFSET = 16;
  static final int MMAP_SHARED_SIZE = 24;
  static final int MMAP_SHARED_MAX = 16;

  /** T_CLOSED: u64 inode. */
  static final int CLOSED_INODE = 0;

  static final int CLOSED_SIZE = 8;

  /** T_KCLOSED: u64 the recorded file's number. */
  static final int KCLOSED_FILE = 0;

  static final int KCLOSED_SIZE = 8;

  /** T_FAIL_NTH: u32 op, u32 value. */
  static final int FAIL_NTH_OP = 0;

  static final int FAIL_NTH_VALUE = 4;
  static final int FAIL_NTH_SIZE = 8;
  static final int FAIL_NTH_OP_SET = 0;
  static final int FAIL_NTH_OP_GET = 1;

  /** T_RESULT: i64 result, u64 handle, u64 inode, u32 kind, u32 write-back offset; bytes. */
  static final int RESULT_VALUE = 0;

  static final int RESULT_HANDLE = 8;
  static final int RESULT_INODE = 16;
  static final int RESULT_KIND = 24;
  static final int RESULT_WRITEBACK_OFFSET = 28;
  static final int RESULT_SIZE = 32;

  /** T_CB_REPLY: i64 status, then data. */
  static final int REPLY_STATUS = 0;

  static final int REPLY_SIZE = 8;

  /** T_CB_REPLY to CB_KERNEL_CALL: i64 result, u64 nanoseconds. */
  static final int KERNEL_CALL_NANOS = 8;

  static final int KERNEL_CALL_REPLY_SIZE = 16;

  /** CB_MEM_READ: u64 address, u64 length. */
  static final int MEM_READ_ADDRESS = 0;

  static final int MEM_READ_LENGTH = 8;
  static final int MEM_READ_SIZE = 16;

  /** CB_MEM_WRITE: u64 address, then the bytes. */
  static final int MEM_WRITE_ADDRESS = 0;

  static final int MEM_WRITE_SIZE = 8;

  /** CB_PINNABLE: u64 address, u64 length, u32 write, u32 reserved. */
  static final int PINNABLE_ADDRESS = 0;

  static final int PINNABLE_LENGTH = 8;
  static final int PINNABLE_WRITE = 16;
  static final int PINNABLE_RESERVED = 20;
  static final int PINNABLE_SIZE = 24;

  /** CB_SHARE: u64 address, u64 length (page aligned). */
  static final int SHARE_ADDRESS = 0;

  static final int SHARE_LENGTH = 8;
  static final int SHARE_SIZE = 16;

  /** The reply to CB_SHARE: status SHARE_SHARED (with the memfd) or SHARE_NOT_SHARED. */
  static final int SHARE_SHARED = 0;

  static final int SHARE_NOT_SHARED = 1;
  static final int SHARED_LENGTH = 8;
  static final int SHARED_OFFSET = 16;
  static final int SHARE_REPLY_SIZE = 24;

  /** CB_NEW_FD: u32 fd flags, u32 kind, u64 handle, u64 inode. */
  static final int NEW_FD_FLAGS = 0;

  static final int NEW_FD_KIND = 4;
  static final int NEW_FD_HANDLE = 8;
  static final int NEW_FD_INODE = 16;
  static final int NEW_FD_SIZE = 24;

  /** CB_CLOSE_FD, CB_GET_FD, CB_FILE_OF: u32 fd, u32 reserved. */
  static final int TARGET_FD = 0;

  static final int TARGET_RESERVED = 4;
  static final int TARGET_SIZE = 8;

  /** The mailbox. */
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
  static final int NODE_VFIO_GROUP = 2;
  static final int NODE_VFIO_DEVICE = 3;
  static final int KIND_IOMMUFD = 'i';
  static final int KIND_ACCESS = 'a';
  static final int KIND_FAULT = 'f';
  static final int KIND_KERNEL = 'k';
  static final int KIND_FAIL_NTH = 'n';
  static final int KIND_VFIO_GROUP = 'g';
  static final int KIND_VFIO_DEVICE = 'd';

  /** errno numbers the bridge uses that {@link org.iommufd4j.Errno} does not list. */
  static final int EMFILE = 24;

  static final int EPROTO = 71;
  static final int ECONNABORTED = 103;

  /** FD_CLOEXEC, as CB_NEW_FD's fd flags. */
  static final int FD_CLOEXEC = 1;

  private Wire() {}
}
