# Sourced by test.sh: the unmodified third-party programs the integration tests run against the
# emulator (Debian's QEMU 7.2 and DPDK 22.11, whose dpdk-testpmd is in the dpdk-dev package, not
# dpdk). Installed with apt-get when run as root without them; otherwise
# the tests that need them are skipped and say why.
_programs=""
command -v qemu-system-x86_64 >/dev/null 2>&1 || _programs="$_programs qemu-system-x86"
command -v dpdk-testpmd >/dev/null 2>&1 || _programs="$_programs dpdk-dev"
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
