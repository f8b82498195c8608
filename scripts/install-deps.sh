#!/usr/bin/env bash
# Installs everything berth needs to build and test, from Debian 12's archive only.
# Idempotent: packages already present are skipped by apt. Run as root.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake ninja-build pkg-config git
  protobuf-compiler libprotobuf-dev protobuf-compiler-grpc libgrpc++-dev
  libabsl-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev
  libsqlite3-dev libtomlplusplus-dev libcli11-dev nlohmann-json3-dev
  libarchive-dev libcurl4-openssl-dev libssl-dev libseccomp-dev libcap-dev
  libzstd-dev zlib1g-dev libisal-dev
)
# Real parts the tests drive: containerd's ctr client (never its daemon in tests),
# the registry, image tooling, external runtimes, a terminal for -t tests.
TEST_PKGS=(
  containerd golang-github-containerd-containerd-dev
  busybox-static umoci skopeo jq docker-registry apache2-utils openssl curl
  runc crun tmux iproute2 containernetworking-plugins sqlite3 procps psmisc
  util-linux e2fsprogs
)

want=("${BUILD_PKGS[@]}")
[ "${1:-}" = "--build-only" ] || want+=("${TEST_PKGS[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian's containerd package enables its own daemon; berth's tests only use the ctr client,
# and must never touch /run/containerd, so keep that daemon stopped where systemd runs.
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl disable --now containerd.service >/dev/null 2>&1 || true
fi
