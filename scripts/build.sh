#!/usr/bin/env bash
# Configures and builds berth into build/ (or $BERTH_BUILD_DIR). Binaries land in build/bin.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BERTH_BUILD_DIR:-build}
JOBS=${BERTH_JOBS:-$(nproc)}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${BERTH_BUILD_TYPE:-RelWithDebInfo}"
fi
cmake --build "$BUILD_DIR" -j "$JOBS"
