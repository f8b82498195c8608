#pragma once

// Labels: string key/value pairs on every object, validated as containerd does (key and value
// together at most 4096 bytes) and additionally with a non-empty key.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace berth {

using Labels = std::map<std::string, std::string>;

inline constexpr size_t kMaxLabelSize = 4096;

// OK, or InvalidArgument naming the key.
absl::Status ValidateLabel(std::string_view key, std::string_view value);
absl::Status ValidateLabels(const Labels& labels);

// Applies an update mask to labels, as containerd's Update calls do: with no paths, `cur`
// becomes `in`; "labels" replaces all; "labels.<key>" sets that key from `in`, or removes it
// when `in` lacks it or has it empty. Any other path is InvalidArgument naming `object`
// (e.g. `namespace "web"`) and the path.
absl::Status ApplyLabelPaths(const Labels& in, const std::vector<std::string>& paths,
                             std::string_view object, Labels& cur);

}  // namespace berth
