#!/usr/bin/env bash
# Installs what berth needs, builds it, and runs every test: first the fast unit tests (no
# root), then the root and integration tests (root: namespaces, mounts, cgroups, real daemons
# driven by Debian's ctr). Prints ctest's summary; exits non-zero if any test failed.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "scripts/test.sh: run as root (the integration tests need it)" >&2; exit 1; }

bash scripts/install-deps.sh
bash scripts/build.sh

BUILD_DIR=${BERTH_BUILD_DIR:-build}
cd "$BUILD_DIR"
status=0
echo "== unit tests"
ctest -L unit --output-on-failure --timeout 300 -j "$(nproc)" || status=1
echo "== root and integration tests"
ctest -L 'root|integration' --output-on-failure --timeout 900 || status=1
exit $status
