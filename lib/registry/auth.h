#pragma once

// Registry authentication: WWW-Authenticate challenges and stored credentials.
//
// Credentials live in two files, both in Docker's config format
// ({"auths": {"<host>": {"auth": base64("user:password")}}}):
//   - berth's own, written by `bctr login` and `bctr logout`: $BERTH_AUTH_FILE, else
//     $XDG_CONFIG_HOME/berth/auth.json, else ~/.config/berth/auth.json. It is written
//     atomically (temporary file, fsync, rename) with mode 0600 in a 0700 directory, since it
//     holds passwords in the clear (base64 is no protection), exactly as Docker's file does.
//   - Docker's, read only: $DOCKER_CONFIG/config.json, else ~/.docker/config.json, so that a
//     `docker login` already done is honoured. Credential helpers ("credsStore",
//     "credHelpers") are not run.
// berth's file wins when both name a host. Docker Hub is stored under "docker.io" by berth
// and found under "https://index.docker.io/v1/" in Docker's file.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::registry {

// One challenge of a WWW-Authenticate header: the scheme in lower case ("bearer", "basic")
// and its parameters (keys in lower case, values unquoted).
struct Challenge {
  std::string scheme;
  std::map<std::string, std::string> params;
};

// Parses a WWW-Authenticate header value, which may hold several challenges:
//   Bearer realm="https://auth.example/token",service="reg",scope="repository:a:pull"
//   Basic realm="Registry Realm", Bearer realm="…"
// InvalidArgument naming the header when it does not follow RFC 7235's grammar.
absl::StatusOr<std::vector<Challenge>> ParseChallenges(std::string_view header);

struct Credentials {
  std::string username;
  std::string password;
};

class CredentialStore {
 public:
  // `own` is read and written; `docker` is only read. Either may not exist.
  CredentialStore(std::filesystem::path own, std::filesystem::path docker);

  // The files from the environment, as described above.
  static CredentialStore FromEnvironment();

  // Credentials for a normalized host ("docker.io", "127.0.0.1:5000"), or nullopt. A file
  // that cannot be parsed is an InvalidArgument naming it.
  absl::StatusOr<std::optional<Credentials>> Get(const std::string& host) const;

  // Stores (or replaces) the host's credentials in berth's file.
  absl::Status Store(const std::string& host, const Credentials& c) const;

  // Removes the host from berth's file; NotFound when berth's file does not hold it.
  absl::Status Erase(const std::string& host) const;

  const std::filesystem::path& own_path() const { return own_; }

 private:
  std::filesystem::path own_;
  std::filesystem::path docker_;
};

}  // namespace berth::registry
