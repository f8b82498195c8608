#pragma once

// Runs the body of an RPC: reads the namespace where the call is scoped to one, maps the
// result to a grpc::Status, and logs failures once (debug; Internal and Unknown at error) and
// every call with its duration at trace level.

#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server_context.h"

namespace berth::rpc {

// The gRPC metadata key that carries the namespace, as containerd's clients send it.
inline constexpr char kNamespaceHeader[] = "containerd-namespace";
// The gRPC metadata key that carries a lease id (resources created under it are held by it).
inline constexpr char kLeaseHeader[] = "containerd-lease";

// The namespace of the call: FailedPrecondition "namespace is required" when the header is
// absent (as containerd), InvalidArgument when it is not a valid identifier.
absl::StatusOr<std::string> NamespaceOf(const grpc::ServerContext& ctx);

// The lease of the call, or "" when there is none.
std::string LeaseOf(const grpc::ServerContext& ctx);

// For RPCs scoped to a namespace: body gets the validated namespace.
grpc::Status Handle(const grpc::ServerContext& ctx, std::string_view method,
                    absl::FunctionRef<absl::Status(const std::string& ns)> body);

// For RPCs that are not scoped to a namespace (namespaces, version, introspection).
grpc::Status HandleUnscoped(std::string_view method, absl::FunctionRef<absl::Status()> body);

// berthd's stop. The calls in Handle's and HandleUnscoped's bodies are counted; once
// StopAdmittingCalls has run, new ones are refused (Unavailable "berthd is stopping") and
// long waits (tasks.Wait) give up. The gRPC server's own shutdown waits for every connection to
// close, and a client that keeps its channel open (an in-process or long-lived C++ client) would
// hold it for the whole grace: the daemon instead waits for the calls, then shuts the server
// down at once.
void StopAdmittingCalls();
// True once StopAdmittingCalls has run (until AdmitCalls).
bool Stopping();
// Unavailable "berthd is stopping": what a refused call gets, and what a stream that berthd's
// stop ends (events, health watches) ends with.
absl::Status StoppingError();
// Waits until no call is in a body or `deadline` passes; true when none is.
bool WaitForCalls(absl::Time deadline);
// Admits calls again (a server that starts after another's stop in the same process).
void AdmitCalls();

}  // namespace berth::rpc
