#!/usr/bin/env bash
# Containers through Debian's `ctr`, berthd + berth-shim against containerd 1.6 + runc (Debian's
# packages, a private containerd on private dirs), same client, in one run:
#   - `ctr run --rm IMAGE id /bin/true` latency, in alternating blocks of back-to-back runs,
#     medians;
#   - 50 detached starts (`ctr run -d ... sleep 3600`), total time;
#   - per-shim PSS and RSS with 50 running (/proc/PID/smaps_rollup), daemon RSS idle and with 50;
#   - teardown of the 50 (kill, tasks delete, containers delete).
# Prints the figures and berth/containerd ratios.
#
#   bench/run.sh [RUNS]        (default 20 latency runs; run as root after scripts/build.sh)
#
# Only processes this script started (and the shims of its daemons, found by their daemon's
# socket in their command line) are stopped, by pid; nothing under /run/containerd or
# /var/lib/containerd is touched (containerd gets --root/--state/--address, runc --root and
# ctr --fifo-dir under $DIR).
set -euo pipefail
RUNS=${1:-20}
N=${DENSITY:-50}
SRC=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BERTH_BIN:-$SRC/build/bin}
DIR=${BENCH_DIR:-/tmp/berth-bench-run}
for t in containerd ctr runc; do
  command -v $t >/dev/null || { echo "$t not installed (scripts/install-deps.sh)" >&2; exit 1; }
done
[ -x "$BIN/berthd" ] || { echo "$BIN/berthd not built (scripts/build.sh)" >&2; exit 1; }

pids=()
cleanup() {
  set +e
  for s in berth ctrd; do
    for id in $(ctr -a "$DIR/$s.sock" -n bench tasks ls -q 2>/dev/null); do
      ctr -a "$DIR/$s.sock" -n bench tasks kill -s SIGKILL "$id" >/dev/null 2>&1
    done
    sleep 0.5
    for id in $(ctr -a "$DIR/$s.sock" -n bench containers ls -q 2>/dev/null); do
      ctr -a "$DIR/$s.sock" -n bench tasks delete "$id" >/dev/null 2>&1
      ctr -a "$DIR/$s.sock" -n bench containers rm "$id" >/dev/null 2>&1
    done
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  for m in $(awk -v d="$DIR" '$2 ~ "^"d { print $2 }' /proc/mounts | sort -r); do umount -l "$m"; done
  rm -rf "$DIR"
}
trap cleanup EXIT
rm -rf "$DIR" && mkdir -p "$DIR"/fifo-berth "$DIR"/fifo-ctrd "$DIR"/runc

source "$SRC/bench/lib.sh"
start_daemons

bash "$SRC/tests/fixtures/make-images.sh" "$DIR/images" >/dev/null
IMAGE=docker.io/library/busybox:latest
for s in berth ctrd; do
  ctr -a "$DIR/$s.sock" -n bench images import "$DIR/images/busybox.docker.tar" >/dev/null
done

declare -A RUN_ARGS=([berth]="--fifo-dir $DIR/fifo-berth" [ctrd]="--fifo-dir $DIR/fifo-ctrd --runc-root $DIR/runc")
C() { local s=$1; shift; ctr -a "$DIR/$s.sock" -n bench "$@"; }
rss_kb() { awk '/^Rss:/ { print $2 }' "/proc/$1/smaps_rollup"; }
pss_kb() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup"; }
shims() {  # $1: berth|ctrd → pids of that daemon's shims serving a task (not berthd's spare)
  local pat
  if [ "$1" = berth ]; then pat="berth-shim"; else pat="containerd-shim-runc-v2"; fi
  for p in /proc/[0-9]*; do
    { tr '\0' ' ' < "$p/cmdline"; } 2>/dev/null | grep -v -- "--spare" |
      grep -q "^[^ ]*$pat .*$DIR/$1.sock" && basename "$p"
  done
  return 0
}

# 1. run --rm latency. As the anchor's bench-run.sh timed containerd (runs back to back), in
# blocks of BLOCK runs (default 5) per daemon, the blocks alternating, so that slow drifts of
# this VM hit both alike; the first run of each block is not counted (it pays for what the
# other daemon left running: shim exits, GC, unmounts).
BLOCK=${BLOCK:-5}
WARMUP=${WARMUP:-10}  # runs per daemon first, not counted: both reach their steady state
for s in berth ctrd; do
  for i in $(seq 1 "$WARMUP"); do C $s run --rm ${RUN_ARGS[$s]} $IMAGE warm-$s-$i /bin/true; done
