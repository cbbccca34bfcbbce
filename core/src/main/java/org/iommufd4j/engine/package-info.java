/**
 * The emulated iommufd: what the kernel's {@code drivers/iommu/iommufd} is.
 *
 * <p><b>Internal</b> (not exported by the module). Public classes here exist only because the byte
 * ABI ({@code uapi}), the typed API ({@code org.iommufd4j}) and the project's own tools call them;
 * they carry no compatibility promise.
 *
 * <p>How a call comes in: {@link org.iommufd4j.engine.Context} is one open file, the kernel's
 * {@code main.c}: the object table, the file's lifetime, DESTROY and OPTION, and one accessor per
 * command family, which both front doors call the same way:
 *
 * <ul>
 *   <li>{@code ioas()}: {@link org.iommufd4j.engine.IoasCommands} (IOAS_ALLOC, IOVA_RANGES,
 *       ALLOW_IOVAS, MAP, COPY, UNMAP; {@code ioas.c});
 *   <li>{@code hwpt()}: {@link org.iommufd4j.engine.HwptCommands} (HWPT_ALLOC, GET_HW_INFO, dirty
 *       tracking, HWPT_INVALIDATE, FAULT_QUEUE_ALLOC; {@code hw_pagetable.c}, {@code device.c},
 *       {@code fault.c});
 *   <li>{@code vfio()}: {@link org.iommufd4j.engine.VfioCompat} (VFIO_IOAS and the type-1 container
 *       commands; {@code vfio_compat.c});
 *   <li>{@code selftest()}: {@link org.iommufd4j.engine.Selftest} (IOMMU_TEST_CMD; {@code
 *       selftest.c});
 *   <li>{@code devices()}: {@link org.iommufd4j.engine.DeviceCommands} (the typed API's emulated
 *       devices).
 * </ul>
 *
 * <p>Below the families, objects ({@code IoasObject}, {@code HwPagetable}, {@code Device}, ...)
 * take the {@link org.iommufd4j.engine.ObjectTable} and {@link org.iommufd4j.engine.Host} they use,
 * not the context; only the holders of the file itself (an {@code Access}, a fault fd) keep it. An
 * IOAS's address space is an {@code IoPagetable}: an {@code AreaTree} of areas, the reserved and
 * allowed ranges, the {@code IovaAllocator} and the attached domains.
 *
 * <p>Every semantic check lives here, so both front doors report the same errno in the same order.
 * Comments cite the Linux 6.12 code whose behaviour they reproduce as {@code file.c: function()},
 * in {@code drivers/iommu/iommufd/} unless a path is given.
 *
 * <p>Lock order: attach lock (device attach, replace, detach; snapshots) → object table (short,
 * never held while calling out) → IOAS. COPY never holds two IOAS locks at once: it collects the
 * source slices, releases the source, then locks the destination.
 */
package org.iommufd4j.engine;
