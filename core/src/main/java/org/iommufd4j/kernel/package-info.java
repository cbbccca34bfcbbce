/**
 * Internal: the real kernel through FFM. {@link org.iommufd4j.kernel.LibC} owns every downcall
 * handle of the project. Public only because other iommufd4j packages call it; no compatibility
 * promise.
 */
package org.iommufd4j.kernel;
