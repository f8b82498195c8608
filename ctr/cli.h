#pragma once

// The frame every bctr verb plugs into: global flags, the connection to berthd, the registry
// client options shared by pull, push and login, and the action a parsed verb leaves to run.
//
// Adding a verb is one file, ctr/commands/<verb>.cc, with a
//   void Add<Verb>(CLI::App& parent, Cli& cli);
// that declares its flags on a new subcommand and sets `cli.action` in the callback, plus one
// line in ctr/commands/commands.cc. Actions return absl::Status; main prints a failure as one
// line "bctr: <what>: <why>" and exits 1 (2 for usage errors).

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"

#include "ctr/connection.h"
#include "ctr/container_meta.h"
#include "lib/registry/client.h"
#include "lib/registry/reference.h"

namespace berth::ctr {

inline constexpr char kDefaultAddress[] = "/run/berth/berthd.sock";

// Flags for talking to registries (pull, push, login).
struct RegistryFlags {
  bool plain_http = false;  // for the host of the reference at hand
  std::string ca_file;
  std::string user;  // "name[:password]" for this call only
  int retries = 3;

  // Adds --plain-http, --ca-file, --user, --retries.
  void Add(CLI::App& cmd);
  // Client options for `host`: plain HTTP when --plain-http was given, the host is listed
  // in $BERTH_PLAIN_HTTP (comma-separated) or its table in bctr.toml (ctr/config.h) says so;
  // the CA file from --ca-file, else bctr.toml; credentials from --user, else the stored ones.
  absl::StatusOr<registry::ClientOptions> Options(const std::string& host) const;
};

struct Cli {
  std::string address = kDefaultAddress;
  std::string ns = "default";
  std::string log_root = kDefaultLogRoot;  // detached containers' logs (container_meta.h)
  std::function<absl::Status()> action;    // set by the verb that was parsed

  // The connection, made on first use.
  Connection& conn();

 private:
  std::unique_ptr<Connection> conn_;
};

// True when stdout is a terminal.
bool StdoutIsTty();

// A normalized image name from what the user typed (a reference), or InvalidArgument.
absl::StatusOr<registry::Reference> ParseImageRef(const std::string& s);

// Builds the whole command tree (global flags and every verb) on `app`.
void BuildApp(CLI::App& app, Cli& cli);

// The one-line message for a parse error: "<verbs>: <why> (see bctr <verbs> --help)".
std::string UsageError(const CLI::App& app, const CLI::ParseError& e);

// For a failed start of a container's command (run, start, exec), docker's exit codes: 127
// when the command is not found, 126 when it cannot be run; other failures keep bctr's 1.
absl::Status CommandStartError(absl::Status status);

// The exit code for a failed verb: 1, or what CommandStartError attached.
int ExitCodeOf(const absl::Status& status);

// Parses argv and runs the chosen verb; returns the exit code. Errors go to stderr as one line.
int RunMain(int argc, char** argv);

}  // namespace berth::ctr
