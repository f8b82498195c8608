#include "lib/base/log.h"

#include <memory>

#include "fmt/format.h"
#include "spdlog/sinks/basic_file_sink.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

#include "lib/base/status.h"

namespace berth {
namespace {
constexpr char kPattern[] = "%Y-%m-%dT%H:%M:%S.%e%z %l %n: %v";
}  // namespace

absl::StatusOr<spdlog::level::level_enum> ParseLogLevel(std::string_view level) {
  using spdlog::level::level_enum;
  if (level == "trace")
    return level_enum::trace;
  if (level == "debug")
    return level_enum::debug;
  if (level == "info")
    return level_enum::info;
  if (level == "warn" || level == "warning")
    return level_enum::warn;
  if (level == "error")
    return level_enum::err;
  if (level == "fatal" || level == "critical" || level == "panic")
    return level_enum::critical;
  if (level == "off")
    return level_enum::off;
  return InvalidArgument(fmt::format(
      "log level {:?}: unknown (use trace, debug, info, warn, error, fatal or off)", level));
}

void SetupStderrLogging(const std::string& name, spdlog::level::level_enum level) {
  auto logger =
      std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_pattern(kPattern);
  logger->set_level(level);
  spdlog::set_default_logger(std::move(logger));
}

absl::Status SetupFileLogging(const std::string& name, const std::string& path,
                              spdlog::level::level_enum level) {
  try {
    auto logger = std::make_shared<spdlog::logger>(
        name, std::make_shared<spdlog::sinks::basic_file_sink_mt>(path));
    logger->set_pattern(kPattern);
    logger->set_level(level);
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(std::move(logger));
  } catch (const spdlog::spdlog_ex& e) {
    return Unavailable(fmt::format("log file {:?}: {}", path, e.what()));
  }
  return absl::OkStatus();
}

}  // namespace berth
