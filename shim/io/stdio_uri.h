#pragma once

// containerd's stdio URIs, "<scheme>://[localhost]/abs/path[?key=value&...]", as the shim
// reads them: file:// log files (log_file.h) and binary:// logging programs (log_binary.h).

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::shim {

struct StdioUri {
  std::string path;  // absolute, percent-decoded
  // In order, as Go's url.Values reads them: '&'-separated key[=value], %-escapes decoded and
  // '+' a space.
  std::vector<std::pair<std::string, std::string>> query;
};

// True when `uri` starts with "<scheme>://".
bool HasScheme(std::string_view uri, std::string_view scheme);

// InvalidArgument naming the URI for another scheme, a host other than "" or "localhost", an
// empty path or a bad %-escape.
absl::StatusOr<StdioUri> ParseStdioUri(std::string_view uri, std::string_view scheme);

}  // namespace berth::shim
