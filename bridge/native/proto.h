/*
 * The iommufd4j bridge wire protocol, version 1: what the shim and the server say on a channel.
 * org.iommufd4j.bridge.Wire mirrors every number here (WireTest reads this file and compares).
 *
 * A channel is a connected AF_UNIX stream socket from one thread of a client to the server; the
 * server learns the client's pid and uid from SO_PEERCRED, never from a message. Every frame is an
 * 8-byte header (HEADER_*: length, type, flags) then `length` payload bytes, all little-endian.
 *
 * A call is one request frame from the client, any number of callbacks (server asks, client
 * answers with T_CB_REPLY), then one T_RESULT. File descriptors travel as SCM_RIGHTS on the
 * first byte of the frame they belong to (T_OPEN's result, T_ATTACH, CB_NEW_FD, CB_GET_FD's reply).
 *
 * Files (an open /dev/iommu, an access fd, a fault fd, a VFIO group or device) are the client ends
 * of socketpairs whose server end is bound to the abstract name "\0iommufd4j:<kind>:<server>:<n>",
 * so getpeername() recognises them without a round trip; a file opened at a device node (a group,
 * a device cdev) has the node's path appended, "...:<n>@/dev/vfio/4", which fstat and
 * /proc/self/fd/N show. The server names a file on a channel by a handle that
 * T_OPEN, T_ATTACH or CB_NEW_FD returned on that channel.
 */
#ifndef IOMMUFD4J_PROTO_H
#define IOMMUFD4J_PROTO_H

#define I4J_MAGIC 0x4a346f69u /* "io4J" */
#define I4J_VERSION 4u
#define I4J_HEADER 8u
#define I4J_MAX_PAYLOAD (1u << 20)
/* Bytes at the ioctl argument the shim sends along (the server reads more itself). */
#define I4J_WINDOW 128u
/* Largest memory transfer in one callback. */
#define I4J_CHUNK 65536u
#define I4J_PROBE_MAX 64u
#define I4J_NAME_PREFIX "iommufd4j:"

/*
 * Frame types. The payload of each is laid out below: <FRAME>_<FIELD> is a field's offset (its
 * type in the comment), <FRAME>_SIZE the length of the fixed part, which variable bytes follow.
 */
/* client -> server requests */
#define T_HELLO 1  /* HELLO_*, then the probe bytes */
#define T_OPEN 2   /* OPEN_* */
#define T_ATTACH 3 /* (empty) + SCM_RIGHTS fd */
#define T_IOCTL 4  /* IOCTL_*, then the window bytes */
#define T_READ 5   /* RW_* */
#define T_WRITE 6  /* RW_* */
#define T_CLOSED 7 /* CLOSED_*: the shim closed a descriptor of that file (was it the last?) */
/* with a mailbox: the frame is on the socket (it carries a descriptor) */
#define T_VIA_SOCKET 8
/* with a mailbox, on the socket: wake up, look at the box (sent only to a sleeping peer) */
#define T_DOORBELL 9
#define T_FAIL_NTH 10 /* FAIL_NTH_*: this thread's fail-nth */
#define T_EXITING 11  /* (empty) this process is in exit(): keep the pages it has pinned */
/* exec --record --kernel: the shim makes the calls on the real /dev/iommu, the server records */
#define T_KOPEN 12 /* KOPEN_*: result handle = the file's number */
/* IOCTL_* with the file's number for handle; the server answers CB_KERNEL_CALL, then T_RESULT:
   result, handle = number of a file the call made (0: none), inode = its descriptor */
