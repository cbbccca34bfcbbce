/**
 * Inspecting a context: {@link org.iommufd4j.inspect.Snapshot}, the state of an iommufd as values
 * (from {@link org.iommufd4j.Iommufd#inspect()}), and its renderings as an aligned text table, JSON
 * ({@link org.iommufd4j.inspect.JsonFormat}) and an SVG map of every IOVA space.
 *
 * <p>A package of its own because it is a tool on the side of the API, not part of issuing ioctls;
 * it has no dependencies beyond the JDK.
 */
package org.iommufd4j.inspect;
