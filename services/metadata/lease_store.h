#pragma once

// LeaseStore: leases by (namespace, id) and the resources they hold (containerd's types:
// "content" with a digest id, "ingests" with a ref, "snapshots/<snapshotter>" with a key).
// The garbage collector treats everything a lease holds as live until the lease is deleted
// or its containerd.io/gc.expire label has passed. Thread-safe; one transaction per call.
// Errors: InvalidArgument (bad id, labels or resource), NotFound, AlreadyExists.

#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "lib/base/labels.h"
#include "services/metadata/db.h"

namespace berth::metadata {

struct Lease {
  std::string id;
  Labels labels;
  int64_t created_at = 0;
};

struct LeaseResource {
  std::string id;
  std::string type;
  bool operator==(const LeaseResource&) const = default;
};

class LeaseStore {
 public:
  explicit LeaseStore(Db& db) : db_(db) {}

  // An empty id is replaced by a random one, as containerd does.
  absl::StatusOr<Lease> Create(const std::string& ns, Lease lease);
  absl::Status Delete(const std::string& ns, const std::string& id);
  absl::StatusOr<std::vector<Lease>> List(const std::string& ns);
  absl::Status AddResource(const std::string& ns, const std::string& id, const LeaseResource& r);
  absl::Status DeleteResource(const std::string& ns, const std::string& id, const LeaseResource& r);
  absl::StatusOr<std::vector<LeaseResource>> ListResources(const std::string& ns,
                                                           const std::string& id);

 private:
  Db& db_;
};

// Makes `lease` hold `r`, in the caller's transaction: what an object created under the
// containerd-lease header gets. NotFound when the namespace has no such lease.
absl::Status HoldByLease(Tx& tx, const std::string& ns, const std::string& lease,
                         const LeaseResource& r);

// InvalidArgument unless the id is 1–4096 printable ASCII characters (spaces and '/' too).
absl::Status ValidateLeaseId(const std::string& id);

// InvalidArgument unless the type is known and the id fits it.
absl::Status ValidateLeaseResource(const LeaseResource& r);

}  // namespace berth::metadata
