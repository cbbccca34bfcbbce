#!/usr/bin/env bash
# Builds every module and runs every test (unit tests and integration tests).
set -euo pipefail
cd "$(dirname "$0")"
. scripts/java-env.sh
. scripts/native-env.sh
. scripts/test-programs.sh
exec mvn -B -ntp verify "$@"
