#pragma once

// Validation of object identifiers (namespaces, containers, leases, snapshots keys' ids …),
// with containerd's rules: 1 to 76 characters, runs of [A-Za-z0-9] joined by single '.', '_'
// or '-'. So "web-1", "k8s.io" and "a_b" are valid; "", "-a", "a..b", "a/b" and "a b" are not.

#include <string_view>

#include "absl/status/status.h"

namespace berth {

inline constexpr size_t kMaxIdentifierLength = 76;

// OK, or InvalidArgument naming the identifier and the rule it breaks.
absl::Status ValidateIdentifier(std::string_view id);

// As ValidateIdentifier, with the kind of object in the message: `namespace "a/b": ...`.
absl::Status ValidateIdentifier(std::string_view kind, std::string_view id);

}  // namespace berth
