#pragma once

// containerd's stdio URIs, "<scheme>://[localhost]/abs/path[?key=value&...]": file:// log files
// and binary:// logging programs, as the shim reads them (shim/io/log_file.h, log_binary.h) and
// berthd's restart monitor finds a log file again.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace berth {

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

}  // namespace berth
