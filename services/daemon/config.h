#pragma once

// berthd's configuration: /etc/berth/config.toml by default. Every key has a default (see
// DefaultConfigText(), which deploy/config.toml mirrors); an unknown key or a value of the
// wrong type is an error naming the file and the key. Command-line flags override the file.

#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "absl/status/statusor.h"

#include "lib/config/section.h"

namespace berth::daemon {

inline constexpr char kDefaultConfigPath[] = "/etc/berth/config.toml";

struct Config {
  std::string root = "/var/lib/berth";
  std::string state = "/run/berth";
  std::string address = "/run/berth/berthd.sock";
  int64_t uid = 0;  // owner of the socket
  int64_t gid = 0;  // group allowed on the socket (mode 0660)
  int64_t max_recv_message_size = 16 << 20;
  int64_t max_send_message_size = 16 << 20;
  std::string log_level = "info";
  std::set<std::string> disabled_plugins;
  std::set<std::string> required_plugins;
  // Owns the parsed file; `plugins` views its [plugins] table.
  std::shared_ptr<config::Document> document;
  config::Section plugins;
};

// Parses TOML text; `name` stands for the file in messages.
absl::StatusOr<Config> ParseConfig(const std::string& text, const std::string& name);

// Loads `path`. When `explicit_path` is false a missing file means all defaults; when true
// (the user named it with --config) a missing file is NotFound.
absl::StatusOr<Config> LoadConfig(const std::string& path, bool explicit_path);

// The default configuration with every key, as `berthd config default` prints it.
const char* DefaultConfigText();

}  // namespace berth::daemon
