#pragma once

// The one error model of berth: absl::Status with containerd's errdefs classes.
// Every message names the object and the cause: `container "web": already exists`.
// grpc::Status appears only at the RPC edges (lib/rpc, services/*, shim service, clients).

#include <string_view>

#include "absl/status/status.h"

namespace berth {

// `kind "id": not found` (kNotFound).
absl::Status NotFoundError(std::string_view kind, std::string_view id);

// `kind "id": already exists` (kAlreadyExists).
absl::Status AlreadyExistsError(std::string_view kind, std::string_view id);

// Plain constructors that take std::string_view (Debian's absl::string_view is not std's).
absl::Status InvalidArgument(std::string_view msg);
absl::Status FailedPrecondition(std::string_view msg);
absl::Status Unavailable(std::string_view msg);
absl::Status Unimplemented(std::string_view msg);
absl::Status Internal(std::string_view msg);

// Maps an errno to the matching code (ENOENT → NotFound, EEXIST → AlreadyExists, EBUSY and
// ENOTEMPTY → FailedPrecondition, EINVAL → InvalidArgument, EPERM/EACCES → PermissionDenied …)
// with the message "op: strerror".
absl::Status ErrnoError(int err, std::string_view op);

// Same code and payloads, message prefixed: "context: message". OK stays OK.
absl::Status Annotate(const absl::Status& s, std::string_view context);

// The errdefs class name of a code as containerd prints it ("not found", "already exists" …).
std::string_view ErrdefsName(absl::StatusCode code);

}  // namespace berth
