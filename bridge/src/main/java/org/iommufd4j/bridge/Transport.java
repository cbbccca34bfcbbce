package org.iommufd4j.bridge;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

/** How a channel's frames travel: socket frames, or the shared-memory {@link Mailbox}. */
interface Transport {
  /**
   * The next frame, copied into {@code into}; null at end of stream.
   *
   * @throws UnixSocket.SocketException EAGAIN when nothing came within the timeout ({@link
   *     UnixSocket.SocketException#idle()} if nothing at all began)
   */
  UnixSocket.Frame receive(MemorySegment into) throws IOException;

  /** Sends a frame, with {@code fd} attached when it is not negative. */
  void send(int type, MemorySegment payload, long length, int fd) throws IOException;
}
