#include "services/metadata/lease_store.h"

#include <fstream>

#include "fmt/format.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "services/metadata/labels_json.h"
#include "services/metadata/namespace_store.h"

namespace berth::metadata {
namespace {

absl::Status CheckExists(Tx& tx, const std::string& ns, const std::string& id) {
  BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query("SELECT 1 FROM leases WHERE namespace = ? AND id = ?"));
  q.Bind(1, ns).Bind(2, id);
  BERTH_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? absl::OkStatus() : NotFoundError("lease", id);
}

// "<nanoseconds>-<8 base64url characters>", like containerd's generated lease ids.
std::string RandomLeaseId() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  unsigned char bytes[8] = {};
  std::ifstream("/dev/urandom", std::ios::binary).read(reinterpret_cast<char*>(bytes), 8);
  std::string id = std::to_string(NowNanos() % 1000000000) + "-";
  for (unsigned char b : bytes) id.push_back(kAlphabet[b & 63]);
  return id;
}

}  // namespace

absl::Status ValidateLeaseId(const std::string& id) {
  // Not an identifier: containerd's clients make lease ids from a number and base64url
  // ("315932019-_bzt"), and `ctr images mount` from the target path ("/mnt/my dir"). What
  // gRPC metadata can carry (the containerd-lease header), as printable ASCII.
  bool ok = !id.empty() && id.size() <= 4096;
  for (char c : id) ok = ok && c >= ' ' && c < 127;
  if (!ok) {
    return InvalidArgument(
        fmt::format("lease {:?}: must be 1 to 4096 printable ASCII characters", id));
  }
  return absl::OkStatus();
}

absl::Status ValidateLeaseResource(const LeaseResource& r) {
  bool ok = false;
  if (r.type == "content") {
    ok = r.id.rfind("sha256:", 0) == 0 && r.id.size() == 71;
  } else if (r.type == "ingests") {
    ok = !r.id.empty();
  } else if (r.type.rfind("snapshots/", 0) == 0 && r.type.size() > 10) {
    ok = !r.id.empty();
  } else {
    return InvalidArgument(fmt::format(
        "lease resource type {:?}: unsupported (content, ingests or snapshots/<name>)", r.type));
  }
  if (!ok)
    return InvalidArgument(fmt::format("lease resource {:?} of type {:?}: bad id", r.id, r.type));
  return absl::OkStatus();
}

absl::StatusOr<Lease> LeaseStore::Create(const std::string& ns, Lease lease) {
  if (lease.id.empty())
    lease.id = RandomLeaseId();
  BERTH_RETURN_IF_ERROR(ValidateLeaseId(lease.id));
  BERTH_RETURN_IF_ERROR(
      Annotate(ValidateLabels(lease.labels), fmt::format("lease {:?}", lease.id)));
  lease.created_at = NowNanos();
  // Deferred (lib/base/durability.h): a lease protects what its client makes until the client
  // is done, and a power loss ends every client. Whatever the client made under the lease is
  // committed with a sync, which makes the lease durable too.
  BERTH_RETURN_IF_ERROR(db_.Update(
      [&](Tx& tx) -> absl::Status {
        BERTH_RETURN_IF_ERROR(EnsureNamespace(tx, ns));
        BERTH_ASSIGN_OR_RETURN(Stmt q,
                               tx.Query("INSERT OR IGNORE INTO leases (namespace, id, labels, "
                                        "created_at) VALUES (?, ?, ?, ?)"));
        q.Bind(1, ns)
            .Bind(2, lease.id)
            .Bind(3, EncodeLabels(lease.labels))
            .Bind(4, lease.created_at);
        BERTH_RETURN_IF_ERROR(q.Run());
        if (tx.Changes() == 0)
          return AlreadyExistsError("lease", lease.id);
        return absl::OkStatus();
      },
      Durability::kDeferred));
  return lease;
}

absl::Status LeaseStore::Delete(const std::string& ns, const std::string& id) {
  // Deferred (lib/base/durability.h): lost, the lease comes back after a power loss and keeps
  // its resources until it expires or is deleted again. The collection that frees their records
  // commits with a sync, which makes the deletion durable before any file goes; only the
  // unfinished uploads it held can go sooner, and an upload is resumed from the start anyway
  // when its data is missing.
  return db_.Update(
      [&](Tx& tx) -> absl::Status {
        BERTH_ASSIGN_OR_RETURN(Stmt q,
                               tx.Query("DELETE FROM leases WHERE namespace = ? AND id = ?"));
        q.Bind(1, ns).Bind(2, id);
        BERTH_RETURN_IF_ERROR(q.Run());
        if (tx.Changes() == 0)
          return NotFoundError("lease", id);
        return absl::OkStatus();  // its resources go by ON DELETE CASCADE
      },
      Durability::kDeferred);
}

absl::StatusOr<std::vector<Lease>> LeaseStore::List(const std::string& ns) {
  std::vector<Lease> out;
  BERTH_RETURN_IF_ERROR(db_.View([&](Tx& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query("SELECT id, labels, created_at FROM leases "
                                            "WHERE namespace = ? ORDER BY created_at, id"));
    q.Bind(1, ns);
    return ForEachRow(q, [&](Stmt& r) -> absl::Status {
      BERTH_ASSIGN_OR_RETURN(Labels labels, DecodeLabels(r.Text(1)));
      out.push_back({r.Text(0), std::move(labels), r.Int(2)});
      return absl::OkStatus();
    });
  }));
  return out;
}

absl::Status HoldByLease(Tx& tx, const std::string& ns, const std::string& lease,
                         const LeaseResource& r) {
  BERTH_RETURN_IF_ERROR(CheckExists(tx, ns, lease));
  BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query("INSERT OR IGNORE INTO lease_resources (namespace, "
                                          "lease, type, id) VALUES (?, ?, ?, ?)"));
  q.Bind(1, ns).Bind(2, lease).Bind(3, r.type).Bind(4, r.id);
  return q.Run();
}

absl::Status LeaseStore::AddResource(const std::string& ns, const std::string& id,
                                     const LeaseResource& r) {
  BERTH_RETURN_IF_ERROR(ValidateLeaseResource(r));
  return db_.Update([&](Tx& tx) { return HoldByLease(tx, ns, id, r); });
}

absl::Status LeaseStore::DeleteResource(const std::string& ns, const std::string& id,
                                        const LeaseResource& r) {
  return db_.Update([&](Tx& tx) -> absl::Status {
    BERTH_RETURN_IF_ERROR(CheckExists(tx, ns, id));
    BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query("DELETE FROM lease_resources WHERE namespace = ? AND "
                                            "lease = ? AND type = ? AND id = ?"));
    q.Bind(1, ns).Bind(2, id).Bind(3, r.type).Bind(4, r.id);
    return q.Run();
  });
}

absl::StatusOr<std::vector<LeaseResource>> LeaseStore::ListResources(const std::string& ns,
                                                                     const std::string& id) {
  std::vector<LeaseResource> out;
  BERTH_RETURN_IF_ERROR(db_.View([&](Tx& tx) -> absl::Status {
    BERTH_RETURN_IF_ERROR(CheckExists(tx, ns, id));
    BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query("SELECT id, type FROM lease_resources WHERE "
                                            "namespace = ? AND lease = ? ORDER BY type, id"));
    q.Bind(1, ns).Bind(2, id);
    return ForEachRow(q, [&](Stmt& r) -> absl::Status {
      out.push_back({r.Text(0), r.Text(1)});
      return absl::OkStatus();
    });
  }));
  return out;
}

}  // namespace berth::metadata
