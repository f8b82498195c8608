#!/usr/bin/env bash
# Cold pull + unpack of a realistic image (debootstrap'd Debian minbase, ~50 MB of gzip) from
# Debian's docker-registry on 127.0.0.1, through Debian's `ctr images pull`, berthd against
# containerd (Debian's package, a private instance on private dirs), in one run, interleaved.
# Floors: `gzip -dc` of the layer, and `tar -xzf` of it onto the same filesystem.
# Prints medians and ratios.
#
#   bench/pull.sh [RUNS]        (default 5; run as root after scripts/build.sh)
#
# The Debian tree is built once with debootstrap (needs the Debian mirror apt uses) and kept
# in $DEBIAN_ROOTFS (default /tmp/rootfs-debian). Before every pull the image is removed with
# `ctr images rm --sync` and the store checked to be empty (no content, no snapshots).
# Only processes this script started are stopped, by pid; nothing under /run/containerd or
# /var/lib/containerd is touched.
set -euo pipefail
RUNS=${1:-5}
SRC=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BERTH_BIN:-$SRC/build/bin}
DIR=${BENCH_DIR:-/tmp/berth-bench-pull}
ROOTFS=${DEBIAN_ROOTFS:-/tmp/rootfs-debian}
for t in containerd ctr docker-registry skopeo umoci; do
  command -v $t >/dev/null || { echo "$t not installed (scripts/install-deps.sh)" >&2; exit 1; }
done
[ -x "$BIN/berthd" ] || { echo "$BIN/berthd not built (scripts/build.sh)" >&2; exit 1; }

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for m in $(awk -v d="$DIR" '$2 ~ "^"d { print $2 }' /proc/mounts | sort -r); do umount -l "$m" || true; done
  rm -rf "$DIR"
}
trap cleanup EXIT
rm -rf "$DIR" && mkdir -p "$DIR"

source "$SRC/bench/lib.sh"
debian_oci_image "$DIR/oci"
start_registry
IMAGE=127.0.0.1:$PORT/debian:latest
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$DIR/oci:latest" "docker://$IMAGE"

start_daemons


cold() {  # $1: socket
  ctr -a "$1" -n bench images rm --sync "$IMAGE" >/dev/null 2>&1 || true
  [ -z "$(ctr -a "$1" -n bench content ls -q)" ] || { echo "$1: content left after rm --sync" >&2; exit 1; }
  [ -z "$(ctr -a "$1" -n bench snapshots ls | tail -n +2)" ] || { echo "$1: snapshots left after rm --sync" >&2; exit 1; }
  sync
}
pull() {  # $1: socket, $2: name → appends total ms to $2.ms and unpack ms to $2.unpack.ms
  cold "$1"
  local t0 t1 out
  t0=$EPOCHREALTIME
  out=$(ctr -a "$1" -n bench images pull --plain-http "$IMAGE" 2>&1) || { echo "$out" >&2; exit 1; }
  t1=$EPOCHREALTIME
  ms "$t0" "$t1" >> "$DIR/$2.ms"
  # ctr's own line: "unpacking linux/amd64 sha256:...\ndone: 1.23s" (or ms)
  echo "$out" | awk '/^done: / { v = $2; if (v ~ /ms$/) { sub("ms", "", v); print v } else { sub("s", "", v); print v * 1000 } }' >> "$DIR/$2.unpack.ms"
}

LAYER=$(ls -S "$DIR"/oci/blobs/sha256/* | head -1)
: > "$DIR/berth.ms"; : > "$DIR/ctrd.ms"; : > "$DIR/berth.unpack.ms"; : > "$DIR/ctrd.unpack.ms"
: > "$DIR/gzip.ms"; : > "$DIR/tar.ms"
for i in $(seq 1 "$RUNS"); do
  pull "$DIR/berth.sock" berth
  pull "$DIR/ctrd.sock" ctrd
  t0=$EPOCHREALTIME; gzip -dc "$LAYER" > /dev/null; t1=$EPOCHREALTIME; ms "$t0" "$t1" >> "$DIR/gzip.ms"
  rm -rf "$DIR/untar"; mkdir "$DIR/untar"; sync
  t0=$EPOCHREALTIME; tar -xzf "$LAYER" -C "$DIR/untar" 2>/dev/null; t1=$EPOCHREALTIME; ms "$t0" "$t1" >> "$DIR/tar.ms"
done

b=$(grep . "$DIR/berth.ms" | median); c=$(grep . "$DIR/ctrd.ms" | median)
bu=$(grep . "$DIR/berth.unpack.ms" | median); cu=$(grep . "$DIR/ctrd.unpack.ms" | median)
g=$(grep . "$DIR/gzip.ms" | median); t=$(grep . "$DIR/tar.ms" | median)
awk -v b="$b" -v c="$c" -v bu="$bu" -v cu="$cu" -v g="$g" -v t="$t" -v runs="$RUNS" \
    -v size="$(stat -c %s "$LAYER")" 'BEGIN {
  printf "cold pull of debian minbase (%.1f MB gzip), median of %d runs\n", size / 1e6, runs
  printf "  berth       pull %8.1f ms   unpack %8.1f ms\n", b, bu
  printf "  containerd  pull %8.1f ms   unpack %8.1f ms\n", c, cu
  printf "  floors      gzip -dc %8.1f ms   tar -xzf %8.1f ms\n", g, t
  printf "pull: berth %.2fx faster than containerd\n", c / b
  printf "unpack: berth %.2fx faster than containerd (target >= 1.5x)\n", cu / bu
  printf "unpack over the gzip -dc floor: berth %.2fx, containerd %.2fx\n", bu / g, cu / g
}'
