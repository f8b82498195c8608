#include "lib/registry/client.h"

#include <algorithm>
#include <cctype>
#include <thread>

#include "absl/strings/escaping.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/registry/digest.h"

namespace berth::registry {

namespace {

using nlohmann::json;

std::string PercentEncode(std::string_view s) {
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += ch;
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

bool Transient(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s);
}

bool TransientHttp(long status) {
  return status == 429 || status >= 500;
}

bool Ok2xx(long status) {
  return status >= 200 && status < 300;
}

std::string StripParams(const std::string& content_type) {
  std::string t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
  return t;
}

std::string Scope(const Reference& r, bool push) {
  return fmt::format("repository:{}:{}", r.path, push ? "pull,push" : "pull");
}

void Backoff(std::chrono::milliseconds base, int attempt) {
  std::this_thread::sleep_for(base * (1 << std::min(attempt, 5)));
}

}  // namespace

absl::Status StatusFromResponse(const HttpResponse& r, std::string_view what) {
  std::string msg;
  try {
    json j = json::parse(r.body);
    if (j.is_object() && j["errors"].is_array() && !j["errors"].empty()) {
      const json& e = j["errors"][0];
      if (e.is_object() && e["message"].is_string())
        msg = e["message"].get<std::string>();
    }
  } catch (const json::exception&) {
  }
  std::string tail = msg.empty() ? "" : ": " + msg;
  switch (r.status) {
    case 401:
      return absl::UnauthenticatedError(fmt::format("{}: unauthorized{}", what, tail));
    case 403:
      return absl::PermissionDeniedError(fmt::format("{}: access denied{}", what, tail));
    case 404:
      return absl::NotFoundError(fmt::format("{}: not found{}", what, tail));
    case 429:
      return absl::UnavailableError(fmt::format("{}: too many requests{}", what, tail));
    default:
      break;
  }
  if (r.status >= 500)
    return absl::UnavailableError(
        fmt::format("{}: registry error (HTTP {}){}", what, r.status, tail));
  return absl::UnknownError(fmt::format("{}: unexpected HTTP status {}{}", what, r.status, tail));
}

Client::Client(ClientOptions o)
    : opts_(std::move(o)),
      http_(HttpOptions{.ca_file = opts_.ca_file, .user_agent = opts_.user_agent}) {}

std::string Client::BaseUrl(const std::string& domain) const {
  bool plain =
      std::find(opts_.plain_http.begin(), opts_.plain_http.end(), domain) != opts_.plain_http.end();
  std::string host = domain == "docker.io" ? "registry-1.docker.io" : domain;
  return fmt::format("{}://{}", plain ? "http" : "https", host);
}

std::string Client::RepoUrl(const Reference& repo) const {
  return fmt::format("{}/v2/{}", BaseUrl(repo.domain), repo.path);
}

absl::StatusOr<std::optional<Credentials>> Client::CredentialsFor(const Target& t) {
  if (t.creds != nullptr)
    return *t.creds;
  if (opts_.credentials_override)
    return opts_.credentials_override;
  if (!opts_.credentials)
    return std::nullopt;
  return opts_.credentials->Get(t.domain);
}

absl::StatusOr<std::string> Client::Authorize(const Target& t, const std::string& header) {
  BERTH_ASSIGN_OR_RETURN(std::vector<Challenge> challenges, ParseChallenges(header));
  BERTH_ASSIGN_OR_RETURN(std::optional<Credentials> creds, CredentialsFor(t));
  std::string hint = creds ? fmt::format(
                                 "the registry refused the credentials for {} (wrong username or "
                                 "password?)",
                                 t.domain)
                           : fmt::format("authentication required (run `bctr login {}`)", t.domain);
  for (const Challenge& c : challenges) {
    if (c.scheme != "bearer")
      continue;
    auto realm = c.params.find("realm");
    if (realm == c.params.end() || realm->second.empty())
      return absl::UnauthenticatedError(
          fmt::format("{}: bearer challenge without a realm", t.what));
    std::string url = realm->second;
    char sep = url.find('?') == std::string::npos ? '?' : '&';
    if (auto svc = c.params.find("service"); svc != c.params.end()) {
      url += fmt::format("{}service={}", sep, PercentEncode(svc->second));
      sep = '&';
    }
    if (!t.scope.empty())
      url += fmt::format("{}scope={}", sep, PercentEncode(t.scope));
    HttpRequest req{.url = url};
    if (creds)
      req.userpwd = creds->username + ":" + creds->password;
    BERTH_ASSIGN_OR_RETURN(HttpResponse resp, http_.Do(req));
    if (resp.status == 401 || resp.status == 403)
      return absl::UnauthenticatedError(fmt::format("{}: unauthorized: {}", t.what, hint));
    if (!Ok2xx(resp.status))
      return StatusFromResponse(resp, fmt::format("{}: token server {}", t.what, realm->second));
    try {
      json j = json::parse(resp.body);
      std::string token = j.value("token", std::string());
      if (token.empty())
        token = j.value("access_token", std::string());
      if (token.empty())
        return absl::UnauthenticatedError(
            fmt::format("{}: token server {} sent no token", t.what, realm->second));
      return "Bearer " + token;
    } catch (const json::exception& e) {
      return absl::UnauthenticatedError(
          fmt::format("{}: token server {}: bad JSON: {}", t.what, realm->second, e.what()));
    }
  }
  for (const Challenge& c : challenges) {
    if (c.scheme != "basic")
      continue;
    if (!creds)
      return absl::UnauthenticatedError(fmt::format("{}: unauthorized: {}", t.what, hint));
    return "Basic " + absl::Base64Escape(creds->username + ":" + creds->password);
  }
  return absl::UnauthenticatedError(
      fmt::format("{}: unsupported authentication scheme {:?}", t.what, challenges[0].scheme));
}

absl::StatusOr<HttpResponse> Client::Send(HttpRequest req, const Target& t) {
  const std::string key = t.domain + " " + t.scope;
  if (t.creds == nullptr) {
    absl::MutexLock l(&mu_);
    if (auto it = auth_.find(key); it != auth_.end())
      req.headers.push_back("Authorization: " + it->second);
  }
  BERTH_ASSIGN_OR_RETURN(HttpResponse resp, http_.Do(req));
  std::string challenge = resp.Header("www-authenticate");
  if (resp.status != 401 || challenge.empty())
    return resp;
  BERTH_ASSIGN_OR_RETURN(std::string authorization, Authorize(t, challenge));
  if (t.creds == nullptr) {
    absl::MutexLock l(&mu_);
    auth_[key] = authorization;
  }
  std::erase_if(req.headers, [](const std::string& h) { return h.starts_with("Authorization:"); });
  req.headers.push_back("Authorization: " + authorization);
  BERTH_ASSIGN_OR_RETURN(resp, http_.Do(req));
  if (resp.status == 401) {
    BERTH_ASSIGN_OR_RETURN(std::optional<Credentials> creds, CredentialsFor(t));
    return absl::UnauthenticatedError(fmt::format(
        "{}: unauthorized: {}", t.what,
        creds ? fmt::format("the registry refused the credentials for {} (wrong username or "
                            "password?)",
                            t.domain)
              : fmt::format("authentication required (run `bctr login {}`)", t.domain)));
  }
  return resp;
}

absl::StatusOr<HttpResponse> Client::SendRetrying(const HttpRequest& req, const Target& t) {
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<HttpResponse> resp = Send(req, t);
    bool again = resp.ok() ? TransientHttp(resp->status) : Transient(resp.status());
    if (!again || attempt >= opts_.retries)
      return resp;
    Backoff(opts_.retry_delay, attempt);
  }
}

