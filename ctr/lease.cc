#include "ctr/lease.h"

#include <unistd.h>

#include <chrono>
#include <random>

#include "fmt/chrono.h"
#include "fmt/format.h"

#include "lib/base/status_macros.h"

namespace berth::ctr {

absl::StatusOr<ScopedLease> ScopedLease::Create(Connection& conn) {
  std::random_device rd;
  std::string id = fmt::format("bctr-{}-{:08x}", ::getpid(), rd());
  auto expire = std::chrono::system_clock::now() + std::chrono::hours(24);
  leases_api::CreateRequest req;
  req.set_id(id);
  (*req.mutable_labels())["containerd.io/gc.expire"] = fmt::format(
      "{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::chrono::system_clock::to_time_t(expire)));
  leases_api::CreateResponse resp;
  conn.set_lease("");
  auto ctx = conn.Context();
  BERTH_RETURN_IF_ERROR(conn.Check(conn.leases().Create(ctx.get(), req, &resp)));
  conn.set_lease(id);
  return ScopedLease(conn, id);
}

ScopedLease::ScopedLease(ScopedLease&& o) noexcept
    : conn_(o.conn_), id_(std::exchange(o.id_, "")) {}

ScopedLease::~ScopedLease() {
  if (id_.empty())
    return;
  conn_->set_lease("");
  leases_api::DeleteRequest req;
  req.set_id(id_);
  google::protobuf::Empty resp;
  auto ctx = conn_->Context();
  (void)conn_->leases().Delete(ctx.get(), req, &resp);  // expires by itself if this fails
}

}  // namespace berth::ctr
