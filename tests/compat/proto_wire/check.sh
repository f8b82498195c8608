#!/usr/bin/env bash
# Checks that our .proto files are wire-compatible with containerd's.
#
#   check.sh <our proto root> [containerd sources, default $BERTH_CONTAINERD_SRC or
#            /usr/share/gocode/src/github.com/containerd]
#
# The reference protos (containerd/api, runc options, the task v2 shim API, cgroups stats)
# carry gogoproto options and github.com import paths; a scratch copy is stripped and
# re-rooted so protoc compiles it. Both sides become FileDescriptorSets, decoded to text,
# and for every message, enum and service in the reference packages we compare full
# names, field name/number/label/type/type_name/oneof, enum values, rpc input/output and
# streaming, and the file syntax. Options, comments, json_name and file names are ignored.
# Ours may not add to a reference package either. containerd.task.v2 is compared to our
# berth.shim.v1 (service Task -> Shim), where ours may add (the Events stream).
# One field is renamed on purpose (see FIELD_RENAMES below); everything else about it is
# still compared.
#
# Exit: 0 equal, 1 differences, 2 broken setup, 77 reference not installed (ctest skip).
set -euo pipefail

ours=${1:?usage: check.sh <our proto root> [containerd source dir]}
src=${2:-${BERTH_CONTAINERD_SRC:-/usr/share/gocode/src/github.com/containerd}}
api=$src/containerd/api
[[ -d $ours ]] || { echo "proto wire check: $ours is not a directory" >&2; exit 2; }

if [[ ! -d $api ]]; then
  echo "proto wire check: SKIP, reference protos not found at $api" >&2
  exit 77
fi
for tool in protoc; do
  command -v "$tool" >/dev/null || { echo "proto wire check: $tool not found" >&2; exit 2; }
done
python=/usr/bin/python3
[[ -x $python ]] || python=$(command -v python3 || true)
[[ -n $python ]] || { echo "proto wire check: python3 not found" >&2; exit 2; }

# The directory holding google/protobuf/descriptor.proto (well-known types).
wkt=
for d in /usr/include /usr/local/include; do
  [[ -f $d/google/protobuf/descriptor.proto ]] && { wkt=$d; break; }
