#pragma once

// Linux capability and rlimit names as the OCI spec spells them ("CAP_CHOWN", "RLIMIT_NOFILE").

#include <optional>
#include <span>
#include <string_view>

namespace berth::oci {

// The capability number of `name` ("CAP_SYS_ADMIN" -> 21), or nullopt when unknown.
std::optional<int> CapabilityFromName(std::string_view name);

// Every capability name this build knows, in number order (index == capability number).
std::span<const std::string_view> AllCapabilityNames();

// The resource number of `name` ("RLIMIT_NOFILE" -> 7), or nullopt when unknown.
std::optional<int> RlimitFromName(std::string_view name);

}  // namespace berth::oci