#define T_KIOCTL 13
#define T_KCLOSED 14 /* KCLOSED_*: this process closed its last descriptor of it */
/* VFIO device files */
#define T_PREAD 15  /* PRW_*: pread(2) at an offset (the MMIO trap's loads too) */
#define T_PWRITE 16 /* PRW_*: pwrite(2) at an offset (the MMIO trap's stores too) */
#define T_MMAP 17   /* MMAP_*: may the file be mapped so? 0 (+ MMAP_SHARED_*), then the shim maps it */
/* client -> server, answering a callback */
#define T_CB_REPLY 48 /* REPLY_*, then data (CB_MEM_READ, CB_KERNEL_CALL) */
/* server -> client */
#define T_RESULT 64   /* RESULT_*, then bytes the shim writes at arg + RESULT_WRITEBACK_OFFSET */
#define T_HELLO_OK 65 /* HELLO_OK_* (+ SCM_RIGHTS: the mailbox's memfd with MODE_MAILBOX) */
/* server -> client callbacks, during a call */
#define CB_MEM_READ 32    /* MEM_READ_*: reply status, then the bytes */
#define CB_MEM_WRITE 33   /* MEM_WRITE_*, then the bytes: reply status */
#define CB_PINNABLE 34    /* PINNABLE_*: reply status */
#define CB_NEW_FD 35      /* NEW_FD_* + SCM_RIGHTS: reply the new descriptor's number */
#define CB_CLOSE_FD 36    /* TARGET_*: reply status */
#define CB_GET_FD 37      /* TARGET_*: reply 0 + SCM_RIGHTS fd, -EBADFD (not an emulated file) or -EBADF */
#define CB_KERNEL_CALL 38 /* (empty): make the T_KIOCTL call now: reply KERNEL_CALL_* */
#define CB_FILE_OF 39     /* TARGET_*: reply the number of the recorded file fd is (0: none) */
#define CB_DUP_FD 40      /* TARGET_*: reply status, + SCM_RIGHTS fd when status is 0, whatever fd is */
/* SHARE_*: the engine pins these pages; make them shared memory the server can map. Reply status
   SHARE_SHARED (+ SCM_RIGHTS: the memfd) or SHARE_NOT_SHARED, then SHARED_*, or -EFAULT */
#define CB_SHARE 41

/* Every frame's header (I4J_HEADER bytes). */
#define HEADER_LENGTH 0 /* u32 payload bytes, at most I4J_MAX_PAYLOAD */
#define HEADER_TYPE 4   /* u16 T_* or CB_* */
#define HEADER_FLAGS 6  /* u16 0 */

/* T_HELLO */
#define HELLO_MAGIC 0          /* u32 I4J_MAGIC */
#define HELLO_VERSION 4        /* u32 I4J_VERSION */
#define HELLO_FLAGS 8          /* u32 HELLO_FLAG_* */
#define HELLO_PROBE_LENGTH 12  /* u32 probe bytes that follow, at most I4J_PROBE_MAX */
#define HELLO_PROBE_ADDRESS 16 /* u64 where they lie in the client: can the server read it? */
#define HELLO_TID 24           /* u32 the connecting thread (the server checks it is the peer's) */
#define HELLO_RESERVED 28      /* u32 0 */
#define HELLO_SIZE 32
#define HELLO_FLAG_FORCE_SHIM_MEMORY 1u /* serve caller memory through callbacks */
#define HELLO_FLAG_MAILBOX 2u           /* the client can use a mailbox */
#define HELLO_FLAG_SHARE 4u             /* the client answers CB_SHARE (IOMMUFD4J_SHARE is not 0) */

/* T_HELLO_OK */
#define HELLO_OK_VERSION 0 /* u32 I4J_VERSION */
#define HELLO_OK_MODE 4    /* u32 MODE_* */
#define HELLO_OK_SERVER 8  /* u64 server id */
#define HELLO_OK_SIZE 16
#define MODE_DIRECT 0u  /* the server reads caller memory itself (process_vm_readv) */
#define MODE_SHIM 1u    /* the server asks the shim (CB_MEM_*) */
#define MODE_MAILBOX 2u /* flag: frames go through the mailbox attached to HELLO_OK */

/* T_OPEN */
#define OPEN_FLAGS 0     /* u32 open(2) flags */
#define OPEN_NODE 4      /* u32 NODE_* */
#define OPEN_INDEX 8     /* u32 NODE_VFIO_GROUP: the group's number; NODE_VFIO_DEVICE: N of vfioN */
#define OPEN_RESERVED 12 /* u32 0 */
#define OPEN_SIZE 16

/* T_KOPEN */
#define KOPEN_FLAGS 0     /* u32 open(2) flags */
#define KOPEN_NODE 4      /* u32 NODE_* */
#define KOPEN_ADOPTED 8   /* u32 1: a descriptor the process met (inherited, received), not opened */
#define KOPEN_RESERVED 12 /* u32 0 */
#define KOPEN_SIZE 16

