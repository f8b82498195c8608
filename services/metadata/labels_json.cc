#include "services/metadata/labels_json.h"

#include "nlohmann/json.hpp"

#include "lib/base/status.h"

namespace berth::metadata {

std::string EncodeLabels(const Labels& labels) {
  return nlohmann::json(labels).dump();
}

absl::StatusOr<Labels> DecodeLabels(const std::string& json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object())
    return Internal("metadata: stored labels are not a JSON object");
  Labels out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_string())
      return Internal("metadata: stored label is not a string");
    out.emplace(it.key(), it.value().get<std::string>());
  }
  return out;
}

}  // namespace berth::metadata
