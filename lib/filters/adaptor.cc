#include "lib/filters/adaptor.h"

namespace berth::filters {

std::optional<std::string> MapAdaptor::Field(std::span<const std::string> path) const {
  if (path.empty())
    return std::nullopt;
  if (path[0] == "labels") {
    if (path.size() < 2)
      return std::nullopt;
    std::string key = path[1];
    for (const std::string& segment : path.subspan(2)) key += "." + segment;
    auto it = labels_.find(key);
    if (it == labels_.end())
      return std::nullopt;
    return it->second;
  }
  if (path.size() != 1)
    return std::nullopt;
  auto it = fields_.find(path[0]);
  if (it == fields_.end() || it->second.empty())
    return std::nullopt;
  return it->second;
}

}  // namespace berth::filters
