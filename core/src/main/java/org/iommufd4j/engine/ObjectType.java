package org.iommufd4j.engine;

/** Object types of the id space (spec §2.3); the type decides which commands accept an id. */
public enum ObjectType {
  IOAS,
  HWPT_PAGING,
  HWPT_NESTED,
  DEVICE,
  ACCESS,
  FAULT,
  SELFTEST
}