absl::StatusOr<FetchedManifest> Client::GetManifest(const Reference& ref, std::string_view object) {
  std::string obj(object.empty() ? ref.Object() : object);
  bool by_digest = obj.find(':') != std::string::npos;
  Target t{ref.domain, Scope(ref, false), ref.Name() + (by_digest ? "@" : ":") + obj};
  HttpRequest req{.url = fmt::format("{}/manifests/{}", RepoUrl(ref), obj),
                  .headers = {"Accept: " + ManifestAccept()}};
  BERTH_ASSIGN_OR_RETURN(HttpResponse resp, SendRetrying(req, t));
  if (!Ok2xx(resp.status))
    return StatusFromResponse(resp, t.what);
  FetchedManifest m;
  m.desc.digest = Sha256Digest(resp.body);
  m.desc.size = static_cast<int64_t>(resp.body.size());
  if (by_digest && m.desc.digest != obj)
    return absl::DataLossError(
        fmt::format("{}: the registry sent a manifest with digest {}", t.what, m.desc.digest));
  m.desc.media_type = StripParams(resp.Header("content-type"));
  if (!IsIndex(m.desc.media_type) && !IsManifest(m.desc.media_type))
    m.desc.media_type = SniffMediaType(resp.body);
  if (!IsIndex(m.desc.media_type) && !IsManifest(m.desc.media_type))
    return absl::UnimplementedError(
        fmt::format("{}: unsupported manifest type {:?} (schema 1 manifests are not supported)",
                    t.what, m.desc.media_type));
  m.body = std::move(resp.body);
  return m;
}

