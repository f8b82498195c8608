#pragma once

// The only place where an absl::Status becomes a grpc::Status and back. Both enums follow
// google.rpc.Code, so the code crosses unchanged; the message is kept as it is.

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace berth::rpc {

grpc::Status ToGrpcStatus(const absl::Status& s);
absl::Status FromGrpcStatus(const grpc::Status& s);

}  // namespace berth::rpc
