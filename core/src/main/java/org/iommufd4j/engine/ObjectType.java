package org.iommufd4j.engine;

/**
 * Object types of the id space (iommufd_private.h: enum iommufd_object_type); the type decides
 * which commands accept an id.
 */
public enum ObjectType {
  IOAS,
  HWPT_PAGING,
  HWPT_NESTED,
  DEVICE,
  ACCESS,
  FAULT,
  SELFTEST
}
