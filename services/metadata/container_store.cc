#include "services/metadata/container_store.h"

#include "fmt/format.h"

#include "lib/base/identifiers.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "services/metadata/labels_json.h"
#include "services/metadata/namespace_store.h"

namespace berth::metadata {
namespace {

// The BLOB columns hold protobuf wire format, so that they read back as containerd's types:
// runtime_options and spec a google.protobuf.Any (1: type_url, 2: value), extensions the
// entries of a map<string, Any> (repeated 1: {1: key, 2: Any}). Only length-delimited fields
// occur, which is all this codec knows.
void PutField(std::string& out, int field, const std::string& bytes) {
  out.push_back(static_cast<char>((field << 3) | 2));
  uint64_t n = bytes.size();
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
  out += bytes;
}

// Calls fn(field, bytes) for each length-delimited field of `in`; Internal on anything else.
template <typename Fn>
absl::Status ForEachField(const std::string& in, Fn fn) {
  size_t i = 0;
  while (i < in.size()) {
    auto tag = static_cast<unsigned char>(in[i++]);
    if ((tag & 7) != 2)
      return Internal("metadata: stored container field is not length-delimited");
    uint64_t n = 0;
    for (int shift = 0;; shift += 7) {
      if (i >= in.size() || shift > 63)
        return Internal("metadata: stored container field is truncated");
      auto b = static_cast<unsigned char>(in[i++]);
      n |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0)
        break;
    }
    if (n > in.size() - i)
      return Internal("metadata: stored container field is truncated");
    BERTH_RETURN_IF_ERROR(fn(tag >> 3, in.substr(i, n)));
    i += n;
  }
  return absl::OkStatus();
}

std::string EncodeAny(const AnyValue& a) {
  std::string out;
  PutField(out, 1, a.type_url);
  PutField(out, 2, a.value);
  return out;
}

absl::StatusOr<AnyValue> DecodeAny(const std::string& in) {
  AnyValue a;
  BERTH_RETURN_IF_ERROR(ForEachField(in, [&](int field, std::string bytes) -> absl::Status {
    (field == 1 ? a.type_url : a.value) = std::move(bytes);
    return absl::OkStatus();
  }));
  return a;
}

std::string EncodeExtensions(const std::map<std::string, AnyValue>& ext) {
  std::string out;
  for (const auto& [key, value] : ext) {
    std::string entry;
    PutField(entry, 1, key);
    PutField(entry, 2, EncodeAny(value));
    PutField(out, 1, entry);
  }
  return out;
}

absl::StatusOr<std::map<std::string, AnyValue>> DecodeExtensions(const std::string& in) {
  std::map<std::string, AnyValue> out;
  BERTH_RETURN_IF_ERROR(ForEachField(in, [&](int, const std::string& entry) -> absl::Status {
    std::string key;
    AnyValue value;
    BERTH_RETURN_IF_ERROR(ForEachField(entry, [&](int f, const std::string& b) -> absl::Status {
      if (f == 1) {
        key = b;
        return absl::OkStatus();
      }
      BERTH_ASSIGN_OR_RETURN(value, DecodeAny(b));
      return absl::OkStatus();
    }));
    out[key] = std::move(value);
    return absl::OkStatus();
  }));
  return out;
}

constexpr char kColumns[] =
    "id, labels, image, runtime_name, runtime_options, spec, snapshotter, snapshot_key, "
    "extensions, created_at, updated_at";

absl::StatusOr<std::optional<AnyValue>> OptionalAny(const Stmt& q, int col) {
  if (q.IsNull(col))
    return std::nullopt;
  BERTH_ASSIGN_OR_RETURN(AnyValue a, DecodeAny(q.Text(col)));
  return a;
}

// One row selected with kColumns.
absl::StatusOr<Container> Read(const Stmt& q) {
  Container c;
  c.id = q.Text(0);
  BERTH_ASSIGN_OR_RETURN(c.labels, DecodeLabels(q.Text(1)));
  c.image = q.Text(2);
  c.runtime_name = q.Text(3);
  BERTH_ASSIGN_OR_RETURN(c.runtime_options, OptionalAny(q, 4));
  BERTH_ASSIGN_OR_RETURN(c.spec, OptionalAny(q, 5));
  c.snapshotter = q.Text(6);
  c.snapshot_key = q.Text(7);
  if (!q.IsNull(8)) {
    BERTH_ASSIGN_OR_RETURN(c.extensions, DecodeExtensions(q.Text(8)));
  }
  c.created_at = q.Int(9);
  c.updated_at = q.Int(10);
  return c;
}

absl::StatusOr<Container> Load(Tx& tx, const std::string& ns, const std::string& id) {
  BERTH_ASSIGN_OR_RETURN(
      Stmt q,
      tx.Query(fmt::format("SELECT {} FROM containers WHERE namespace = ? AND id = ?", kColumns)));
  q.Bind(1, ns).Bind(2, id);
  BERTH_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row)
    return NotFoundError("container", id);
  return Read(q);
}

