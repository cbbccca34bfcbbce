package org.iommufd4j.pci.nvme;

/**
 * Completion status values of NVMe 1.4 as the 15-bit Status Field: type in bits 10:8, code in 7:0,
 * Do Not Retry in bit 14. What is wrong with the command itself carries DNR (retrying cannot help);
 * transfer and media errors do not.
 */
final class Status {
  static final int SUCCESS = 0;
  static final int DNR = 1 << 14;

  // generic command status (type 0)
  static final int INVALID_OPCODE = 0x01 | DNR;
  static final int INVALID_FIELD = 0x02 | DNR;
  static final int DATA_TRANSFER_ERROR = 0x04;
  static final int ABORTED_BY_REQUEST = 0x07;
  static final int INVALID_NAMESPACE = 0x0b | DNR;
  static final int PRP_OFFSET_INVALID = 0x13 | DNR;
  static final int COMMAND_SEQUENCE_ERROR = 0x0c | DNR;
  static final int INVALID_SGL_SEGMENT_DESCRIPTOR = 0x0d | DNR;
  static final int INVALID_NUMBER_OF_SGL_DESCRIPTORS = 0x0e | DNR;
  static final int DATA_SGL_LENGTH_INVALID = 0x0f | DNR;
  static final int SGL_DESCRIPTOR_TYPE_INVALID = 0x11 | DNR;
  static final int LBA_OUT_OF_RANGE = 0x80 | DNR;

  // command specific status (type 1)
  static final int INVALID_CQ = 0x100 | DNR;
  static final int INVALID_QUEUE_ID = 0x101 | DNR;
  static final int INVALID_QUEUE_SIZE = 0x102 | DNR;
  static final int AER_LIMIT_EXCEEDED = 0x105 | DNR;
  static final int INVALID_INTERRUPT_VECTOR = 0x108 | DNR;
  static final int INVALID_LOG_PAGE = 0x109 | DNR;
  static final int INVALID_QUEUE_DELETION = 0x10c | DNR;
  static final int FEATURE_NOT_SAVEABLE = 0x10d | DNR;

  // media and data integrity errors (type 2)
  static final int WRITE_FAULT = 0x280;
  static final int UNRECOVERED_READ_ERROR = 0x281;

  private Status() {}
}
