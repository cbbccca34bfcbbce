/**
 * The byte ABI of {@code /dev/iommu} (spec §1): ioctl numbers, struct layouts as named offsets,
 * the generic decode (size word, request number, {@code min_size}, zero tail) and the respond
 * rules. The only package that knows bytes.
 *
 * <p>Layout classes are named after the C struct and usable by anyone building raw arguments;
 * {@link org.iommufd4j.uapi.IoctlEvent} is the JFR event of every call. {@link
 * org.iommufd4j.uapi.Dispatcher} is the project's own entry (it takes engine types, which the
 * module does not export): it decodes a struct, calls one method of a command family on the
 * engine's {@code Context} ({@code ctx.ioas().map(...)}), and writes the reply; {@code
 * HwptIoctls} and {@code VfioDispatcher} do the same for the HWPT family and the VFIO
 * compatibility requests.
 */
package org.iommufd4j.uapi;
