#!/usr/bin/env bash
# Installs iommufd4j's jars, with their sources and javadoc, into the local Maven repository
# (~/.m2/repository), built with a JDK >= 25 and without running the tests, so that other builds
# can depend on them (README: "Use it in your build"). Extra arguments go to Maven.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/java-env.sh
. scripts/native-env.sh
mvn -B -ntp -Pdist -DskipTests install "$@" 2>&1 | sed 's/\x1b\[[0-9;]*m//g'
VERSION=$(sed -n 's:^  <version>\(.*\)</version>:\1:p' pom.xml | head -1)
echo "installed org.iommufd4j:{iommufd4j-core,iommufd4j-junit,iommufd4j-bridge,iommufd4j-cli}:$VERSION"
# C users: pkg-config --cflags iommufd4j (Linux 6.12's uapi headers), where this user may install it
if [ -w /usr/local/share ] && PC=$(scripts/c-headers.sh pkgconfig); then
  mkdir -p /usr/local/share/pkgconfig && cp "$PC/iommufd4j.pc" /usr/local/share/pkgconfig/
  echo "installed /usr/local/share/pkgconfig/iommufd4j.pc (pkg-config --cflags iommufd4j)"
fi
