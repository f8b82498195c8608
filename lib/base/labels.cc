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

absl::Status ApplyLabelPaths(const Labels& in, const std::vector<std::string>& paths,
                             std::string_view object, Labels& cur) {
  if (paths.empty()) {
    cur = in;
    return absl::OkStatus();
  }
  constexpr std::string_view kPrefix = "labels.";
  for (const std::string& p : paths) {
    if (p == "labels") {
      cur = in;
    } else if (p.size() > kPrefix.size() && p.compare(0, kPrefix.size(), kPrefix) == 0) {
      std::string key = p.substr(kPrefix.size());
      auto it = in.find(key);
      if (it == in.end() || it->second.empty()) {
        cur.erase(key);
      } else {
        cur[key] = it->second;
      }
    } else {
      return InvalidArgument(fmt::format("{}: cannot update field {:?}", object, p));
    }
  }
  return absl::OkStatus();
}

}  // namespace berth
