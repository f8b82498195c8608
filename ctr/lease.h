#pragma once

// A temporary lease for one operation, as ctr takes one while pulling: everything created
// under it (content, ingests, snapshots) is kept from garbage collection until the operation
// has tied it to an image. It expires on its own after 24 h (containerd.io/gc.expire) should
// bctr die, and is deleted when the ScopedLease goes out of scope.

#include <string>

#include "absl/status/statusor.h"

#include "ctr/connection.h"

namespace berth::ctr {

class ScopedLease {
 public:
  // Creates the lease and sets it on `conn`, so that the connection's calls carry it.
  static absl::StatusOr<ScopedLease> Create(Connection& conn);
  ScopedLease(ScopedLease&& o) noexcept;
  ScopedLease& operator=(ScopedLease&&) = delete;
  ~ScopedLease();

  const std::string& id() const { return id_; }

 private:
  ScopedLease(Connection& conn, std::string id) : conn_(&conn), id_(std::move(id)) {}

  Connection* conn_;
  std::string id_;
};

}  // namespace berth::ctr
