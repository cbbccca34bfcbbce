/*
 * The iommufd4j bridge wire protocol, version 1: what the shim and the server say on a channel.
 * org.iommufd4j.bridge.Wire mirrors every number here (WireTest reads this file and compares).
 *
 * A channel is a connected AF_UNIX stream socket from one thread of a client to the server; the
 * server learns the client's pid and uid from SO_PEERCRED, never from a message. Every frame is an
 * 8-byte header then `length` payload bytes, all little-endian:
 *
 *   +0 u32 length   payload bytes, at most I4J_MAX_PAYLOAD
 *   +4 u16 type     one of the T_ / CB_ numbers below
 *   +6 u16 flags    0
 *
 * A call is one request frame from the client, any number of callbacks (server asks, client
 * answers with T_CB_REPLY), then one T_RESULT. File descriptors travel as SCM_RIGHTS on the
 * first byte of the frame they belong to (T_OPEN's result, T_ATTACH, CB_NEW_FD, CB_GET_FD's reply).
 *
 * Files (an open /dev/iommu, an access fd, a fault fd) are the client ends of socketpairs whose
 * server end is bound to the abstract name "\0iommufd4j:<kind>:<server>:<n>", so getpeername()
 * recognises them without a round trip. The server names a file on a channel by a handle that
 * T_OPEN, T_ATTACH or CB_NEW_FD returned on that channel.
 */
#ifndef IOMMUFD4J_PROTO_H
#define IOMMUFD4J_PROTO_H

#define I4J_MAGIC 0x4a346f69u /* "io4J" */
#define I4J_VERSION 1u
#define I4J_HEADER 8u
#define I4J_MAX_PAYLOAD (1u << 20)
/* Bytes at the ioctl argument the shim sends along (the server reads more itself). */
#define I4J_WINDOW 128u
/* Largest memory transfer in one callback. */
#define I4J_CHUNK 65536u
#define I4J_PROBE_MAX 64u
#define I4J_NAME_PREFIX "iommufd4j:"

/* client -> server requests */
#define T_HELLO 1   /* u32 magic, u32 version, u32 flags, u32 probe_len, u64 probe_addr, probe bytes */
#define T_OPEN 2    /* u32 open flags, u32 node (NODE_*) */
#define T_ATTACH 3  /* (empty) + SCM_RIGHTS fd */
#define T_IOCTL 4   /* u64 handle, u64 request, u64 arg, u32 window_len, u32 flags, window bytes */
#define T_READ 5    /* u64 handle, u64 buffer, u64 count */
#define T_WRITE 6   /* u64 handle, u64 buffer, u64 count */
#define T_CLOSED 7  /* u64 inode: the shim closed a descriptor of that file (was it the last?) */
/* with a mailbox: the frame is on the socket (it carries a descriptor) */
#define T_VIA_SOCKET 8
/* with a mailbox, on the socket: wake up, look at the box (sent only to a sleeping peer) */
#define T_DOORBELL 9
#define T_FAIL_NTH 10 /* u32 op (FAIL_NTH_SET, FAIL_NTH_GET), u32 value: this thread's fail-nth */
#define T_EXITING 11  /* (empty) this process is in exit(): keep the pages it has pinned */
/* exec --record --kernel: the shim makes the calls on the real /dev/iommu, the server records */
#define T_KOPEN 12   /* u32 open flags, u32 node, u32 adopted, u32 0: result handle = the file's number */
#define T_KIOCTL 13  /* as T_IOCTL with the file's number for handle; the server answers CB_KERNEL_CALL,
                        then T_RESULT: result, handle = number of a file the call made (0: none),
                        inode = its descriptor */
#define T_KCLOSED 14 /* u64 file: this process closed its last descriptor of it */
/* client -> server, answering a callback */
#define T_CB_REPLY 48 /* i64 status, then data (CB_MEM_READ) */
/* server -> client */
#define T_RESULT 64   /* i64 result (>= 0 or -errno), u64 handle, u64 inode, u32 kind, u32 offset,
                         then bytes the shim writes at arg + offset (IOCTL_WINDOW_WRITABLE) */
#define T_HELLO_OK 65 /* u32 version, u32 mode (MODE_*), u64 server id */
/* server -> client callbacks, during a call */
#define CB_MEM_READ 32  /* u64 address, u64 length: reply status + the bytes */
#define CB_MEM_WRITE 33 /* u64 address, bytes: reply status */
#define CB_PINNABLE 34  /* u64 address, u64 length, u32 write, u32 0: reply status */
#define CB_NEW_FD 35    /* u32 fd flags (FD_CLOEXEC), u32 kind, u64 handle, u64 inode + SCM_RIGHTS: reply fd */
#define CB_CLOSE_FD 36  /* u32 fd, u32 0: reply status */
#define CB_GET_FD 37    /* u32 fd, u32 0: reply status, + SCM_RIGHTS fd when status is 0 */
#define CB_KERNEL_CALL 38 /* (empty): make the T_KIOCTL call now: reply its result (or -errno), u64 ns */
#define CB_FILE_OF 39     /* u32 fd, u32 0: reply the number of the recorded file fd is (0: none) */

/* T_IOCTL flags: the window lies in the calling thread's own stack, so writing it cannot fail:
   the server may return what the call writes there in the result instead of writing it itself */
#define IOCTL_WINDOW_WRITABLE 1u

#define HELLO_FORCE_SHIM_MEMORY 1u /* flags: serve caller memory through callbacks */
#define HELLO_MAILBOX 2u           /* flags: the client can use a mailbox */

#define MODE_DIRECT 0u  /* the server reads caller memory itself (process_vm_readv) */
#define MODE_SHIM 1u    /* the server asks the shim (CB_MEM_*) */
#define MODE_MAILBOX 2u /* flag: frames go through the mailbox attached to HELLO_OK */

/*
 * The mailbox: a sealed memfd the server makes, mapped by both. One frame at a time is in it;
 * `turn` says whose it is. A writer fills the frame, stores turn with release order, then, if
 * the reader's `waiting` word is set, rings it: a T_DOORBELL frame on the socket, whose sync
 * wake-up the scheduler handles as well as a socket ping-pong. A reader spins a while on turn,
 * then sets `waiting` and sleeps in recv on the socket. It takes the frame out of the box and
 * sets turn back to 0. A frame with a descriptor goes on the socket, then T_VIA_SOCKET into the
 * box. The server copies a frame out before looking at it; the client may scribble on it any time.
 */
#define MBOX_TURN 0
#define MBOX_SERVER_WAITING 64
#define MBOX_CLIENT_WAITING 128
#define MBOX_LENGTH 192 /* u32 payload length */
#define MBOX_TYPE 196   /* u16 frame type */
#define MBOX_DATA 4096
#define MBOX_SIZE (MBOX_DATA + I4J_CHUNK + 4096)
#define TURN_NONE 0u
#define TURN_SERVER 1u /* a frame for the server is in the box */
#define TURN_CLIENT 2u /* a frame for the client is in the box */

#define NODE_IOMMU 0u /* /dev/iommu */
#define NODE_VFIO 1u  /* /dev/vfio/vfio */

#define FAIL_NTH_SET 0u
#define FAIL_NTH_GET 1u

#define KIND_IOMMUFD 'i'
#define KIND_ACCESS 'a'
#define KIND_FAULT 'f'
#define KIND_KERNEL 'k' /* a real /dev/iommu (or a file it made) being recorded */
#define KIND_FAIL_NTH 'n' /* the shim's own: /proc/self/task/<tid>/fail-nth */

#endif
