// bctr login HOST / bctr logout HOST: registry credentials, checked against the registry and
// kept in berth's credential file (see lib/registry/auth.h: mode 0600).

#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <memory>

#include "fmt/format.h"

#include "ctr/commands/commands.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

struct LoginFlags {
  std::string host;
  std::string username;
  std::string password;
  bool password_stdin = false;
  RegistryFlags registry;
};

// Reads one line from the terminal, without echo when `secret`.
absl::StatusOr<std::string> Prompt(const char* label, bool secret) {
  if (::isatty(STDIN_FILENO) != 1)
    return InvalidArgument(
        fmt::format("{} needed, and stdin is not a terminal (give -u and "
                    "--password-stdin)",
                    label));
  std::fprintf(stderr, "%s: ", label);
  std::fflush(stderr);
  termios old{};
  bool restore = false;
  if (secret && ::tcgetattr(STDIN_FILENO, &old) == 0) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    restore = ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet) == 0;
  }
  std::string line;
  std::getline(std::cin, line);
  if (restore) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::fprintf(stderr, "\n");
  }
  return line;
}

absl::Status RunLogin(const LoginFlags& f) {
  BERTH_ASSIGN_OR_RETURN(std::string host, registry::NormalizeHost(f.host));
  registry::Credentials c{f.username, f.password};
  if (c.username.empty()) {
    BERTH_ASSIGN_OR_RETURN(c.username, Prompt("Username", false));
  }
  if (f.password_stdin) {
    std::getline(std::cin, c.password);
    while (!c.password.empty() && (c.password.back() == '\r' || c.password.back() == '\n'))
      c.password.pop_back();
  } else if (c.password.empty()) {
    BERTH_ASSIGN_OR_RETURN(c.password, Prompt("Password", true));
  }
  if (c.username.empty() || c.password.empty())
    return InvalidArgument(fmt::format("{}: username and password must not be empty", host));
  RegistryFlags rf = f.registry;
  rf.user.clear();
  BERTH_ASSIGN_OR_RETURN(registry::ClientOptions co, rf.Options(host));
  registry::CredentialStore store = *co.credentials;
  registry::Client client(std::move(co));
  BERTH_RETURN_IF_ERROR(client.CheckLogin(host, c));
  BERTH_RETURN_IF_ERROR(store.Store(host, c));
  std::printf("Login succeeded: %s (credentials in %s)\n", host.c_str(), store.own_path().c_str());
  return absl::OkStatus();
}

absl::Status RunLogout(const std::string& h) {
  BERTH_ASSIGN_OR_RETURN(std::string host, registry::NormalizeHost(h));
  registry::CredentialStore store = registry::CredentialStore::FromEnvironment();
  BERTH_RETURN_IF_ERROR(store.Erase(host));
  std::printf("Removed login for %s\n", host.c_str());
  return absl::OkStatus();
}

}  // namespace

void AddLogin(CLI::App& parent, Cli& cli) {
  auto f = std::make_shared<LoginFlags>();
  CLI::App* cmd = parent.add_subcommand("login", "Log in to a registry and store the credentials");
  cmd->add_option("host", f->host, "Registry host[:port] (docker.io for Docker Hub)")->required();
  cmd->add_option("-u,--username", f->username, "User name (asked for when not given)");
  cmd->add_option("-p,--password", f->password,
                  "Password (visible to other users in ps; prefer --password-stdin)");
  cmd->add_flag("--password-stdin", f->password_stdin, "Read the password from stdin");
  cmd->add_flag("--plain-http", f->registry.plain_http, "The registry speaks plain HTTP");
  cmd->add_option("--ca-file", f->registry.ca_file, "PEM CA certificates for the registry")
      ->check(CLI::ExistingFile);
  cmd->callback([&cli, f] { cli.action = [f] { return Annotate(RunLogin(*f), "login"); }; });
}

void AddLogout(CLI::App& parent, Cli& cli) {
  auto host = std::make_shared<std::string>();
  CLI::App* cmd = parent.add_subcommand("logout", "Forget the stored credentials of a registry");
  cmd->add_option("host", *host, "Registry host[:port]")->required();
  cmd->callback(
      [&cli, host] { cli.action = [host] { return Annotate(RunLogout(*host), "logout"); }; });
}

}  // namespace berth::ctr
