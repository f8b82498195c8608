#include "ctr/connection.h"

#include "fmt/format.h"

#include "lib/rpc/handler.h"
#include "lib/rpc/status.h"

namespace berth::ctr {

Connection::Connection(std::string address, std::string ns)
    : address_(std::move(address)), ns_(std::move(ns)) {
  std::string target = address_.starts_with("unix:") ? address_ : "unix://" + address_;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(16 << 20);
  args.SetMaxSendMessageSize(16 << 20);
  channel_ = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  containers_ = containers_api::Containers::NewStub(channel_);
  content_ = content_api::Content::NewStub(channel_);
  diff_ = diff_api::Diff::NewStub(channel_);
  events_ = events_api::Events::NewStub(channel_);
  images_ = images_api::Images::NewStub(channel_);
  introspection_ = introspection_api::Introspection::NewStub(channel_);
  leases_ = leases_api::Leases::NewStub(channel_);
  namespaces_ = namespaces_api::Namespaces::NewStub(channel_);
  snapshots_ = snapshots_api::Snapshots::NewStub(channel_);
  tasks_ = tasks_api::Tasks::NewStub(channel_);
  version_ = version_api::Version::NewStub(channel_);
}

std::unique_ptr<grpc::ClientContext> Connection::Context() const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata(rpc::kNamespaceHeader, ns_);
  if (!lease_.empty())
    ctx->AddMetadata(rpc::kLeaseHeader, lease_);
  return ctx;
}

absl::Status Connection::Check(const grpc::Status& s) const {
  // UNAVAILABLE with the channel not connected is the transport's; berthd's own UNAVAILABLE
  // (a shim that does not answer) arrives over a ready channel and keeps its message.
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE &&
      channel_->GetState(false) != GRPC_CHANNEL_READY) {
    return absl::UnavailableError(
        fmt::format("cannot reach berthd at {}: {} (is berthd running? see --address)", address_,
                    s.error_message()));
  }
  return rpc::FromGrpcStatus(s);
}

}  // namespace berth::ctr