done
: > "$DIR/berth.rt"; : > "$DIR/ctrd.rt"
for b in $(seq 1 $(((RUNS + BLOCK - 1) / BLOCK))); do
  for s in berth ctrd; do
    for i in $(seq 0 "$BLOCK"); do
      t0=$EPOCHREALTIME; C $s run --rm ${RUN_ARGS[$s]} $IMAGE rt-$s-$b-$i /bin/true; t1=$EPOCHREALTIME
      [ "$i" -gt 0 ] && ms "$t0" "$t1" >> "$DIR/$s.rt"
    done
  done
done

# 2. density: N detached, memory, teardown.
declare -A start idle_rss busy_rss shim_rss shim_pss nshims teardown
for s in berth ctrd; do
  dpid=$BERTH_PID; [ $s = ctrd ] && dpid=$CTRD_PID
  idle_rss[$s]=$(rss_kb $dpid)
  t0=$EPOCHREALTIME
  for i in $(seq 1 "$N"); do C $s run -d ${RUN_ARGS[$s]} $IMAGE d-$s-$i sleep 3600 >/dev/null; done
  t1=$EPOCHREALTIME; start[$s]=$(ms "$t0" "$t1")
  sleep 1
  busy_rss[$s]=$(rss_kb $dpid)
  sp=$(shims $s)
  nshims[$s]=$(echo "$sp" | grep -c . || true)
  shim_rss[$s]=$(for p in $sp; do rss_kb "$p"; done | awk '{ t += $1 } END { printf "%.0f", t / NR }')
  shim_pss[$s]=$(for p in $sp; do pss_kb "$p"; done | awk '{ t += $1 } END { printf "%.0f", t / NR }')
  t0=$EPOCHREALTIME
  for i in $(seq 1 "$N"); do C $s tasks kill -s SIGKILL d-$s-$i; done
  for i in $(seq 1 "$N"); do
    for _ in 1 2 3 4 5 6 7 8 9 10; do C $s tasks delete d-$s-$i >/dev/null 2>&1 && break; sleep 0.1; done
  done
  for i in $(seq 1 "$N"); do C $s containers rm d-$s-$i; done
  t1=$EPOCHREALTIME; teardown[$s]=$(ms "$t0" "$t1")
done

b=$(median < "$DIR/berth.rt"); c=$(median < "$DIR/ctrd.rt")
spread() { echo "$(quantile 0.25 < "$1") $(quantile 0.75 < "$1") $(quantile 0.9 < "$1")"; }
read -r b25 b75 b90 <<< "$(spread "$DIR/berth.rt")"
read -r c25 c75 c90 <<< "$(spread "$DIR/ctrd.rt")"
awk -v b="$b" -v c="$c" -v runs="$RUNS" -v n="$N" \
    -v b25="$b25" -v b75="$b75" -v b90="$b90" -v c25="$c25" -v c75="$c75" -v c90="$c90" \
    -v bs="${start[berth]}" -v cs="${start[ctrd]}" \
    -v bt="${teardown[berth]}" -v ct="${teardown[ctrd]}" \
    -v bn="${nshims[berth]}" -v cn="${nshims[ctrd]}" \
    -v brss="${shim_rss[berth]}" -v crss="${shim_rss[ctrd]}" \
    -v bpss="${shim_pss[berth]}" -v cpss="${shim_pss[ctrd]}" \
    -v bi="${idle_rss[berth]}" -v ci="${idle_rss[ctrd]}" \
    -v bb="${busy_rss[berth]}" -v cb="${busy_rss[ctrd]}" '
# The ratio to three places and whether it meets the target (unrounded: 0.351 misses 0.35).
function against(r, target) {
  return sprintf("%.3f (<= %s: %s)", r, target, r <= target ? "met" : "NOT met")
}
BEGIN {
  printf "                                berth     containerd   ratio (target)\n"
  printf "run --rm /bin/true, median of %d  %7.1f ms %9.1f ms   %s\n", runs, b, c, against(b / c, 0.35)
  printf "  p25 / p75 / p90   %5.1f / %.1f / %.1f ms  %5.1f / %.1f / %.1f ms\n", b25, b75, b90, c25, c75, c90
  printf "%d detached starts             %7.0f ms %9.0f ms   %.2f\n", n, bs, cs, bs / cs
  printf "shims running                   %7d    %9d\n", bn, cn
  printf "per-shim PSS                    %7.0f kB %8.0f kB   %s\n", bpss, cpss, against(bpss / cpss, 0.4)
  printf "per-shim RSS                    %7.0f kB %8.0f kB   %s\n", brss, crss, against(brss / crss, 0.4)
  printf "daemon RSS idle                 %7.0f kB %8.0f kB   %.2f\n", bi, ci, bi / ci
  printf "daemon RSS with %d running      %7.0f kB %8.0f kB   %.2f\n", n, bb, cb, bb / cb
  printf "teardown of %d                  %7.0f ms %9.0f ms   %.2f\n", n, bt, ct, bt / ct
}'
