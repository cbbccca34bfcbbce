# Sourced by test.sh: the unmodified third-party programs the integration tests run against the
# emulator (Debian's QEMU 7.2, what builds a Linux guest for it, and DPDK 22.11, whose
# dpdk-testpmd is in the dpdk-dev package, not dpdk). Installed with apt-get when run as root
# without them; otherwise the tests that need them are skipped and say why.
_programs=""
command -v qemu-system-x86_64 >/dev/null 2>&1 || _programs="$_programs qemu-system-x86"
command -v dpdk-testpmd >/dev/null 2>&1 || _programs="$_programs dpdk-dev"
# NvmeGuestIT builds its guest's initramfs with these
command -v cpio >/dev/null 2>&1 || _programs="$_programs cpio"
command -v gzip >/dev/null 2>&1 || _programs="$_programs gzip"
[ -x /sbin/modinfo ] || command -v modinfo >/dev/null 2>&1 || _programs="$_programs kmod"
if [ -n "$_programs" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing$_programs (programs the integration tests run)..." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends $_programs) >&2 \
      || echo "warning: could not install$_programs; the tests that run them will be skipped" >&2
  else
    echo "note:$_programs not installed; the tests that run them will be skipped" >&2
  fi
fi
unset _programs
# NvmeGuestIT's guest: Debian's kernel image and busybox-static, downloaded (not installed) and
# unpacked into a cache; no root needed, the host's /boot is left alone
_guest="$HOME/.cache/iommufd4j/nvme-guest"
if ! ls "$_guest"/root/boot/vmlinuz-* >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  echo "downloading linux-image-amd64 and busybox-static into $_guest (NvmeGuestIT's guest)..." >&2
  sh "$(dirname "${BASH_SOURCE:-$0}")/../cli/src/test/resources/nvme-guest.sh" prepare "$_guest" \
    || echo "warning: could not download the guest's packages; NvmeGuestIT will be skipped" >&2
fi
unset _guest