void BindOptionalAny(Stmt& q, int i, const std::optional<AnyValue>& a) {
  if (a) {
    q.BindBlob(i, EncodeAny(*a));
  } else {
    q.BindNull(i);
  }
}

// Binds labels … updated_at to parameters first … first+9 in kColumns' order (without id).
void BindFields(Stmt& q, int first, const Container& c) {
  q.Bind(first, EncodeLabels(c.labels)).Bind(first + 1, c.image).Bind(first + 2, c.runtime_name);
  BindOptionalAny(q, first + 3, c.runtime_options);
  BindOptionalAny(q, first + 4, c.spec);
  q.Bind(first + 5, c.snapshotter).Bind(first + 6, c.snapshot_key);
  q.BindBlob(first + 7, EncodeExtensions(c.extensions));
  q.Bind(first + 8, c.created_at).Bind(first + 9, c.updated_at);
}

absl::Status ApplyPath(const Container& in, const std::string& path, Container& cur) {
  if (path.starts_with("labels.")) {
    std::string key = path.substr(7);
    auto it = in.labels.find(key);
    if (it == in.labels.end() || it->second.empty()) {
      cur.labels.erase(key);
    } else {
      cur.labels[key] = it->second;
    }
  } else if (path.starts_with("extensions.")) {
    std::string key = path.substr(11);
    auto it = in.extensions.find(key);
    if (it == in.extensions.end()) {
      cur.extensions.erase(key);
    } else {
      cur.extensions[key] = it->second;
    }
  } else if (path == "labels") {
    cur.labels = in.labels;
  } else if (path == "spec") {
    cur.spec = in.spec;
  } else if (path == "extensions") {
    cur.extensions = in.extensions;
  } else if (path == "image") {
    cur.image = in.image;
  } else if (path == "snapshotkey") {
    cur.snapshot_key = in.snapshot_key;
  } else {
    return InvalidArgument(fmt::format("container {:?}: cannot update field {:?}", in.id, path));
  }
  return absl::OkStatus();
}

