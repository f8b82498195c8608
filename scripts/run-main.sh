#!/usr/bin/env bash
# The main job: installs what berth needs, builds it, starts berthd with its defaults
# (/etc/berth/config.toml if present, root /var/lib/berth, state /run/berth, socket
# /run/berth/berthd.sock) in the background, and shows it answering containerd's own client.
# berthd keeps running afterwards; its log is /var/log/berthd.log.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "scripts/run-main.sh: run as root" >&2; exit 1; }

bash scripts/install-deps.sh
bash scripts/build.sh
BIN=$(pwd)/${BERTH_BUILD_DIR:-build}/bin
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

set -x
ctr --address "$SOCK" version
ctr --address "$SOCK" plugins ls
ctr --address "$SOCK" namespaces create demo-$$ purpose=run-main
ctr --address "$SOCK" namespaces ls
ctr --address "$SOCK" namespaces rm demo-$$
{ set +x; } 2>/dev/null
echo "berthd is running. Stop it with: kill \$(cat /var/lib/berth/berthd.lock)"
