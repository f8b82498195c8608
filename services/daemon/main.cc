// berthd: the berth daemon.
//
//   berthd [--config FILE] [--root DIR] [--state DIR] [--address SOCK] [--log-level LEVEL]
//   berthd config default       print the default configuration

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "spdlog/spdlog.h"

#include "lib/base/log.h"
#include "lib/base/mutex_mode.h"
#include "lib/base/version.h"
#include "services/daemon/config.h"
#include "services/daemon/server.h"

namespace {

struct Flags {
  std::string config;
  std::string root, state, address, log_level;
};

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "berthd: %s\n", std::string(s.message()).c_str());
  return 1;
}

absl::StatusOr<berth::daemon::Config> ResolveConfig(const Flags& f) {
  bool explicit_path = !f.config.empty();
  auto cfg = berth::daemon::LoadConfig(explicit_path ? f.config : berth::daemon::kDefaultConfigPath,
                                       explicit_path);
  if (!cfg.ok())
    return cfg;
  if (!f.root.empty())
    cfg->root = f.root;
  if (!f.state.empty())
    cfg->state = f.state;
  if (!f.address.empty())
    cfg->address = f.address;
  if (!f.log_level.empty())
    cfg->log_level = f.log_level;
  for (const std::string* p : {&cfg->root, &cfg->state, &cfg->address}) {
    if (p->empty() || (*p)[0] != '/') {
      return absl::InvalidArgumentError("path \"" + *p + "\": must be absolute");
    }
  }
  return cfg;
}

// Blocks until SIGINT or SIGTERM; returns the signal. Those signals must be blocked in every
// thread, which main does before any thread exists.
int WaitForStopSignal(const sigset_t& set) {
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

int Run(const Flags& f) {
  absl::StatusOr<berth::daemon::Config> cfg = ResolveConfig(f);
  if (!cfg.ok())
    return Fail(cfg.status());
  absl::StatusOr<spdlog::level::level_enum> level = berth::ParseLogLevel(cfg->log_level);
  if (!level.ok())
    return Fail(level.status());
  berth::SetupStderrLogging("berthd", *level);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before gRPC starts its threads
  signal(SIGPIPE, SIG_IGN);

  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<berth::daemon::Server>> server =
      berth::daemon::Server::Start(*std::move(cfg));
  if (!server.ok())
    return Fail(server.status());
  spdlog::info("berthd ready version={} revision={} startup_ms={}", berth::Version(),
               berth::Revision(),
               std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - start)
                   .count());

  int sig = WaitForStopSignal(set);
  spdlog::info("stopping signal={}", strsignal(sig));
  (*server)->Shutdown(std::chrono::seconds(5));
  spdlog::info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  berth::IgnoreMutexDeadlockCycles();
  CLI::App app{"berthd: a container runtime daemon that speaks containerd's API", "berthd"};
  Flags f;
  app.add_option("-c,--config", f.config, "configuration file (default /etc/berth/config.toml)");
  app.add_option("--root", f.root, "directory for persistent data");
  app.add_option("--state", f.state, "directory for volatile state");
  app.add_option("-a,--address", f.address, "path of the API socket");
  app.add_option("-l,--log-level", f.log_level, "trace, debug, info, warn, error, fatal or off");
  app.set_version_flag("-v,--version", std::string("berthd ") + std::string(berth::Version()) +
                                           " " + std::string(berth::Revision()));
  CLI::App* config_cmd = app.add_subcommand("config", "information about the configuration");
  CLI::App* config_default = config_cmd->add_subcommand("default", "print the default config");
  config_cmd->require_subcommand(1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() != 0) {
      std::fprintf(stderr, "berthd: %s\n", e.what());
      return 2;
    }
    return app.exit(e);
  }
  if (config_default->parsed()) {
    std::fputs(berth::daemon::DefaultConfigText(), stdout);
    return 0;
  }
  return Run(f);
}
