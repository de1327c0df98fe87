#!/usr/bin/env bash
# The build stage of the Dockerfile next to this file, as one script so that CI runs the very
# same steps without Docker (scripts/test-cloud-run-image):
#   1. builds logfire-cpp (with its cpp-httplib integration) and installs it into PREFIX;
#   2. builds this service as a separate CMake project against the INSTALLED library
#      (find_package(logfire-cpp COMPONENTS httplib)) and installs the stripped binary into OUT.
#
#   build-stage.sh SOURCE PREFIX OUT [WORK]     # WORK: build folders (default: a temporary one)
#
# Environment: JOBS (build parallelism, default: all cores).
set -euo pipefail
if [[ $# -lt 3 ]]; then
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
src=$(cd "$1" && pwd)
prefix=$2
out=$3
work=${4:-}
if [[ -z "$work" ]]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
jobs=${JOBS:-$(nproc)}

cmake -S "$src" -B "$work/logfire-cpp" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DLOGFIRE_BUILD_TESTS=OFF -DLOGFIRE_BUILD_BENCH=OFF -DLOGFIRE_BUILD_EXAMPLES=OFF -DLOGFIRE_BUILD_TOOLS=OFF \
  -DLOGFIRE_BUILD_INTEGRATIONS=ON -DLOGFIRE_INTEGRATIONS=httplib -DLOGFIRE_INSTALL=ON >/dev/null
cmake --build "$work/logfire-cpp" -j "$jobs"
cmake --install "$work/logfire-cpp" >/dev/null

cmake -S "$src/examples/cloud_run_service" -B "$work/service" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_INSTALL_PREFIX="$out" >/dev/null
cmake --build "$work/service" -j "$jobs"
cmake --install "$work/service" --strip >/dev/null
echo "build-stage: $out/bin/cloud_run_service built against logfire-cpp installed in $prefix"