absl::Status ApplyContainerPaths(const Container& in, std::vector<std::string> paths,
                                 Container& cur) {
  if (paths.empty()) {
    paths = {"labels", "spec", "extensions", "image", "snapshotkey"};
    if (in.snapshotter != cur.snapshotter) {
      return InvalidArgument(
          fmt::format("container {:?}: the snapshotter field is immutable", in.id));
    }
    if (in.runtime_name != cur.runtime_name) {
      return InvalidArgument(
          fmt::format("container {:?}: the runtime name field is immutable", in.id));
    }
  }
  for (const std::string& p : paths) BERTH_RETURN_IF_ERROR(ApplyPath(in, p, cur));
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateContainer(const Container& c) {
  BERTH_RETURN_IF_ERROR(ValidateIdentifier("container", c.id));
  std::string object = fmt::format("container {:?}", c.id);
  for (const auto& [key, value] : c.extensions) {
    if (key.empty())
      return InvalidArgument(object + ": extension keys must not be empty");
  }
  BERTH_RETURN_IF_ERROR(Annotate(ValidateLabels(c.labels), object));
  if (c.runtime_name.empty())
    return InvalidArgument(object + ": the runtime name must be set");
  if (!c.spec)
    return InvalidArgument(object + ": the spec must be set");
  if (!c.snapshot_key.empty() && c.snapshotter.empty()) {
    return InvalidArgument(object + ": the snapshotter must be set with a snapshot key");
  }
  return absl::OkStatus();
}

absl::StatusOr<Container> ContainerStore::Get(const std::string& ns, const std::string& id) {
  Container out;
  BERTH_RETURN_IF_ERROR(db_.View([&](Tx& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(out, Load(tx, ns, id));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<Container>> ContainerStore::List(const std::string& ns) {
  std::vector<Container> out;
  BERTH_RETURN_IF_ERROR(db_.View([&](Tx& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(
        Stmt q, tx.Query(fmt::format("SELECT {} FROM containers WHERE namespace = ? ORDER BY id",
                                     kColumns)));
    q.Bind(1, ns);
    return ForEachRow(q, [&](Stmt& r) -> absl::Status {
      BERTH_ASSIGN_OR_RETURN(Container c, Read(r));
      out.push_back(std::move(c));
      return absl::OkStatus();
    });
  }));
  return out;
}

absl::StatusOr<std::vector<std::string>> ContainerStore::NamespacesOf(const std::string& id) {
  std::vector<std::string> out;
  BERTH_RETURN_IF_ERROR(db_.View([&](Tx& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(
        Stmt q, tx.Query("SELECT namespace FROM containers WHERE id = ? ORDER BY namespace"));
    q.Bind(1, id);
    return ForEachRow(q, [&](Stmt& r) -> absl::Status {
      out.push_back(r.Text(0));
      return absl::OkStatus();
    });
  }));
  return out;
}

absl::StatusOr<Container> ContainerStore::Create(const std::string& ns, Container container) {
  BERTH_RETURN_IF_ERROR(ValidateContainer(container));
  container.created_at = container.updated_at = NowNanos();
  BERTH_RETURN_IF_ERROR(db_.Update([&](Tx& tx) -> absl::Status {
    BERTH_RETURN_IF_ERROR(EnsureNamespace(tx, ns));
    BERTH_ASSIGN_OR_RETURN(
        Stmt q, tx.Query(fmt::format("INSERT OR IGNORE INTO containers (namespace, {}) VALUES "
                                     "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                     kColumns)));
    q.Bind(1, ns).Bind(2, container.id);
    BindFields(q, 3, container);
    BERTH_RETURN_IF_ERROR(q.Run());
    if (tx.Changes() == 0)
      return AlreadyExistsError("container", container.id);
    return absl::OkStatus();
  }));
  return container;
}

absl::StatusOr<Container> ContainerStore::Update(const std::string& ns, const Container& container,
                                                 const std::vector<std::string>& paths) {
  if (container.id.empty())
    return InvalidArgument("container id must not be empty");
  Container cur;
  BERTH_RETURN_IF_ERROR(db_.Update([&](Tx& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(cur, Load(tx, ns, container.id));
    BERTH_RETURN_IF_ERROR(ApplyContainerPaths(container, paths, cur));
    BERTH_RETURN_IF_ERROR(ValidateContainer(cur));
    cur.updated_at = NowNanos();
    BERTH_ASSIGN_OR_RETURN(
        Stmt q, tx.Query("UPDATE containers SET labels = ?, image = ?, runtime_name = ?, "
                         "runtime_options = ?, spec = ?, snapshotter = ?, snapshot_key = ?, "
                         "extensions = ?, created_at = ?, updated_at = ? "
                         "WHERE namespace = ? AND id = ?"));
    BindFields(q, 1, cur);
    q.Bind(11, ns).Bind(12, cur.id);
    return q.Run();
  }));
  return cur;
}

absl::StatusOr<Container> ContainerStore::Delete(const std::string& ns, const std::string& id) {
  Container out;
  BERTH_RETURN_IF_ERROR(db_.Update([&](Tx& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(
        Stmt q,
        tx.Query(fmt::format("DELETE FROM containers WHERE namespace = ? AND id = ? RETURNING {}",
                             kColumns)));
    q.Bind(1, ns).Bind(2, id);
    BERTH_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row)
      return NotFoundError("container", id);
    BERTH_ASSIGN_OR_RETURN(out, Read(q));
    return q.Run();  // steps to the statement's end, which makes the deletion
  }));
  return out;
}

}  // namespace berth::metadata
