/*
 * Frames on a channel (proto.h): over its socket, or through its mailbox when the server gave
 * it one. One thread uses a transport at a time.
 */
#ifndef IOMMUFD4J_TRANSPORT_H
#define IOMMUFD4J_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "proto.h"

struct transport {
  _Atomic int fd;                   /* the socket; another thread may move it (under the channel registry's lock) */
  unsigned char *mbox;              /* the mailbox, or NULL: frames go over the socket */
  uint32_t typical_ns;              /* the running mean of how long the spins that caught a reply took */
  uint32_t hit_share;               /* of 256: how many of the recent spins caught their reply */
  uint32_t waits;                   /* the waits while not spinning, counted for the occasional probe */
  unsigned char in[I4J_CHUNK + 64]; /* payload of the frame being received */
};

/* Sends one frame (payload a then b) on a socket, send_fd (if >= 0) with its first byte: 0 or -1. */
HIDDEN int i4j_send_frame(int fd, uint16_t type, const void *a, size_t na, const void *b, size_t nb, int send_fd);
/* Receives one frame from the socket into t->in; *got_fd a descriptor that came with it (-1: none,
   -2: one that did not fit): 0 or -1. */
HIDDEN int i4j_recv_frame(struct transport *t, uint16_t *type, uint32_t *length, int *got_fd);
/* Maps the mailbox the server sent (memfd) and closes memfd: 0 or -1. */
HIDDEN int i4j_attach_mailbox(struct transport *t, int memfd);
/* A frame for the server, through the mailbox if there is one: 0 or -1. */
HIDDEN int i4j_post(struct transport *t, uint16_t type, const void *a, size_t na, const void *b, size_t nb,
                    int send_fd);
/* The next frame from the server (doorbells skipped) into t->in: 0 or -1. */
HIDDEN int i4j_take(struct transport *t, uint16_t *type, uint32_t *length, int *got_fd);
/* Unmaps the mailbox and closes the socket. */
HIDDEN void i4j_transport_close(struct transport *t);
/* IOMMUFD4J_DEBUG: how the mailbox waits of this process went, on stderr. */
HIDDEN void i4j_mailbox_report(void);

/* Payload fields (the host's byte order: little-endian on every machine the shim builds for). */
static inline uint64_t i4j_get64(const unsigned char *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}
static inline uint32_t i4j_get32(const unsigned char *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
static inline void i4j_put64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static inline void i4j_put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }

/* The fixed part of a T_IOCTL or T_KIOCTL frame. */
static inline void i4j_put_ioctl(unsigned char req[IOCTL_SIZE], uint64_t handle, uint64_t request, const void *arg,
                                 uint32_t window_length, uint32_t flags) {
  i4j_put64(req + IOCTL_HANDLE, handle);
  i4j_put64(req + IOCTL_REQUEST, request);
  i4j_put64(req + IOCTL_ARG, (uint64_t)(uintptr_t)arg);
  i4j_put32(req + IOCTL_WINDOW_LENGTH, window_length);
  i4j_put32(req + IOCTL_FLAGS, flags);
}

#endif
