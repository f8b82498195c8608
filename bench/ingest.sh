#!/usr/bin/env bash
# Content ingest of 1 GiB through Debian's `ctr content ingest`, berthd against containerd
# (Debian's package, a private instance on private dirs), in one run, interleaved, with
# `openssl dgst -sha256` of the same file as the limit. Prints medians and ratios, and the CPU
# time that each daemon and the client (`ctr` itself) spent per ingest.
#
#   bench/ingest.sh [RUNS]        (default 5; run as root after scripts/build.sh)
#
# Each run starts cold: the blob is removed and a synchronous garbage collection forced
# (`ctr leases rm --sync` of a fresh lease) on both daemons, so no shared-content fast path.
# Only processes this script started are stopped, by pid; nothing under /run/containerd or
# /var/lib/containerd is touched (containerd gets --root/--state/--address in $DIR).
set -euo pipefail
RUNS=${1:-5}
SRC=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BERTH_BIN:-$SRC/build/bin}
DIR=${BENCH_DIR:-/tmp/berth-bench-ingest}
SIZE=$((1 << 30))
command -v containerd >/dev/null || { echo "containerd not installed (scripts/install-deps.sh)" >&2; exit 1; }
[ -x "$BIN/berthd" ] || { echo "$BIN/berthd not built (scripts/build.sh)" >&2; exit 1; }

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$DIR"
}
trap cleanup EXIT
rm -rf "$DIR" && mkdir -p "$DIR"

source "$SRC/bench/lib.sh"
start_daemons

head -c $SIZE /dev/urandom > "$DIR/blob"
DIGEST=sha256:$(openssl dgst -sha256 -r "$DIR/blob" | cut -c1-64)
cat "$DIR/blob" > /dev/null


cold() {  # $1: socket
  ctr -a "$1" -n bench content rm "$DIGEST" >/dev/null 2>&1 || true
  ctr -a "$1" -n bench leases rm --sync "$(ctr -a "$1" -n bench leases create)" >/dev/null
}
cpu_ms() { awk '{ print ($14 + $15) * 10 }' "/proc/$1/stat"; }  # utime+stime, USER_HZ=100
ingest() {  # $1: socket, $2: run, $3: daemon pid → prints "ms daemon-cpu-ms ctr-cpu-ms"
  cold "$1"
  local t0 t1 c0 c1
  c0=$(cpu_ms "$3")
  t0=$EPOCHREALTIME
  /usr/bin/time -o "$DIR/ctr.time" -f "%U %S" \
    ctr -a "$1" -n bench content ingest --expected-size $SIZE --expected-digest "$DIGEST" \
    "bench-$2" < "$DIR/blob"
  t1=$EPOCHREALTIME
  c1=$(cpu_ms "$3")
  ctr -a "$1" -n bench content ls -q | grep -q "$DIGEST" || { echo "ingest into $1 left no blob" >&2; exit 1; }
  echo "$(ms "$t0" "$t1") $((c1 - c0)) $(awk '{ printf "%.0f", ($1 + $2) * 1000 }' "$DIR/ctr.time")"
}
col() { cut -d' ' -f"$1" "$2" | median; }  # median of column $1 of file $2

: > "$DIR/berth.ms"; : > "$DIR/ctrd.ms"; : > "$DIR/openssl.ms"
for i in $(seq 1 "$RUNS"); do
  ingest "$DIR/berth.sock" "$i" "$BERTH_PID" >> "$DIR/berth.ms"
  ingest "$DIR/ctrd.sock" "$i" "$CTRD_PID" >> "$DIR/ctrd.ms"
  t0=$EPOCHREALTIME; openssl dgst -sha256 "$DIR/blob" > /dev/null; t1=$EPOCHREALTIME; ms "$t0" "$t1" >> "$DIR/openssl.ms"
done

b=$(col 1 "$DIR/berth.ms"); c=$(col 1 "$DIR/ctrd.ms"); o=$(median < "$DIR/openssl.ms")
awk -v b="$b" -v c="$c" -v o="$o" -v runs="$RUNS" \
  -v bd="$(col 2 "$DIR/berth.ms")" -v bc="$(col 3 "$DIR/berth.ms")" \
  -v cd="$(col 2 "$DIR/ctrd.ms")" -v cc="$(col 3 "$DIR/ctrd.ms")" 'BEGIN {
  mib = 1024
  printf "ingest 1 GiB, median of %d runs\n", runs
  printf "  berth       %8.1f ms  %6.0f MiB/s\n", b, mib / (b / 1000)
  printf "  containerd  %8.1f ms  %6.0f MiB/s\n", c, mib / (c / 1000)
  printf "  openssl     %8.1f ms  %6.0f MiB/s  (hash limit)\n", o, mib / (o / 1000)
  printf "ratio berth/containerd time: %.2f (%.2fx faster)\n", b / c, c / b
  printf "berth throughput as share of the hash limit: %.0f%% (target >= 70%%)\n", 100 * o / b
  printf "containerd throughput as share of the hash limit: %.0f%%\n", 100 * o / c
  printf "CPU per ingest (user+sys, medians): berthd %d ms + ctr %d ms; containerd %d ms + ctr %d ms\n", bd, bc, cd, cc
}'
