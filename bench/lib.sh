# Shared by the bench scripts (sourced): a private containerd and a private berthd side by
# side under $DIR, a local registry with a Debian image, and the timing helpers. Expects DIR,
# BIN and a `pids` array; sets CTRD_PID and BERTH_PID and appends both to `pids`, so the
# script's cleanup stops them by pid.

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

# debian_oci_image OUT: an OCI layout at OUT (tag latest) with Debian minbase in one layer,
# Cmd bash. The debootstrap tree is built once (needs the Debian mirror apt uses) and kept in
# $ROOTFS (set by the caller; default /tmp/rootfs-debian).
debian_oci_image() {
  local out=$1 rootfs=${ROOTFS:-/tmp/rootfs-debian}
  if [ ! -x "$rootfs/usr/bin/bash" ]; then
    command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
    rm -rf "$rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$DIR/debootstrap.log" 2>&1 ||
      { tail -20 "$DIR/debootstrap.log" >&2; echo "debootstrap failed" >&2; exit 1; }
    rm -rf "$rootfs"/dev/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
  fi
  umoci init --layout "$out" && umoci new --image "$out:latest"
  umoci insert --image "$out:latest" "$rootfs" / >/dev/null
  umoci config --image "$out:latest" --config.cmd bash
}

# start_registry: Debian's docker-registry on 127.0.0.1:$PORT (a free port, set here), storage
# under $DIR/registry; appends its pid to `pids`.
start_registry() {
  PORT=$(comm -23 <(seq 20000 20999) <(ss -Htln | awk '{ sub(".*:", "", $4); print $4 }' | sort -n) | shuf -n 1)
  cat > "$DIR/registry.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $DIR/registry
http:
  addr: 127.0.0.1:$PORT
YML
  docker-registry serve "$DIR/registry.yml" > "$DIR/registry.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.05; done
}

# Timings read $EPOCHREALTIME directly, as the anchor's scripts: a $(...) would fork a subshell
# inside the timed span (milliseconds on this VM).
# ms T0 T1: the milliseconds between two $EPOCHREALTIME readings, one per line.
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# quantile Q: the value at fraction Q (0..1) of the sorted numbers on stdin (nearest rank).
quantile() { sort -n | awk -v q="$1" '{ v[NR] = $1 } END { i = int(q * NR + 0.5); print v[i < 1 ? 1 : i] }'; }
