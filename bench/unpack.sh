#!/usr/bin/env bash
# Layer unpack: berth's archive::ApplyLayer (overlay whiteouts, as the overlay snapshotter
# applies) against `gzip -dc layer | tar -x`, both into fresh directories on the same
# filesystem, interleaved; `gzip -dc layer >/dev/null` as the decompression floor.
# Prints medians and ratios.
#
#   bench/unpack.sh [RUNS]          (default 5; run as root after scripts/build.sh)
#
# The layer is built on the fly: a tar of $LAYER_SRC (default: parts of /usr with a realistic
# mix of small and large files), gzip -6. Override with LAYER=<existing .tar.gz>.
# Everything lives in $BENCH_DIR (default /tmp/berth-bench-unpack) and is removed at the end;
# BENCH_DIR=/dev/shm/... measures on tmpfs, without the disk filesystem's inode allocation.
set -euo pipefail
RUNS=${1:-5}
SRC=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BERTH_BIN:-$SRC/build/bin}
DIR=${BENCH_DIR:-/tmp/berth-bench-unpack}
LAYER_SRC=${LAYER_SRC:-"usr/include usr/lib/python3 usr/share/perl usr/share/zoneinfo usr/share/i18n usr/share/man usr/sbin"}
[ -x "$BIN/berth-unpack-bench" ] || { echo "$BIN/berth-unpack-bench not built (scripts/build.sh)" >&2; exit 1; }

cleanup() { rm -rf "$DIR"; }
trap cleanup EXIT
rm -rf "$DIR" && mkdir -p "$DIR"

if [ -z "${LAYER:-}" ]; then
  LAYER=$DIR/layer.tar.gz
  # shellcheck disable=SC2086  # a list of paths
  tar -C / --numeric-owner -cf - $LAYER_SRC 2>/dev/null | gzip -6 > "$LAYER"
fi
files=$(gzip -dc "$LAYER" | tar -tf - | wc -l)
usize=$(gzip -dc "$LAYER" | wc -c)
echo "layer: $(du -m "$LAYER" | cut -f1) MB gzip, $((usize >> 20)) MB tar, $files entries"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", b - a }'; }
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# A new directory per run, and nothing deleted until the end: ext4 skips recently deleted
# inodes when allocating (recently_deleted(), a 30 s window), which made creates after an
# `rm -rf` of the previous run several times slower and the numbers depend on the order.
fresh() { out=$DIR/out.$1; mkdir -p "$out" && sync; }

: > "$DIR/berth.t"; : > "$DIR/tar.t"; : > "$DIR/gzip.t"
cat "$LAYER" > /dev/null  # the layer file itself is read from the page cache in every run
for i in $(seq 1 "$RUNS"); do
  fresh "$i.berth"
  res=$("$BIN/berth-unpack-bench" "$LAYER" "$out")
  echo "$res" | sed -n 's/^seconds=\([0-9.]*\).*/\1/p' >> "$DIR/berth.t"
  [ "$i" = 1 ] && echo "berth: ${res#* }"
  berth_files=$(find "$out" | wc -l)

  fresh "$i.tar"
  t0=$EPOCHREALTIME; gzip -dc "$LAYER" | tar -x -C "$out"; t1=$EPOCHREALTIME
  elapsed "$t0" "$t1" >> "$DIR/tar.t"
  tar_files=$(find "$out" | wc -l)
  [ "$berth_files" = "$tar_files" ] || echo "warning: berth wrote $berth_files paths, tar $tar_files" >&2

  t0=$EPOCHREALTIME; gzip -dc "$LAYER" > /dev/null; t1=$EPOCHREALTIME
  elapsed "$t0" "$t1" >> "$DIR/gzip.t"
  echo "run $i: berth $(tail -1 "$DIR/berth.t") s, gzip|tar $(tail -1 "$DIR/tar.t") s, gzip -dc $(tail -1 "$DIR/gzip.t") s"
done

b=$(median < "$DIR/berth.t"); t=$(median < "$DIR/tar.t"); g=$(median < "$DIR/gzip.t")
echo "median of $RUNS: berth ApplyLayer ${b} s, gzip -dc | tar -x ${t} s, gzip -dc >/dev/null ${g} s"
awk -v b="$b" -v t="$t" -v g="$g" \
  'BEGIN { printf "ratio: gzip|tar / berth = %.2fx; berth / gzip -dc floor = %.2fx\n", t / b, b / g }'
