#include "lib/registry/auth.h"

#include <sys/stat.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

#include "lib/base/files.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::registry {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~/").find(c) != std::string_view::npos;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A small cursor over the header.
struct Scanner {
  std::string_view s;
  size_t i = 0;

  void SkipSpace() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  }

  bool Done() {
    SkipSpace();
    return i >= s.size();
  }

  std::string Token() {
    SkipSpace();
    size_t start = i;
    while (i < s.size() && IsTokenChar(s[i])) ++i;
    return std::string(s.substr(start, i - start));
  }

  bool Eat(char c) {
    SkipSpace();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }

  // A quoted-string (with backslash escapes) or a token (with '=' allowed, for token68).
  std::optional<std::string> Value() {
    SkipSpace();
    if (i < s.size() && s[i] == '"') {
      std::string out;
      for (++i; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) {
          out += s[++i];
        } else if (s[i] == '"') {
          ++i;
          return out;
        } else {
          out += s[i];
        }
      }
      return std::nullopt;  // unterminated
    }
    size_t start = i;
    while (i < s.size() && (IsTokenChar(s[i]) || s[i] == '=')) ++i;
    return std::string(s.substr(start, i - start));
  }
};

absl::StatusOr<json> ReadJsonFile(const fs::path& p) {
  std::ifstream in(p);
  if (!in)
    return json::object();  // a missing file holds no credentials
  try {
    json j = json::parse(in);
    if (!j.is_object())
      return InvalidArgument(fmt::format("credentials file {:?}: not a JSON object", p.string()));
    return j;
  } catch (const json::exception& e) {
    return InvalidArgument(fmt::format("credentials file {:?}: {}", p.string(), e.what()));
  }
}

absl::StatusOr<std::optional<Credentials>> Lookup(const json& file, const fs::path& p,
                                                  const std::vector<std::string>& keys) {
  auto auths = file.find("auths");
  if (auths == file.end() || !auths->is_object())
    return std::nullopt;
  for (const std::string& key : keys) {
    auto e = auths->find(key);
    if (e == auths->end() || !e->is_object())
      continue;
    std::string user, pass;
    if (auto a = e->find("auth");
        a != e->end() && a->is_string() && !a->get<std::string>().empty()) {
      std::string decoded;
      if (!absl::Base64Unescape(a->get<std::string>(), &decoded) ||
          decoded.find(':') == std::string::npos) {
        return InvalidArgument(
            fmt::format("credentials file {:?}: entry {:?} has a bad \"auth\"", p.string(), key));
      }
      size_t colon = decoded.find(':');
      return Credentials{decoded.substr(0, colon), decoded.substr(colon + 1)};
    }
    if (e->contains("username") && e->contains("password") && (*e)["username"].is_string() &&
        (*e)["password"].is_string()) {
      return Credentials{(*e)["username"].get<std::string>(), (*e)["password"].get<std::string>()};
    }
  }
  return std::nullopt;
}

// Credentials: the directory is the user's alone, the file too, and synced before it replaces
// the old one.
absl::Status WriteFileAtomically(const fs::path& p, const std::string& data) {
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  if (ec)
    return ErrnoError(ec.value(), fmt::format("create directory {:?}", p.parent_path().string()));
  ::chmod(p.parent_path().c_str(), 0700);
  return ReplaceFile(p, data, 0600, Durability::kSynced);
}

std::vector<std::string> KeysFor(const std::string& host) {
  if (host == "docker.io")
    return {"docker.io", "https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io"};
  return {host, "https://" + host, "http://" + host};
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read at start-up
  return v ? v : "";
}

}  // namespace

absl::StatusOr<std::vector<Challenge>> ParseChallenges(std::string_view header) {
  Scanner sc{header};
  std::vector<Challenge> out;
  auto bad = [&](std::string_view why) {
    return InvalidArgument(fmt::format("WWW-Authenticate {:?}: {}", header, why));
  };
  while (!sc.Done()) {
    if (sc.Eat(','))
      continue;
    std::string name = sc.Token();
    if (name.empty())
      return bad(fmt::format("unexpected character at {}", sc.i));
    size_t save = sc.i;
    if (sc.Eat('=')) {  // a parameter of the current challenge
      if (out.empty())
        return bad("parameter before any scheme");
      std::optional<std::string> v = sc.Value();
      if (!v)
        return bad("unterminated quoted string");
      out.back().params[Lower(name)] = *v;
      continue;
    }
    sc.i = save;
    out.push_back(Challenge{Lower(name), {}});
  }
  if (out.empty())
    return bad("no challenge");
  return out;
}

CredentialStore::CredentialStore(fs::path own, fs::path docker)
    : own_(std::move(own)), docker_(std::move(docker)) {}

CredentialStore CredentialStore::FromEnvironment() {
  fs::path home = Env("HOME");
  fs::path own = Env("BERTH_AUTH_FILE");
  if (own.empty()) {
    fs::path config = Env("XDG_CONFIG_HOME");
    if (config.empty())
      config = home / ".config";
    own = config / "berth" / "auth.json";
  }
  fs::path docker = Env("DOCKER_CONFIG");
  docker = docker.empty() ? home / ".docker" / "config.json" : docker / "config.json";
  return CredentialStore(own, docker);
}

absl::StatusOr<std::optional<Credentials>> CredentialStore::Get(const std::string& host) const {
  for (const fs::path& p : {own_, docker_}) {
    if (p.empty())
      continue;
    BERTH_ASSIGN_OR_RETURN(json file, ReadJsonFile(p));
    BERTH_ASSIGN_OR_RETURN(std::optional<Credentials> c, Lookup(file, p, KeysFor(host)));
    if (c)
      return c;
  }
  return std::nullopt;
}

absl::Status CredentialStore::Store(const std::string& host, const Credentials& c) const {
  BERTH_ASSIGN_OR_RETURN(json file, ReadJsonFile(own_));
  if (!file["auths"].is_object())
    file["auths"] = json::object();
  file["auths"][host] = {{"auth", absl::Base64Escape(c.username + ":" + c.password)}};
  return WriteFileAtomically(own_, file.dump(2) + "\n");
}

absl::Status CredentialStore::Erase(const std::string& host) const {
  BERTH_ASSIGN_OR_RETURN(json file, ReadJsonFile(own_));
  bool found = false;
  if (file.contains("auths") && file["auths"].is_object()) {
    for (const std::string& key : KeysFor(host)) found |= file["auths"].erase(key) > 0;
  }
  if (!found)
    return NotFoundError("login for registry", host);
  return WriteFileAtomically(own_, file.dump(2) + "\n");
}

}  // namespace berth::registry
