#pragma once

// Labels are stored as a JSON object of strings in a TEXT column.

#include <string>

#include "absl/status/statusor.h"

#include "lib/base/labels.h"

namespace berth::metadata {

std::string EncodeLabels(const Labels& labels);
// Internal when the stored text is not a JSON object of strings (a corrupt row).
absl::StatusOr<Labels> DecodeLabels(const std::string& json);

}  // namespace berth::metadata
