# Sourced by run.sh and test.sh: the bridge's C shim needs make and a C compiler. Installs
# Debian's make and gcc when run as root without them; otherwise stops with a clear message.
_missing=""
command -v make >/dev/null 2>&1 || _missing="$_missing make"
command -v cc >/dev/null 2>&1 || _missing="$_missing gcc"
if [ -n "$_missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing$_missing (needed to build the C shim)..." >&2
    (apt-get update -qq && apt-get install -y -qq $_missing) >&2
  else
    echo "error: the bridge's C shim needs$_missing (e.g. sudo apt-get install$_missing)." >&2
    exit 1
  fi
fi
unset _missing