done
[[ -n $wkt ]] || { echo "proto wire check: google/protobuf/descriptor.proto not found" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ref=$tmp/ref

# copy_ref <source file> <destination relative to $ref>: strip gogoproto / fieldpath
# imports and options and go_package, rewrite containerd's import paths to ours.
copy_ref() {
  local from=$1 to=$ref/$2
  [[ -f $from ]] || { echo "proto wire check: reference file missing: $from" >&2; exit 2; }
  mkdir -p "$(dirname "$to")"
  sed -E \
    -e '/^[[:space:]]*import[[:space:]]+(weak[[:space:]]+)?"gogoproto\/gogo.proto";/d' \
    -e '/^[[:space:]]*import[[:space:]]+(weak[[:space:]]+)?"github.com\/containerd\/containerd\/protobuf\/plugin\/[a-z]+.proto";/d' \
    -e '/^[[:space:]]*option[[:space:]]*\((gogoproto|containerd\.plugin)\.[a-z_]+\)[[:space:]]*=[^;]*;/d' \
    -e '/^[[:space:]]*option[[:space:]]+go_package[[:space:]]*=/d' \
    -e 's/\[[^]]*\((gogoproto|containerd\.plugin)\.[^]]*\]//g' \
    -e 's#"github.com/containerd/containerd/api/#"containerd/#g' \
    "$from" >"$to"
  if grep -nE 'gogoproto|containerd\.plugin|"github\.com/' "$to" >&2; then
    echo "proto wire check: could not strip $from (see lines above)" >&2
    exit 2
  fi
}

while IFS= read -r f; do
  rel=${f#"$api"/}
  case $rel in services/ttrpc/*) continue ;; esac
  copy_ref "$f" "containerd/$rel"
done < <(find "$api" -name '*.proto' | sort)
copy_ref "$src/containerd/runtime/v2/runc/options/oci.proto" containerd/runc/options/oci.proto
copy_ref "$src/containerd/runtime/v2/task/shim.proto" containerd/task/v2/shim.proto
copy_ref "$src/cgroups/stats/v1/metrics.proto" containerd/cgroups/v1/metrics.proto
copy_ref "$src/cgroups/v2/stats/metrics.proto" containerd/cgroups/v2/metrics.proto
# google.rpc.Status: gogo's googleapis copy when installed, else ours (then only imported).
gogo_status=$src/../gogo/googleapis/google/rpc/status.proto
if [[ -f $gogo_status ]]; then
  copy_ref "$gogo_status" google/rpc/status.proto
elif [[ -f $ours/google/rpc/status.proto ]]; then
  mkdir -p "$ref/google/rpc"
  cp "$ours/google/rpc/status.proto" "$ref/google/rpc/"
fi

compile() {  # compile <root> <out.txt>
  local root=$1 out=$2 files
  mapfile -t files < <(cd "$root" && find . -name '*.proto' | sed 's#^\./##' | sort)
  ((${#files[@]})) || { echo "proto wire check: no .proto files under $root" >&2; exit 2; }
  protoc -I"$root" -I"$wkt" --include_imports --descriptor_set_out="$out.pb" "${files[@]}" ||
    { echo "proto wire check: protoc failed on $root" >&2; exit 2; }
  protoc -I"$wkt" --decode=google.protobuf.FileDescriptorSet google/protobuf/descriptor.proto \
    <"$out.pb" >"$out" || { echo "proto wire check: decode failed" >&2; exit 2; }
}
compile "$ref" "$tmp/ref.txt"
compile "$ours" "$tmp/ours.txt"

"$python" -I - "$tmp/ref.txt" "$tmp/ours.txt" <<'PY'
import sys

# Reference package -> (our package, {reference service: our service}); ours may add there.
MAPPED = {"containerd.task.v2": ("berth.shim.v1", {"Task": "Shim"})}
# (message, our field name) -> reference field name. Only for names protoc's C++ generator
# cannot emit: "requires" is a C++20 keyword that protobuf 3.21 does not escape. The wire
# (number, type) and the JSON name are unchanged.
FIELD_RENAMES = {("containerd.services.introspection.v1.Plugin", "requires_"): "requires"}


def parse(path):
    """Parses protoc's text format into nested dicts of lists."""
    root = {}
    stack = [root]
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            if line == "}":
                stack.pop()
            elif line.endswith("{"):
                node = {}
                stack[-1].setdefault(line[:-1].strip(), []).append(node)
                stack.append(node)
            else:
                key, _, value = line.partition(": ")
                stack[-1].setdefault(key, []).append(value.strip('"'))
    return root


def one(node, key, default=""):
    return node.get(key, [default])[0]


def facts(path):
    """Returns {package: {message/enum/service full name: set of fact lines}}, files."""
    out = {}
    files = {}
    for fd in parse(path).get("file", []):
        name, pkg = one(fd, "name"), one(fd, "package")
        if name.startswith("google/protobuf/"):
            continue
        syntax = one(fd, "syntax", "proto2")
        files[name] = pkg
        by_pkg = out.setdefault(pkg, {})

        def enum(e, scope):
            full = scope + "." + one(e, "name")
            s = by_pkg.setdefault(full, set())
            s.add("enum")
            for v in e.get("value", []):
                s.add("value %s = %s" % (one(v, "name"), one(v, "number")))

        def message(m, scope):
            full = scope + "." + one(m, "name")
            s = by_pkg.setdefault(full, set())
            s.add("message " + syntax)
            for fl in m.get("field", []):
                fname = FIELD_RENAMES.get((full, one(fl, "name")), one(fl, "name"))
                s.add("field %s = %s %s %s %s oneof=%s opt3=%s" % (
                    fname, one(fl, "number"), one(fl, "label"), one(fl, "type"),
                    one(fl, "type_name", "-"), one(fl, "oneof_index", "-"),
                    one(fl, "proto3_optional", "false")))
            for i, o in enumerate(m.get("oneof_decl", [])):
                s.add("oneof %d %s" % (i, one(o, "name")))
            for n in m.get("nested_type", []):
                message(n, full)
            for e in m.get("enum_type", []):
                enum(e, full)

        for m in fd.get("message_type", []):
            message(m, pkg)
        for e in fd.get("enum_type", []):
            enum(e, pkg)
        for sv in fd.get("service", []):
            full = pkg + "." + one(sv, "name")
            s = by_pkg.setdefault(full, set())
            s.add("service")
            for r in sv.get("method", []):
                s.add("rpc %s(%s%s) returns (%s%s)" % (
                    one(r, "name"),
                    "stream " if one(r, "client_streaming", "false") == "true" else "",
                    one(r, "input_type"),
                    "stream " if one(r, "server_streaming", "false") == "true" else "",
                    one(r, "output_type")))
    return out, files


ref, ref_files = facts(sys.argv[1])
ours, _ = facts(sys.argv[2])

diffs = []
messages = 0
for pkg in sorted(ref):
    ours_pkg, renames = MAPPED.get(pkg, (pkg, {}))
    subset = pkg in MAPPED

    def to_ref(text):
        text = text.replace("." + ours_pkg + ".", "." + pkg + ".")
        for r, o in renames.items():
            text = text.replace(pkg + "." + o, pkg + "." + r)
        return text

    mine = {to_ref(pkg + k[len(ours_pkg):]): {to_ref(x) for x in v}
            for k, v in ours.get(ours_pkg, {}).items()}
    for name in sorted(ref[pkg]):
        want = ref[pkg][name]
        if "message proto3" in want or "message proto2" in want:
            messages += 1
        have = mine.get(name)
        if have is None:
            diffs.append("missing in ours: %s" % name)
            continue
        for x in sorted(want - have):
            diffs.append("%s: reference has: %s" % (name, x))
        if not subset:
            for x in sorted(have - want):
                diffs.append("%s: ours has:      %s" % (name, x))
    if not subset:
        for name in sorted(set(mine) - set(ref[pkg])):
            diffs.append("extra in ours: %s" % name)

for d in diffs:
    print("  " + d)
print("proto wire check: %d files, %d messages compared, %d differences"
      % (len(ref_files), messages, len(diffs)))
sys.exit(1 if diffs else 0)
PY
