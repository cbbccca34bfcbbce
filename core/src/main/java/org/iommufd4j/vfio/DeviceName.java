package org.iommufd4j.vfio;

import java.util.regex.Pattern;
import org.iommufd4j.Errno;
import org.iommufd4j.engine.ErrnoException;

/**
 * How vfio-pci matches the name {@code VFIO_GROUP_GET_DEVICE_FD} carries (vfio_pci_core.c:
 * vfio_pci_core_match()): the PCI name, then nothing, or a space followed by space-separated
 * options of which {@code vf_token=<uuid>} is the only one, at most once.
 */
final class DeviceName {
  private static final String VF_TOKEN = "vf_token=";
  private static final int UUID_LENGTH = 36;
  private static final Pattern UUID =
      Pattern.compile(
          "\\p{XDigit}{8}-\\p{XDigit}{4}-\\p{XDigit}{4}-\\p{XDigit}{4}-\\p{XDigit}{12}");

  private DeviceName() {}

  /**
   * Whether {@code name} selects the function {@code bdf}.
   *
   * @throws ErrnoException EINVAL for an unknown or repeated option, a malformed UUID, or a VF
   *     token at all: no emulated function is an SR-IOV PF or VF (vfio_pci_core.c:
   *     vfio_pci_validate_vf_token())
   */
  static boolean matches(String bdf, String name) {
    if (!name.startsWith(bdf)) {
      return false;
    }
    if (name.length() == bdf.length()) {
      return true;
    }
    if (name.charAt(bdf.length()) != ' ') {
      return false; // something else glued to the name
    }
    boolean token = false;
    int at = bdf.length();
    while (at < name.length()) {
      if (name.charAt(at) == ' ') {
        at++;
        continue;
      }
      if (token || !name.startsWith(VF_TOKEN, at)) {
        throw ErrnoException.of(Errno.EINVAL, "unknown or repeated option in '" + name + "'");
      }
      at += VF_TOKEN.length();
      if (name.length() - at < UUID_LENGTH
          || !UUID.matcher(name.substring(at, at + UUID_LENGTH)).matches()) {
        throw ErrnoException.of(Errno.EINVAL, "malformed vf_token in '" + name + "'");
      }
      token = true;
      at += UUID_LENGTH;
    }
    if (token) {
      throw ErrnoException.of(Errno.EINVAL, bdf + " is neither an SR-IOV PF nor a VF: no vf_token");
    }
    return true;
  }
}
