#pragma once

// Labels: string key/value pairs on every object, validated as containerd does (key and value
// together at most 4096 bytes) and additionally with a non-empty key.

#include <map>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace berth {

using Labels = std::map<std::string, std::string>;

inline constexpr size_t kMaxLabelSize = 4096;

// OK, or InvalidArgument naming the key.
absl::Status ValidateLabel(std::string_view key, std::string_view value);
absl::Status ValidateLabels(const Labels& labels);

}  // namespace berth
