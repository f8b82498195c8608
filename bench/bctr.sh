#!/usr/bin/env bash
# What a user waits for at the command line: bctr against berthd, and Debian's ctr against
# containerd 1.6 + runc (a private instance on private dirs), in one run, interleaved:
#   - `run --rm IMAGE /bin/true`: the whole user-visible latency of each client and its daemon;
#   - a cold `pull` of Debian minbase (~50 MB gzip) from Debian's docker-registry on 127.0.0.1
#     (the image and its snapshots removed before each pull).
# Prints medians and the bctr/ctr ratios.
#
#   bench/bctr.sh [RUNS]        (default 10; run as root after scripts/build.sh)
#
# Only processes this script started are stopped, by pid; nothing under /run/containerd or
# /var/lib/containerd is touched.
set -euo pipefail
RUNS=${1:-10}
SRC=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BERTH_BIN:-$SRC/build/bin}
DIR=${BENCH_DIR:-/tmp/berth-bench-bctr}
ROOTFS=${DEBIAN_ROOTFS:-/tmp/rootfs-debian}
for t in containerd ctr runc docker-registry skopeo umoci; do
  command -v $t >/dev/null || { echo "$t not installed (scripts/install-deps.sh)" >&2; exit 1; }
done
[ -x "$BIN/berthd" ] && [ -x "$BIN/bctr" ] || { echo "berthd/bctr not built (scripts/build.sh)" >&2; exit 1; }

pids=()
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  for m in $(awk -v d="$DIR" '$2 ~ "^"d { print $2 }' /proc/mounts | sort -r); do umount -l "$m"; done
  rm -rf "$DIR"
}
trap cleanup EXIT
rm -rf "$DIR" && mkdir -p "$DIR"/fifo "$DIR"/runc "$DIR"/logs

source "$SRC/bench/lib.sh"
debian_oci_image "$DIR/oci"
start_registry
DEBIAN=127.0.0.1:$PORT/debian:latest
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$DIR/oci:latest" "docker://$DEBIAN"
start_daemons

bash "$SRC/tests/fixtures/make-images.sh" "$DIR/images" >/dev/null
BUSYBOX=docker.io/library/busybox:latest
# bctr's own state (the shared /etc/hosts, CNI state) in $DIR too.
printf '[network]\nstate_dir = "%s"\n' "$DIR/bctr-state" > "$DIR/bctr.toml"
export BERTH_CLIENT_CONFIG=$DIR/bctr.toml
B() { "$BIN/bctr" --address "$DIR/berth.sock" -n bench --log-root "$DIR/logs" "$@"; }
C() { ctr -a "$DIR/ctrd.sock" -n bench "$@"; }
B images import "$DIR/images/busybox.docker.tar" >/dev/null
C images import "$DIR/images/busybox.docker.tar" >/dev/null

# 1. run --rm latency.
B run --rm $BUSYBOX /bin/true
C run --rm --fifo-dir "$DIR/fifo" --runc-root "$DIR/runc" $BUSYBOX warm /bin/true
: > "$DIR/bctr.rt"; : > "$DIR/ctr.rt"
for i in $(seq 1 "$RUNS"); do
  t0=$EPOCHREALTIME; B run --rm $BUSYBOX /bin/true; t1=$EPOCHREALTIME; ms "$t0" "$t1" >> "$DIR/bctr.rt"
  t0=$EPOCHREALTIME; C run --rm --fifo-dir "$DIR/fifo" --runc-root "$DIR/runc" $BUSYBOX rt-$i /bin/true
  t1=$EPOCHREALTIME; ms "$t0" "$t1" >> "$DIR/ctr.rt"
done

# 2. cold pull.
: > "$DIR/bctr.pull"; : > "$DIR/ctr.pull"
for i in $(seq 1 "$RUNS"); do
  B images rm --sync "$DEBIAN" >/dev/null 2>&1 || true
  C images rm --sync "$DEBIAN" >/dev/null 2>&1 || true
  sync
  t0=$EPOCHREALTIME; B pull --plain-http "$DEBIAN" >/dev/null; t1=$EPOCHREALTIME; ms "$t0" "$t1" >> "$DIR/bctr.pull"
  t0=$EPOCHREALTIME; C images pull --plain-http "$DEBIAN" >/dev/null; t1=$EPOCHREALTIME; ms "$t0" "$t1" >> "$DIR/ctr.pull"
done

br=$(median < "$DIR/bctr.rt"); cr=$(median < "$DIR/ctr.rt")
bp=$(median < "$DIR/bctr.pull"); cp=$(median < "$DIR/ctr.pull")
awk -v br="$br" -v cr="$cr" -v bp="$bp" -v cp="$cp" -v runs="$RUNS" 'BEGIN {
  printf "median of %d runs           bctr+berthd   ctr+containerd   ratio\n", runs
  printf "run --rm busybox /bin/true  %9.1f ms %13.1f ms   %.2f\n", br, cr, br / cr
  printf "cold pull of debian         %9.1f ms %13.1f ms   %.2f\n", bp, cp, bp / cp
}'
