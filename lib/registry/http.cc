#include "lib/registry/http.h"

#include <curl/curl.h>

#include <cctype>
#include <memory>
#include <mutex>

#include "fmt/format.h"

#include "lib/base/status.h"

namespace berth::registry {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// host[:port] of a URL, for messages.
std::string HostOf(const std::string& url) {
  size_t start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  size_t end = url.find('/', start);
  return url.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

struct Transfer {
  const HttpRequest* req;
  HttpResponse* resp;
  absl::Status sink_status;
  long current_status = 0;
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.substr(0, 5) == "HTTP/") {  // a new response (after a redirect or 100-continue)
    t->resp->headers.clear();
    size_t sp = line.find(' ');
    t->current_status =
        sp == line.npos ? 0 : std::atol(std::string(line.substr(sp + 1, 3)).c_str());
    t->resp->status = t->current_status;
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    t->resp->headers.emplace(Lower(std::string(line.substr(0, colon))),
                             Trim(line.substr(colon + 1)));
  }
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view chunk(data, size * n);
  if (t->req->sink && t->current_status >= 200 && t->current_status < 300) {
    t->sink_status = t->req->sink(*t->resp, chunk);
    if (!t->sink_status.ok())
      return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  } else {
    t->resp->body.append(chunk);
  }
  return size * n;
}

absl::Status CurlError(CURLcode rc, const char* detail, const std::string& url) {
  std::string host = HostOf(url);
  std::string why = detail[0] != '\0' ? detail : curl_easy_strerror(rc);
  switch (rc) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ISSUER_ERROR:
      return FailedPrecondition(fmt::format(
          "{}: TLS failure: {} (give the registry's CA with --ca-file, or use --plain-http for a "
          "registry without TLS)",
          host, why));
    case CURLE_COULDNT_RESOLVE_HOST:
      return Unavailable(fmt::format("{}: cannot resolve host: {}", host, why));
    case CURLE_COULDNT_CONNECT:
      return Unavailable(fmt::format("{}: cannot connect: {}", host, why));
    case CURLE_OPERATION_TIMEDOUT:
      return absl::DeadlineExceededError(fmt::format("{}: timed out: {}", host, why));
    default:
      return Unavailable(fmt::format("{}: {}", host, why));
  }
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

std::string HttpResponse::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

Http::Http(HttpOptions o) : opts_(std::move(o)) {
  GlobalInit();
}

absl::StatusOr<HttpResponse> Http::Do(const HttpRequest& req) const {
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl)
    return Internal("curl_easy_init failed");
  CURL* c = curl.get();
  HttpResponse resp;
  Transfer t{&req, &resp, absl::OkStatus()};
  char errbuf[CURL_ERROR_SIZE] = {0};
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  curl_slist* list = curl_slist_append(nullptr, "Expect:");
  for (const std::string& h : req.headers) list = curl_slist_append(list, h.c_str());
  headers.reset(list);

  curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_USERAGENT, opts_.user_agent.c_str());
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, opts_.connect_timeout_s);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, opts_.stall_timeout_s);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  if (!opts_.ca_file.empty())
    curl_easy_setopt(c, CURLOPT_CAINFO, opts_.ca_file.c_str());
  if (!req.userpwd.empty()) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERPWD, req.userpwd.c_str());
  }
  if (req.method == "GET" || req.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    if (req.method == "HEAD")
      curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    if (req.method != "DELETE") {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    }
  }
  CURLcode rc = curl_easy_perform(c);
  if (!t.sink_status.ok())
    return t.sink_status;
  if (rc != CURLE_OK)
    return CurlError(rc, errbuf, req.url);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
  char* eff = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff != nullptr)
    resp.url = eff;
  return resp;
}

}  // namespace berth::registry
