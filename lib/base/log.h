#pragma once

// Logging setup shared by the binaries. Call once from main(), after any fork/daemonize.
// Pattern "%Y-%m-%dT%H:%M:%S.%e%z %l %n: %v"; messages are lower case with key=value fields.

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "spdlog/common.h"

namespace berth {

// "trace", "debug", "info", "warn" (or "warning"), "error", "fatal"/"critical", "panic", "off".
absl::StatusOr<spdlog::level::level_enum> ParseLogLevel(std::string_view level);

// Sets the default logger to write to stderr under `name` at `level`.
void SetupStderrLogging(const std::string& name, spdlog::level::level_enum level);

// Sets the default logger to append to `path`. Errors if the file cannot be opened.
absl::Status SetupFileLogging(const std::string& name, const std::string& path,
                              spdlog::level::level_enum level);

}  // namespace berth
