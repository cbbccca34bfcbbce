/**
 * The byte ABI of {@code /dev/iommu} (spec §1): ioctl numbers, struct layouts as named offsets,
 * the generic decode (size word, request number, {@code min_size}, zero tail) and the respond
 * rules. The only package that knows bytes; it ends in the engine's methods.
 *
 * <p>Layout classes are named after the C struct and usable by anyone building raw arguments.
 * {@link org.iommufd4j.uapi.Dispatcher} is internal: it carries no compatibility promise.
 */
package org.iommufd4j.uapi;
