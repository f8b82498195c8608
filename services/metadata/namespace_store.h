#pragma once

// NamespaceStore: the namespaces of berthd. Thread-safe; each call is one transaction.
// Errors: InvalidArgument (bad name, bad label, bad update path), NotFound (unknown name),
// AlreadyExists (Create of a taken name), FailedPrecondition (Delete of a namespace that still
// holds images, containers, content, leases or snapshots; the message lists which).

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "lib/base/labels.h"
#include "services/metadata/db.h"

namespace berth::metadata {

struct Namespace {
  std::string name;
  Labels labels;
};

class NamespaceStore {
 public:
  explicit NamespaceStore(Db& db) : db_(db) {}

  absl::StatusOr<Namespace> Get(const std::string& name);
  // Sorted by name.
  absl::StatusOr<std::vector<Namespace>> List();
  absl::StatusOr<Namespace> Create(const Namespace& ns);
  // With no paths, replaces all labels. Paths: "labels" (replace all) or "labels.<key>" (set
  // that key from ns.labels, or remove it when ns.labels lacks it or has it empty).
  absl::StatusOr<Namespace> Update(const Namespace& ns, const std::vector<std::string>& paths);
  absl::Status Delete(const std::string& name);

 private:
  Db& db_;
};

// For stores that create objects: makes the namespace exist inside their transaction, as
// containerd creates a namespace on first use.
absl::Status EnsureNamespace(Tx& tx, const std::string& name);

}  // namespace berth::metadata
