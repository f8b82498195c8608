#pragma once

// Proto ↔ domain for containers (containerd's helpers.go).

#include "containerd/services/containers/v1/containers.pb.h"
#include "services/metadata/container_store.h"

namespace berth::services::containers {

metadata::Container FromProto(const ::containerd::services::containers::v1::Container& in);
::containerd::services::containers::v1::Container ToProto(const metadata::Container& in);

metadata::AnyValue FromProto(const google::protobuf::Any& in);
google::protobuf::Any ToProto(const metadata::AnyValue& in);

}  // namespace berth::services::containers
