#include "lib/rpc/handler.h"

#include "absl/time/clock.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

#include "lib/base/identifiers.h"
#include "lib/base/status.h"
#include "lib/rpc/status.h"

namespace berth::rpc {
namespace {

std::string MetadataValue(const grpc::ServerContext& ctx, const char* key) {
  const auto& md = ctx.client_metadata();
  auto it = md.find(key);
  if (it == md.end())
    return "";
  return std::string(it->second.data(), it->second.size());
}

grpc::Status Finish(std::string_view method, absl::Time start, const absl::Status& s) {
  if (spdlog::should_log(spdlog::level::trace))
    spdlog::trace("rpc method={} ms={:.3f} code={}", method,
                  absl::ToDoubleMilliseconds(absl::Now() - start),
                  absl::StatusCodeToString(s.code()));
  if (!s.ok()) {
    bool severe = s.code() == absl::StatusCode::kInternal || s.code() == absl::StatusCode::kUnknown;
    spdlog::log(severe ? spdlog::level::err : spdlog::level::debug, "rpc failed method={} error={}",
                method, s.ToString());
  }
  return ToGrpcStatus(s);
}

}  // namespace

absl::StatusOr<std::string> NamespaceOf(const grpc::ServerContext& ctx) {
  if (ctx.client_metadata().find(kNamespaceHeader) == ctx.client_metadata().end()) {
    return FailedPrecondition("namespace is required: set the containerd-namespace header");
  }
  std::string ns = MetadataValue(ctx, kNamespaceHeader);
  if (absl::Status s = ValidateIdentifier("namespace", ns); !s.ok())
    return s;
  return ns;
}

std::string LeaseOf(const grpc::ServerContext& ctx) {
  return MetadataValue(ctx, kLeaseHeader);
}

grpc::Status Handle(const grpc::ServerContext& ctx, std::string_view method,
                    absl::FunctionRef<absl::Status(const std::string& ns)> body) {
  absl::Time start = absl::Now();
  absl::StatusOr<std::string> ns = NamespaceOf(ctx);
  if (!ns.ok())
    return Finish(method, start, ns.status());
  return Finish(method, start, body(*ns));
}

grpc::Status HandleUnscoped(std::string_view method, absl::FunctionRef<absl::Status()> body) {
  absl::Time start = absl::Now();
  return Finish(method, start, body());
}

}  // namespace berth::rpc
