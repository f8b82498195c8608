#include "lib/base/labels.h"

#include "fmt/format.h"

#include "lib/base/status.h"

namespace berth {

absl::Status ValidateLabel(std::string_view key, std::string_view value) {
  if (key.empty())
    return InvalidArgument("label key must not be empty");
  if (key.size() + value.size() > kMaxLabelSize) {
    return InvalidArgument(fmt::format("label {:?}: key and value longer than {} bytes",
                                       key.substr(0, 64), kMaxLabelSize));
  }
  return absl::OkStatus();
}

absl::Status ValidateLabels(const Labels& labels) {
  for (const auto& [k, v] : labels) {
    if (absl::Status s = ValidateLabel(k, v); !s.ok())
      return s;
  }
  return absl::OkStatus();
}

}  // namespace berth
