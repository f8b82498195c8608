# Shared by the bench scripts (sourced): a private containerd and a private berthd side by
# side under $DIR, and the timing helpers. Expects DIR, BIN and a `pids` array; sets CTRD_PID
# and BERTH_PID and appends both to `pids`, so the script's cleanup stops them by pid.

# start_daemons: containerd at $DIR/ctrd.sock (root, state and opt under $DIR/ctrd) and berthd
# at $DIR/berth.sock (under $DIR/berth); returns once both answer `ctr version`.
start_daemons() {
  cat > "$DIR/containerd.toml" <<TOML
version = 2
root = "$DIR/ctrd/root"
state = "$DIR/ctrd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$DIR/ctrd.sock"
[ttrpc]
  address = "$DIR/ctrd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$DIR/ctrd/opt"
TOML
  containerd --config "$DIR/containerd.toml" > "$DIR/containerd.log" 2>&1 &
  CTRD_PID=$!
  pids+=("$CTRD_PID")
  "$BIN/berthd" --root "$DIR/berth/root" --state "$DIR/berth/state" --address "$DIR/berth.sock" \
    > "$DIR/berthd.log" 2>&1 &
  BERTH_PID=$!
  pids+=("$BERTH_PID")
  local s
  for s in ctrd berth; do
    for _ in $(seq 1 200); do ctr -a "$DIR/$s.sock" version >/dev/null 2>&1 && break; sleep 0.05; done
    ctr -a "$DIR/$s.sock" version >/dev/null 2>&1 || { echo "$s did not start; see $DIR/*.log" >&2; exit 1; }
  done
}

now() { echo "$EPOCHREALTIME"; }
# ms T0 T1: the milliseconds between two `now` readings, one per line.
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