/* T_IOCTL and T_KIOCTL */
#define IOCTL_HANDLE 0         /* u64 the file's handle (T_KIOCTL: its number) */
#define IOCTL_REQUEST 8        /* u64 */
#define IOCTL_ARG 16           /* u64 */
#define IOCTL_WINDOW_LENGTH 24 /* u32 bytes at arg that follow, at most I4J_WINDOW */
#define IOCTL_FLAGS 28         /* u32 IOCTL_FLAG_* */
#define IOCTL_SIZE 32
/* The window lies in the calling thread's own stack, so writing it cannot fail: the server may
   return what the call writes there in the result instead of writing it itself. */
#define IOCTL_FLAG_WINDOW_WRITABLE 1u

/* T_READ and T_WRITE */
#define RW_HANDLE 0 /* u64 */
#define RW_BUFFER 8 /* u64 */
#define RW_COUNT 16 /* u64 */
#define RW_SIZE 24

/* T_PREAD and T_PWRITE, then the COUNT bytes at BUFFER when they lie on the calling thread's stack
   (at most I4J_WINDOW): a writable window as IOCTL's, what the call writes there returned with the result */
#define PRW_HANDLE 0    /* u64 */
#define PRW_BUFFER 8    /* u64 */
#define PRW_COUNT 16    /* u64 */
#define PRW_OFFSET 24   /* u64 the file offset (off_t, never negative) */
#define PRW_FLAGS 32    /* u32 PRW_FLAG_* */
#define PRW_RESERVED 36 /* u32 0 */
#define PRW_SIZE 40
/* A load or store through a device mapping that the MMIO trap performs (recorded as such) */
#define PRW_FLAG_TRAPPED 1u

/* T_MMAP: the result is 0 or -errno; the shim makes the mapping */
#define MMAP_HANDLE 0  /* u64 */
#define MMAP_OFFSET 8  /* u64 the file offset, page aligned */
#define MMAP_LENGTH 16 /* u64 in whole pages */
#define MMAP_PROT 24   /* u32 PROT_* */
#define MMAP_FLAGS 28  /* u32 MAP_* */
#define MMAP_SIZE 32

/* T_RESULT of T_MMAP, after RESULT_SIZE: one entry per run of the mapping's pages that are shared
   memory (a device's plain memory: doorbells), at most MMAP_SHARED_MAX, their descriptor attached
   (SCM_RIGHTS). The shim maps those runs MAP_SHARED from it and traps the other pages. */
#define MMAP_SHARED_AT 0         /* u64 offset of the run in the mapping, page aligned */
#define MMAP_SHARED_LENGTH 8     /* u64 whole pages */
#define MMAP_SHARED_FD_OFFSET 16 /* u64 where the run starts in the descriptor */
#define MMAP_SHARED_SIZE 24
#define MMAP_SHARED_MAX 16

/* T_CLOSED */
#define CLOSED_INODE 0 /* u64 the file's inode */
#define CLOSED_SIZE 8

/* T_KCLOSED */
#define KCLOSED_FILE 0 /* u64 the recorded file's number */
#define KCLOSED_SIZE 8

/* T_FAIL_NTH */
#define FAIL_NTH_OP 0    /* u32 FAIL_NTH_OP_* */
#define FAIL_NTH_VALUE 4 /* u32 the value to set */
#define FAIL_NTH_SIZE 8
#define FAIL_NTH_OP_SET 0u
#define FAIL_NTH_OP_GET 1u

/* T_RESULT */
#define RESULT_VALUE 0             /* i64 the result, >= 0 or -errno */
#define RESULT_HANDLE 8            /* u64 a file's handle (T_OPEN, T_ATTACH) or number (T_KOPEN, T_KIOCTL) */
#define RESULT_INODE 16            /* u64 its inode (T_KIOCTL: its descriptor) */
#define RESULT_KIND 24             /* u32 its KIND_* */
#define RESULT_WRITEBACK_OFFSET 28 /* u32 where the bytes after RESULT_SIZE go: arg + this */
#define RESULT_SIZE 32

/* T_CB_REPLY */
#define REPLY_STATUS 0 /* i64 0 or -errno (CB_NEW_FD: the descriptor; CB_KERNEL_CALL: the result) */
#define REPLY_SIZE 8

/* T_CB_REPLY to CB_KERNEL_CALL */
#define KERNEL_CALL_NANOS 8 /* u64 how long the call took */
#define KERNEL_CALL_REPLY_SIZE 16

/* CB_MEM_READ */
#define MEM_READ_ADDRESS 0 /* u64 */
#define MEM_READ_LENGTH 8  /* u64 at most I4J_CHUNK */
#define MEM_READ_SIZE 16

