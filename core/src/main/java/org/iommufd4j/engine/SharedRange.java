package org.iommufd4j.engine;

/**
 * Pages of a file mapping that are memory shared with the emulator rather than trapped: file
 * offsets {@code [offset, offset + length)} are {@code fd}'s bytes from {@code fdOffset}, mapped
 * {@code MAP_SHARED}. The descriptor stays the file's; a front door duplicates it to pass it on.
 */
public record SharedRange(long offset, long length, int fd, long fdOffset) {}
