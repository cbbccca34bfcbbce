# Sourced by run.sh, test.sh and .ci/run: exports JAVA_HOME = a JDK >= $MIN_JAVA (default 25).
# The machine's default java may be older (17 on Debian 12), so never trust PATH first.
MIN_JAVA="${MIN_JAVA:-25}"
_jdk_major() {
  [ -x "$1/bin/javac" ] || return 0
  if [ -f "$1/release" ]; then
    sed -n 's/^JAVA_VERSION="\([0-9][0-9]*\).*/\1/p' "$1/release"
  else
    "$1/bin/java" -XshowSettings:properties -version 2>&1 \
      | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p'
  fi
}
_pick_jdk() {
  local best="" bestv=0 d v
  if [ -n "${JAVA_HOME:-}" ]; then
    v=$(_jdk_major "$JAVA_HOME")
    [ "${v:-0}" -ge "$MIN_JAVA" ] && { echo "$JAVA_HOME"; return; }
  fi
  for d in /usr/lib/jvm/*/; do
    d=${d%/}; [ -L "$d" ] && continue
    v=$(_jdk_major "$d"); v=${v:-0}
    if [ "$v" -ge "$MIN_JAVA" ] && [ "$v" -gt "$bestv" ]; then best=$d; bestv=$v; fi
  done
  if [ -z "$best" ] && command -v javac >/dev/null 2>&1; then
    d=$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")
    v=$(_jdk_major "$d"); [ "${v:-0}" -ge "$MIN_JAVA" ] && best=$d
  fi
  echo "$best"
}
JAVA_HOME=$(_pick_jdk)
if [ -z "$JAVA_HOME" ]; then
  echo "error: no JDK >= $MIN_JAVA found (looked at \$JAVA_HOME, /usr/lib/jvm/*, javac on PATH)." >&2
  echo "       Install one (e.g. Temurin $MIN_JAVA under /usr/lib/jvm) or set JAVA_HOME to it." >&2
  exit 1
fi
export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH"
# Maven 3.8's own libraries use sun.misc.Unsafe, which JDK 24+ warns about. Set here and not in
# .mvn/jvm.config, where a JDK 17 `mvn` would die on the option before the enforcer can say
# that the build needs JDK 25.
case " ${MAVEN_OPTS:-} " in
  *" --sun-misc-unsafe-memory-access="*) ;;
  *) export MAVEN_OPTS="${MAVEN_OPTS:+$MAVEN_OPTS }--sun-misc-unsafe-memory-access=allow" ;;
esac
if ! command -v mvn >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Maven not found: installing Debian's maven package..." >&2
    (apt-get update -qq && apt-get install -y -qq maven) >&2 \
      || { echo "error: could not install Maven with apt-get" >&2; exit 1; }
  else
    echo "error: Maven (mvn) not found on PATH; install Apache Maven >= 3.8.7." >&2
    exit 1
  fi
fi
