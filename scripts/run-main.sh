#!/usr/bin/env bash
# The main job: installs what berth needs, builds it, starts berthd with its defaults
# (/etc/berth/config.toml if present, root /var/lib/berth, state /run/berth, socket
# /run/berth/berthd.sock) in the background, and shows containerd's own client running a
# container through it (a busybox image built locally from busybox-static, no network).
# berthd keeps running afterwards; its log is /var/log/berthd.log.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "scripts/run-main.sh: run as root" >&2; exit 1; }

bash scripts/install-deps.sh
bash scripts/build.sh
BIN=$(cd "${BERTH_BUILD_DIR:-build}" && pwd)/bin  # BERTH_BUILD_DIR may be relative or absolute
SOCK=/run/berth/berthd.sock

if ctr --address "$SOCK" version >/dev/null 2>&1; then
  echo "berthd is already running on $SOCK"
else
  nohup "$BIN/berthd" >>/var/log/berthd.log 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do
    ctr --address "$SOCK" version >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { echo "berthd exited; see /var/log/berthd.log" >&2; tail -5 /var/log/berthd.log >&2; exit 1; }
    sleep 0.05
  done
  echo "berthd started (pid $pid), log /var/log/berthd.log"
fi

IMAGES=$(mktemp -d /tmp/berth-images.XXXXXX)
trap 'rm -rf "$IMAGES"' EXIT
bash tests/fixtures/make-images.sh "$IMAGES" >/dev/null  # busybox image from busybox-static
C="ctr --address $SOCK"
set -x
$C version
$C plugins ls
$C images import "$IMAGES/busybox.docker.tar"
$C images ls
$C snapshots tree
$C run --rm --fifo-dir /run/berth/fifo docker.io/library/busybox:latest hello-$$ \
  sh -c 'echo "hello from a berth container: $(hostname), pid $$"; cat /proc/self/cgroup | head -3'
$C run -d --fifo-dir /run/berth/fifo docker.io/library/busybox:latest sleeper-$$ sleep 600
$C tasks ls
$C tasks kill -s SIGKILL sleeper-$$
sleep 0.5
$C tasks delete sleeper-$$
$C containers rm sleeper-$$
{ set +x; } 2>/dev/null
echo "berthd is running (image docker.io/library/busybox:latest imported)."
echo "Stop it with: kill \$(cat /var/lib/berth/berthd.lock)"