absl::StatusOr<std::string> Client::GetBlob(const Reference& repo, const Descriptor& d) {
  Target t{repo.domain, Scope(repo, false), repo.Name() + "@" + d.digest};
  HttpRequest req{.url = fmt::format("{}/blobs/{}", RepoUrl(repo), d.digest)};
  BERTH_ASSIGN_OR_RETURN(HttpResponse resp, SendRetrying(req, t));
  if (!Ok2xx(resp.status))
    return StatusFromResponse(resp, t.what);
  if (static_cast<int64_t>(resp.body.size()) != d.size || Sha256Digest(resp.body) != d.digest)
    return absl::DataLossError(fmt::format("{}: the registry sent {} bytes with digest {}", t.what,
                                           resp.body.size(), Sha256Digest(resp.body)));
  return std::move(resp.body);
}

absl::StatusOr<bool> Client::BlobExists(const Reference& repo, const std::string& digest) {
  Target t{repo.domain, Scope(repo, true), repo.Name() + "@" + digest};
  HttpRequest req{.method = "HEAD", .url = fmt::format("{}/blobs/{}", RepoUrl(repo), digest)};
  BERTH_ASSIGN_OR_RETURN(HttpResponse resp, SendRetrying(req, t));
  if (resp.status == 404)
    return false;
  if (!Ok2xx(resp.status))
    return StatusFromResponse(resp, t.what);
  return true;
}

absl::Status Client::PutManifest(const Reference& ref, std::string_view media_type,
                                 std::string_view body) {
  Target t{ref.domain, Scope(ref, true), ref.String()};
  HttpRequest req{.method = "PUT",
                  .url = fmt::format("{}/manifests/{}", RepoUrl(ref), ref.Object()),
                  .headers = {fmt::format("Content-Type: {}", media_type)},
                  .body = std::string(body)};
  BERTH_ASSIGN_OR_RETURN(HttpResponse resp, SendRetrying(req, t));
  if (!Ok2xx(resp.status))
    return StatusFromResponse(resp, t.what);
  return absl::OkStatus();
}

absl::Status Client::CheckLogin(const std::string& host, const Credentials& c) {
  Target t{host, "", host, &c};
  HttpRequest req{.url = BaseUrl(host) + "/v2/"};
  BERTH_ASSIGN_OR_RETURN(HttpResponse resp, SendRetrying(req, t));
  if (!Ok2xx(resp.status))
    return StatusFromResponse(resp, host);
  return absl::OkStatus();
}

}  // namespace berth::registry
