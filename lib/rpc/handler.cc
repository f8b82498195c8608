#include "lib/rpc/handler.h"

#include "absl/synchronization/mutex.h"
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

// The calls in progress, and whether new ones are admitted.
struct Calls {
  absl::Mutex mu;
  int running ABSL_GUARDED_BY(mu) = 0;
  bool stopping ABSL_GUARDED_BY(mu) = false;
};

Calls& TheCalls() {
  static Calls* calls = new Calls;
  return *calls;
}

// Counts a call while it runs; admitted() is false once the daemon is stopping.
class CallGuard {
 public:
  CallGuard() {
    Calls& c = TheCalls();
    absl::MutexLock lock(&c.mu);
    admitted_ = !c.stopping;
    if (admitted_)
      ++c.running;
  }

  ~CallGuard() {
    if (!admitted_)
      return;
    Calls& c = TheCalls();
    absl::MutexLock lock(&c.mu);
    --c.running;
  }

  CallGuard(const CallGuard&) = delete;
  CallGuard& operator=(const CallGuard&) = delete;

  bool admitted() const { return admitted_; }

 private:
  bool admitted_ = false;
};

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
  CallGuard call;
  if (!call.admitted())
    return Finish(method, start, StoppingError());
  absl::StatusOr<std::string> ns = NamespaceOf(ctx);
  if (!ns.ok())
    return Finish(method, start, ns.status());
  return Finish(method, start, body(*ns));
}

grpc::Status HandleUnscoped(std::string_view method, absl::FunctionRef<absl::Status()> body) {
  absl::Time start = absl::Now();
  CallGuard call;
  if (!call.admitted())
    return Finish(method, start, StoppingError());
  return Finish(method, start, body());
}

void StopAdmittingCalls() {
  Calls& c = TheCalls();
  absl::MutexLock lock(&c.mu);
  c.stopping = true;
}

absl::Status StoppingError() {
  return absl::UnavailableError("berthd is stopping");
}

bool Stopping() {
  Calls& c = TheCalls();
  absl::MutexLock lock(&c.mu);
  return c.stopping;
}

bool WaitForCalls(absl::Time deadline) {
  Calls& c = TheCalls();
  absl::MutexLock lock(&c.mu);
  auto idle = [&c]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(c.mu) { return c.running == 0; };
  return c.mu.AwaitWithDeadline(absl::Condition(&idle), deadline);
}

void AdmitCalls() {
  Calls& c = TheCalls();
  absl::MutexLock lock(&c.mu);
  c.stopping = false;
}

}  // namespace berth::rpc