/* CB_MEM_WRITE */
#define MEM_WRITE_ADDRESS 0 /* u64 */
#define MEM_WRITE_SIZE 8

/* CB_PINNABLE: can the pages of [address, address + length) be faulted in (for writing)? */
#define PINNABLE_ADDRESS 0   /* u64 */
#define PINNABLE_LENGTH 8    /* u64 */
#define PINNABLE_WRITE 16    /* u32 1: for writing */
#define PINNABLE_RESERVED 20 /* u32 0 */
#define PINNABLE_SIZE 24

/* CB_SHARE: the page-aligned range [address, address + length) about to be pinned */
#define SHARE_ADDRESS 0 /* u64 */
#define SHARE_LENGTH 8  /* u64 */
#define SHARE_SIZE 16

/* T_CB_REPLY to CB_SHARE: its status says what the first SHARED_LENGTH bytes at the address are */
#define SHARE_SHARED 0     /* the pages of the memfd that came along, from SHARED_OFFSET */
#define SHARE_NOT_SHARED 1 /* memory the shim cannot share (stack, file-private, ...): as before */
#define SHARED_LENGTH 8    /* u64 bytes from the address this reply is about, whole pages */
#define SHARED_OFFSET 16   /* u64 the memfd's offset of the address */
#define SHARE_REPLY_SIZE 24

/* CB_NEW_FD */
#define NEW_FD_FLAGS 0  /* u32 FD_CLOEXEC or 0 */
#define NEW_FD_KIND 4   /* u32 KIND_* */
#define NEW_FD_HANDLE 8 /* u64 */
#define NEW_FD_INODE 16 /* u64 */
#define NEW_FD_SIZE 24

/* CB_CLOSE_FD, CB_GET_FD, CB_FILE_OF: about one descriptor of the client */
#define TARGET_FD 0       /* u32 */
#define TARGET_RESERVED 4 /* u32 0 */
#define TARGET_SIZE 8

/*
 * The mailbox: a sealed memfd the server makes, mapped by both. One frame at a time is in it;
 * `turn` says whose it is. A writer fills the frame, stores turn with release order, then, if
 * the reader's `waiting` word is set, rings it: a T_DOORBELL frame on the socket, whose sync
 * wake-up the scheduler handles as well as a socket ping-pong. A reader spins a while on turn,
 * then sets `waiting` and sleeps in recv on the socket. It takes the frame out of the box and
 * sets turn back to 0. A frame with a descriptor goes on the socket, then T_VIA_SOCKET into the
 * box. The server copies a frame out before looking at it; the client may scribble on it any time.
 */
#define MBOX_TURN 0             /* u32 TURN_* */
#define MBOX_SERVER_WAITING 64  /* u32 1: the server sleeps (each word on a cache line of its own) */
#define MBOX_CLIENT_WAITING 128 /* u32 1: the client sleeps */
#define MBOX_LENGTH 192         /* u32 payload length */
#define MBOX_TYPE 196           /* u16 frame type */
#define MBOX_DATA 4096          /* the payload */
#define MBOX_SIZE (MBOX_DATA + I4J_CHUNK + 4096)
#define TURN_NONE 0u
#define TURN_SERVER 1u /* a frame for the server is in the box */
#define TURN_CLIENT 2u /* a frame for the client is in the box */

#define NODE_IOMMU 0u       /* /dev/iommu */
#define NODE_VFIO 1u        /* /dev/vfio/vfio */
#define NODE_VFIO_GROUP 2u  /* /dev/vfio/<OPEN_INDEX> */
#define NODE_VFIO_DEVICE 3u /* /dev/vfio/devices/vfio<OPEN_INDEX> */

#define KIND_IOMMUFD 'i'
#define KIND_ACCESS 'a'
#define KIND_FAULT 'f'
#define KIND_KERNEL 'k'      /* a real /dev/iommu (or a file it made) being recorded */
#define KIND_FAIL_NTH 'n'    /* the shim's own: /proc/self/task/<tid>/fail-nth */
#define KIND_VFIO_GROUP 'g'  /* an open /dev/vfio/N */
#define KIND_VFIO_DEVICE 'd' /* a VFIO device: an open cdev, or a group's VFIO_GROUP_GET_DEVICE_FD */

#endif
