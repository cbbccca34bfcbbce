# Sourced by run.sh and test.sh: the bridge's C shim needs make and a C compiler, and its format
# check (`make check`, which the tests run) clang-format 14. Installs Debian's make, gcc and
# clang-format when run as root without them; without make or a compiler otherwise stops with a
# clear message (without clang-format, the format check itself says what is missing).
_root_apt=""
[ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && _root_apt=1
_missing=""
command -v make >/dev/null 2>&1 || _missing="$_missing make"
command -v cc >/dev/null 2>&1 || _missing="$_missing gcc"
if [ -n "$_missing" ]; then
  if [ -n "$_root_apt" ]; then
    echo "installing$_missing (needed to build the C shim)..." >&2
    (apt-get update -qq && apt-get install -y -qq $_missing) >&2
  else
    echo "error: the bridge's C shim needs$_missing (e.g. sudo apt-get install$_missing)." >&2
    exit 1
  fi
fi
if ! command -v clang-format >/dev/null 2>&1 && [ -n "$_root_apt" ]; then
  echo "installing clang-format (the C format check)..." >&2
  (apt-get update -qq && apt-get install -y -qq clang-format) >&2 \
    || echo "warning: could not install clang-format; the C format check will fail" >&2
fi
unset _root_apt _missing
