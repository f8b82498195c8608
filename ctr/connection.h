#pragma once

// bctr's connection to berthd: one gRPC channel over the unix socket, the stubs of the
// containerd v1 services, and client contexts that carry the namespace (and a lease) in the
// metadata as containerd's clients do. Errors from berthd come back as absl::Status with the
// code unchanged; an unreachable daemon becomes Unavailable naming the socket.

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"

#include "containerd/services/containers/v1/containers.grpc.pb.h"
#include "containerd/services/content/v1/content.grpc.pb.h"
#include "containerd/services/diff/v1/diff.grpc.pb.h"
#include "containerd/services/events/v1/events.grpc.pb.h"
#include "containerd/services/images/v1/images.grpc.pb.h"
#include "containerd/services/introspection/v1/introspection.grpc.pb.h"
#include "containerd/services/leases/v1/leases.grpc.pb.h"
#include "containerd/services/namespaces/v1/namespace.grpc.pb.h"
#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "containerd/services/tasks/v1/tasks.grpc.pb.h"
#include "containerd/services/version/v1/version.grpc.pb.h"

namespace berth::ctr {

namespace containers_api = ::containerd::services::containers::v1;
namespace content_api = ::containerd::services::content::v1;
namespace diff_api = ::containerd::services::diff::v1;
namespace events_api = ::containerd::services::events::v1;
namespace images_api = ::containerd::services::images::v1;
namespace introspection_api = ::containerd::services::introspection::v1;
namespace leases_api = ::containerd::services::leases::v1;
namespace namespaces_api = ::containerd::services::namespaces::v1;
namespace snapshots_api = ::containerd::services::snapshots::v1;
namespace tasks_api = ::containerd::services::tasks::v1;
namespace version_api = ::containerd::services::version::v1;

class Connection {
 public:
  // `address` is the socket path ("/run/berth/berthd.sock") or a "unix://" URI; `ns` the
  // namespace every call is scoped to. The channel connects lazily, on the first call.
  Connection(std::string address, std::string ns);

  // A context for one call: the namespace, and the lease when set with set_lease().
  std::unique_ptr<grpc::ClientContext> Context() const;

  // grpc::Status → absl::Status; UNAVAILABLE from the transport names the socket.
  absl::Status Check(const grpc::Status& s) const;

  // One unary call with a fresh Context(), its status checked:
  //   conn.Call(conn.leases(), &leases_api::Leases::Stub::List, req, &resp)
  template <typename Stub, typename Req, typename Resp>
  absl::Status Call(Stub& stub,
                    grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                    const Req& req, Resp* resp) const {
    auto ctx = Context();
    return Check((stub.*method)(ctx.get(), req, resp));
  }

  const std::string& ns() const { return ns_; }

  const std::string& address() const { return address_; }

  void set_lease(std::string lease) { lease_ = std::move(lease); }

  const std::string& lease() const { return lease_; }

  containers_api::Containers::Stub& containers() { return *containers_; }

  content_api::Content::Stub& content() { return *content_; }

  diff_api::Diff::Stub& diff() { return *diff_; }

  events_api::Events::Stub& events() { return *events_; }

  images_api::Images::Stub& images() { return *images_; }

  introspection_api::Introspection::Stub& introspection() { return *introspection_; }

  leases_api::Leases::Stub& leases() { return *leases_; }

  namespaces_api::Namespaces::Stub& namespaces() { return *namespaces_; }

  snapshots_api::Snapshots::Stub& snapshots() { return *snapshots_; }

  tasks_api::Tasks::Stub& tasks() { return *tasks_; }

  version_api::Version::Stub& version() { return *version_; }

  std::shared_ptr<grpc::Channel> channel() const { return channel_; }

 private:
  std::string address_;
  std::string ns_;
  std::string lease_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<containers_api::Containers::Stub> containers_;
  std::unique_ptr<content_api::Content::Stub> content_;
  std::unique_ptr<diff_api::Diff::Stub> diff_;
  std::unique_ptr<events_api::Events::Stub> events_;
  std::unique_ptr<images_api::Images::Stub> images_;
  std::unique_ptr<introspection_api::Introspection::Stub> introspection_;
  std::unique_ptr<leases_api::Leases::Stub> leases_;
  std::unique_ptr<namespaces_api::Namespaces::Stub> namespaces_;
  std::unique_ptr<snapshots_api::Snapshots::Stub> snapshots_;
  std::unique_ptr<tasks_api::Tasks::Stub> tasks_;
  std::unique_ptr<version_api::Version::Stub> version_;
};

}  // namespace berth::ctr
