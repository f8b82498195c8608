#include "ctr/cli.h"

#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include "fmt/format.h"

#include "ctr/commands/commands.h"
#include "ctr/config.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {

void RegistryFlags::Add(CLI::App& cmd) {
  cmd.add_flag("--plain-http", plain_http, "Talk to the registry over plain HTTP (no TLS)");
  cmd.add_option("--ca-file", ca_file, "PEM file of CA certificates to trust for the registry")
      ->check(CLI::ExistingFile);
  cmd.add_option("-u,--user", user, "Registry credentials for this call: NAME[:PASSWORD]");
  cmd.add_option("--retries", retries, "Further attempts after a transient failure")
      ->capture_default_str()
      ->check(CLI::Range(0, 20));
}

absl::StatusOr<registry::ClientOptions> RegistryFlags::Options(const std::string& host) const {
  BERTH_ASSIGN_OR_RETURN(ClientConfig config, LoadClientConfig(ClientConfigPath()));
  RegistryHostConfig hc;
  if (auto it = config.registries.find(host); it != config.registries.end())
    hc = it->second;
  registry::ClientOptions o;
  o.ca_file = ca_file.empty() ? hc.ca_file : ca_file;
  o.retries = retries;
  o.user_agent = "bctr";
  if (plain_http || hc.plain_http)
    o.plain_http.push_back(host);
  if (const char* env = std::getenv("BERTH_PLAIN_HTTP")) {  // NOLINT(concurrency-mt-unsafe)
    std::stringstream ss(env);
    std::string h;
    while (std::getline(ss, h, ',')) {
      if (!h.empty())
        o.plain_http.push_back(h);
    }
  }
  registry::CredentialStore store = registry::CredentialStore::FromEnvironment();
  if (!user.empty()) {
    size_t colon = user.find(':');
    if (colon == std::string::npos)
      return InvalidArgument("--user: want NAME:PASSWORD (use `bctr login` to be asked)");
    o.credentials_override = registry::Credentials{user.substr(0, colon), user.substr(colon + 1)};
    return o;
  }
  o.credentials = store;
  return o;
}

Connection& Cli::conn() {
  if (!conn_)
    conn_ = std::make_unique<Connection>(address, ns);
  return *conn_;
}

bool StdoutIsTty() {
  return ::isatty(STDOUT_FILENO) == 1;
}

absl::StatusOr<registry::Reference> ParseImageRef(const std::string& s) {
  return registry::ParseReference(s);
}

void BuildApp(CLI::App& app, Cli& cli) {
  app.name("bctr");
  app.description("berth's command line: images, containers and tasks on berthd");
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show the help of every command");
  app.add_option("-a,--address", cli.address, "berthd's socket")
      ->envname("BERTH_ADDRESS")
      ->capture_default_str();
  app.add_option("-n,--namespace", cli.ns, "Namespace of the objects")
      ->envname("BERTH_NAMESPACE")
      ->capture_default_str();
  app.add_option("--log-root", cli.log_root, "Where detached containers' logs are kept")
      ->envname("BCTR_LOG_ROOT")
      ->capture_default_str();
  for (const Verb& v : Verbs()) v.add(app, cli);
}

namespace {

// "pull", "images ls": the verbs parsed so far, for messages.
std::string CommandPath(const CLI::App& app) {
  std::string path;
  const CLI::App* cur = &app;
  while (!cur->get_subcommands().empty()) {
    cur = cur->get_subcommands().front();
    path += (path.empty() ? "" : " ") + cur->get_name();
  }
  return path;
}

}  // namespace

std::string UsageError(const CLI::App& app, const CLI::ParseError& e) {
  std::string path = CommandPath(app);
  const CLI::App* cur = &app;
  while (!cur->get_subcommands().empty()) cur = cur->get_subcommands().front();
  std::string why = e.what();
  std::vector<std::string> rest = cur->remaining();
  if (cur->get_require_subcommand_min() > 0 && !rest.empty() && !rest[0].starts_with("-"))
    why = fmt::format("unknown command {:?}", rest[0]);
  return fmt::format("{}{} (see bctr {}{}--help)", path.empty() ? "" : path + ": ", why, path,
                     path.empty() ? "" : " ");
}

namespace {
constexpr char kExitCodePayload[] = "type.berth.io/bctr.exit-code";
}  // namespace

absl::Status CommandStartError(absl::Status status) {
  int code = absl::IsNotFound(status) ? 127 : absl::IsPermissionDenied(status) ? 126 : 0;
  if (code != 0)
    status.SetPayload(kExitCodePayload, absl::Cord(std::to_string(code)));
  return status;
}

int ExitCodeOf(const absl::Status& status) {
  auto code = status.GetPayload(kExitCodePayload);
  return code.has_value() ? std::atoi(std::string(*code).c_str()) : 1;
}

int RunMain(int argc, char** argv) {
  CLI::App app;
  Cli cli;
  BuildApp(app, cli);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "bctr: %s\n", UsageError(app, e).c_str());
    return 2;
  }
  if (!cli.action)
    return 0;
  absl::Status st = cli.action();
  if (!st.ok()) {
    std::fflush(stdout);
    std::fprintf(stderr, "bctr: %s\n", std::string(st.message()).c_str());
    return ExitCodeOf(st);
  }
  return 0;
}

}  // namespace berth::ctr
