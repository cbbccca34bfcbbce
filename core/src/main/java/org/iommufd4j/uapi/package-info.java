/**
 * The byte ABI of {@code /dev/iommu} and of the VFIO files (spec §1), in one place: ioctl
 * numbers, struct layouts, flag and op values of Linux 6.12, the generic decode (size word,
 * request number, {@code min_size}, zero tail) and the respond rules. The only package that
 * knows bytes; it ends in the engine's methods.
 *
 * <p>Layout classes are named after the C struct: each holds the struct's {@link
 * java.lang.foreign.StructLayout} ({@code LAYOUT}, members named as in C), the offsets, {@code
 * SIZE} and {@code MIN_SIZE} derived from it, and the values its fields take; the engine imports
 * those values rather than repeating them. {@link org.iommufd4j.uapi.Struct} reads and writes one
 * struct for anyone building raw arguments. {@link org.iommufd4j.uapi.Dispatcher} is internal:
 * it carries no compatibility promise.
 */
package org.iommufd4j.uapi;
