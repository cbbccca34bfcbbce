/**
 * The byte ABI of {@code /dev/iommu} and of the VFIO files (include/uapi/linux/iommufd.h), in one
 * place: ioctl numbers, struct layouts, flag and op values of Linux 6.12, the generic decode (size
 * word, request number, {@code min_size}, zero tail) and the respond rules. The only package that
 * knows bytes.
 *
 * <p>Layout classes are named after the C struct: each holds the struct's {@link
 * java.lang.foreign.StructLayout} ({@code LAYOUT}, members named as in C), the offsets, {@code
 * SIZE} and {@code MIN_SIZE} derived from it, and the values its fields take; the engine imports
 * those values rather than repeating them. {@link org.iommufd4j.uapi.Struct} reads and writes one
 * struct for anyone building raw arguments, and {@link org.iommufd4j.uapi.IoctlEvent} is the JFR
 * event of every call. {@link org.iommufd4j.uapi.Dispatcher} is the project's own entry (it takes
 * engine types, which the module does not export, and carries no compatibility promise): it decodes
 * a struct, calls one method of a command family on the engine's {@code Context} ({@code
 * ctx.ioas().map(...)}), and writes the reply; {@code HwptIoctls} and {@code VfioDispatcher} do the
 * same for the HWPT family and the VFIO compatibility requests.
 */
package org.iommufd4j.uapi;
