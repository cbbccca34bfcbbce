/** QEMU's {@code edu} teaching device as a model ({@link org.iommufd4j.pci.edu.EduDevice}). */
package org.iommufd4j.pci.edu;
