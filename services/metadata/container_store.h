#pragma once

// ContainerStore: container records by (namespace, id), as containerd's metadata containers
// store keeps them: labels, image, runtime name and options, the OCI spec, snapshotter and
// snapshot key, extensions. A container is a GC root for its snapshot (services/gc reads the
// table). Thread-safe; each call is one transaction.
// Errors: InvalidArgument (bad id, labels or extension key, no runtime name, no spec, a
// snapshot key without a snapshotter, a bad or immutable update path), NotFound,
// AlreadyExists (Create of a taken id).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "lib/base/labels.h"
#include "services/metadata/db.h"

namespace berth::metadata {

// A google.protobuf.Any kept as its two fields, so the store needs no protobuf types.
struct AnyValue {
  std::string type_url;
  std::string value;

  bool operator==(const AnyValue&) const = default;
};

struct Container {
  std::string id;
  Labels labels;
  std::string image;
  std::string runtime_name;
  std::optional<AnyValue> runtime_options;
  std::optional<AnyValue> spec;  // required; the OCI spec as JSON in an Any
  std::string snapshotter;
  std::string snapshot_key;
  std::map<std::string, AnyValue> extensions;
  int64_t created_at = 0;  // nanoseconds since the Unix epoch
  int64_t updated_at = 0;
};

class ContainerStore {
 public:
  explicit ContainerStore(Db& db) : db_(db) {}

  absl::StatusOr<Container> Get(const std::string& ns, const std::string& id);
  absl::StatusOr<std::vector<Container>> List(const std::string& ns);  // by id
  // The namespaces that have a container `id`, in order.
  absl::StatusOr<std::vector<std::string>> NamespacesOf(const std::string& id);
  // Creates the namespace when it does not exist yet.
  absl::StatusOr<Container> Create(const std::string& ns, Container container);
  // Paths: "labels", "labels.<key>", "spec", "extensions", "extensions.<key>", "image",
  // "snapshotkey". No paths replaces all five; then the runtime name and the snapshotter must
  // equal the stored ones (they are immutable). Returns the updated record.
  absl::StatusOr<Container> Update(const std::string& ns, const Container& container,
                                   const std::vector<std::string>& paths);
  // Returns the record as it was, for what goes with it (meta::RemoveOwnedFiles).
  absl::StatusOr<Container> Delete(const std::string& ns, const std::string& id);

 private:
  Db& db_;
};

// The checks Create and Update apply (containerd's validateContainer).
absl::Status ValidateContainer(const Container& c);

}  // namespace berth::metadata
